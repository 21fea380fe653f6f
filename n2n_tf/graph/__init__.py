"""Keras functional-graph surgery: remove and narrow layers, inheriting weights.

Knows nothing of RL, data or training. Public entry points:
``inspect`` (what may be removed/shrunk, with policy features),
``rebuild`` (teacher + ``Architecture`` -> student), ``count_params``,
``count_flops`` and ``SurgeryError``.
"""

from n2n_tf.graph.errors import SurgeryError
from n2n_tf.graph.inspect import count_flops, count_params, inspect
from n2n_tf.graph.rebuild import analyse, estimate, rebuild
from n2n_tf.graph.rules import supported

__all__ = [
    "SurgeryError",
    "analyse",
    "count_flops",
    "count_params",
    "estimate",
    "inspect",
    "rebuild",
    "supported",
]
