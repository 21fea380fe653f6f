"""n2n-tf: N2N learning for Keras 3 (Ashok et al., ICLR 2018).

Compress a trained Keras classifier (the teacher) into a much smaller student
found by reinforcement learning. Heavy modules are imported lazily so that
``import n2n_tf`` and ``n2n-tf --help`` stay fast.
"""

from __future__ import annotations

from n2n_tf.lazy import lazy_getattr

__version__ = "0.1.0"

_LAZY = {
    "load_config": "n2n_tf.config",
    "Config": "n2n_tf.config",
    "load_dataset": ("n2n_tf.data", "load"),
    "DatasetInfo": "n2n_tf.data",
    "build_model": ("n2n_tf.models", "build"),
    "train_teacher": "n2n_tf.jobs.train_teacher",
    "Architecture": "n2n_tf.types",
    "inspect": ("n2n_tf.jobs.inspect", "inspect_teacher"),
    "rebuild": ("n2n_tf.graph", "rebuild"),
    "SurgeryError": ("n2n_tf.graph", "SurgeryError"),
    "Trainer": ("n2n_tf.distill", "Trainer"),
    "load_model": ("n2n_tf.io", "load_model"),
    "load_teacher": ("n2n_tf.io", "load_teacher"),
    "compress": ("n2n_tf.jobs.compress", "compress"),
    "CompressionResult": ("n2n_tf.jobs.compress", "CompressionResult"),
}

__all__ = ["__version__", *_LAZY]


__getattr__ = lazy_getattr("n2n_tf", _LAZY)
