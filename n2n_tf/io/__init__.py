"""Model files in and out."""

from n2n_tf.io.load import load_model

__all__ = ["load_model"]
