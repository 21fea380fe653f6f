"""One rule object per layer type, found through the layer class's MRO.

Built-in rules register themselves when their module is imported; users add
their own with ``register_rule`` (see ``base.Rule``).
"""

from n2n_tf.graph.rules.base import (
    DERIVED,
    FOLLOW,
    INPUT,
    INPUT_RULE,
    MERGE,
    OPAQUE,
    OWN,
    UNKNOWN,
    Rule,
    Step,
    UnknownRule,
    as_tuple,
    register_rule,
    rule_for,
    supported,
    unregister_rule,
)
from n2n_tf.graph.rules.channelwise import ChannelwiseRule
from n2n_tf.graph.rules.concat import ConcatRule
from n2n_tf.graph.rules.conv import ConvRule
from n2n_tf.graph.rules.dense import DenseRule
from n2n_tf.graph.rules.depthwise import DepthwiseRule
from n2n_tf.graph.rules.flatten import FlattenRule
from n2n_tf.graph.rules.merge import MergeRule
from n2n_tf.graph.rules.ops import ElementwiseOpRule
from n2n_tf.graph.rules.passthrough import PassRule
from n2n_tf.graph.rules.reshape import ReshapeRule
from n2n_tf.graph.rules.separable import SeparableRule

__all__ = [
    "DERIVED",
    "FOLLOW",
    "INPUT",
    "INPUT_RULE",
    "MERGE",
    "OPAQUE",
    "OWN",
    "UNKNOWN",
    "ChannelwiseRule",
    "ConcatRule",
    "ConvRule",
    "DenseRule",
    "DepthwiseRule",
    "ElementwiseOpRule",
    "FlattenRule",
    "MergeRule",
    "PassRule",
    "ReshapeRule",
    "Rule",
    "SeparableRule",
    "Step",
    "UnknownRule",
    "as_tuple",
    "register_rule",
    "rule_for",
    "supported",
    "unregister_rule",
]
