"""Models in and out: teachers from every Keras format, students to every deployable one."""

from n2n_tf.io.export import FORMATS, export, run_tflite, to_tflite
from n2n_tf.io.load import load_model, load_teacher, strip_softmax

__all__ = [
    "FORMATS",
    "export",
    "load_model",
    "load_teacher",
    "run_tflite",
    "strip_softmax",
    "to_tflite",
]
