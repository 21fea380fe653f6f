"""Keras functional-graph surgery: remove and narrow layers, inheriting weights.

Knows nothing of RL, data or training. Public entry points:
``inspect`` (every layer's structural facts: what may be removed/shrunk and why
not), ``rebuild`` (teacher + ``Architecture`` -> student), ``estimate``,
``count_params``, ``count_flops``, ``SurgeryError`` and ``register_rule``
(teach surgery a layer type of your own; see ``n2n_tf.graph.rules``).

Modules, one responsibility each: ``config_graph`` (a flat, name-keyed view of
a model's config), ``channels`` (a student tensor relative to the teacher),
``rules/`` (one rule object per layer type, found by MRO), ``structure``
(channel groups and why one may not shrink), ``removal`` (what Stage 1 may
remove and what goes with it), ``propagation`` (the cheap shape/channel pass of
an architecture), ``ranking`` (which channels a shrunk group keeps),
``inheritance`` (teacher weights sliced into the student), ``analysis`` (the
per-teacher cache), ``rebuild`` (architecture -> student) and ``inspect``
(structural facts of every layer).
"""

from n2n_tf.graph import rules
from n2n_tf.graph.analysis import analyse
from n2n_tf.graph.errors import SurgeryError
from n2n_tf.graph.inspect import count_flops, count_params, inspect
from n2n_tf.graph.rebuild import estimate, rebuild
from n2n_tf.graph.rules import Rule, register_rule, supported, unregister_rule

__all__ = [
    "Rule",
    "SurgeryError",
    "analyse",
    "count_flops",
    "count_params",
    "estimate",
    "inspect",
    "rebuild",
    "register_rule",
    "rules",
    "supported",
    "unregister_rule",
]
