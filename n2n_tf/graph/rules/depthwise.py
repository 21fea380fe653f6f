"""``DepthwiseRule``: DepthwiseConv2D; output channel ``c*m+j`` follows input channel ``c``."""

from __future__ import annotations

import math

import keras

from n2n_tf.graph.channels import Desc, expand, take
from n2n_tf.graph.rules.base import DERIVED, FOLLOW, Rule, Step, as_tuple, positions, register_rule


def _multiplier(node) -> int:
    return int(node.config.get("depth_multiplier", 1))


class DepthwiseRule(Rule):
    """Kernel ``(k, k, in, m)`` sliced on its input axis; bias ``(in*m,)`` on the output's.

    With ``m = 1`` the output is the input's channel space; otherwise it is a
    space derived from it (shrinking the input shrinks the output ``m`` times as much).
    """

    kind = "depthwise"

    def flow_of(self, node) -> str:
        return FOLLOW if _multiplier(node) == 1 else DERIVED

    def output(self, step: Step) -> Desc:
        first, m = step.first, _multiplier(step.node)
        shape = self.output_shape(step, first.shape)[:-1] + (first.channels * m,)
        if m == 1:
            return Desc(shape, first.key, first.idx)
        return Desc(shape, ("x", m, first.key), expand(first.idx, m))

    def _kernel(self, node) -> int:
        return int(math.prod(as_tuple(node.config.get("kernel_size", 1))))

    def params(self, step: Step, out: Desc) -> int:
        if not step.config.get("trainable", True):
            return 0
        bias = out.channels if step.config.get("use_bias", True) else 0
        return self._kernel(step.node) * out.channels + bias

    def flops(self, step: Step, out: Desc) -> int:
        return positions(out.shape) * self._kernel(step.node) * out.channels

    def slice_weight(self, node, leaf, array, s_in, t_in, s_out, t_out):
        if leaf == "kernel":
            return take(array, 2, s_in, t_in)
        if leaf == "bias":
            return take(array, 0, s_out, t_out)
        return array


register_rule(keras.layers.DepthwiseConv2D, DepthwiseRule())
