"""``SeparableRule``: SeparableConv2D, a depthwise then a pointwise convolution."""

from __future__ import annotations

import math

import keras
import numpy as np

from n2n_tf.graph.channels import Desc, expand, take
from n2n_tf.graph.rules.base import OWN, Rule, Step, as_tuple, positions, register_rule


def _multiplier(node) -> int:
    return int(node.config.get("depth_multiplier", 1))


class SeparableRule(Rule):
    """Depthwise kernel ``(k, k, in, m)``; pointwise kernel ``(1, 1, in*m, filters)``,
    whose input channel ``c*m+j`` follows input channel ``c``."""

    flow = OWN
    kind = "separable"
    width_key = "filters"

    def output(self, step: Step) -> Desc:
        shape = self.output_shape(step, step.first.shape)[:-1] + (step.width,)
        return Desc(shape, ("g", step.group), step.kept)

    def _kernel(self, node) -> int:
        return int(math.prod(as_tuple(node.config.get("kernel_size", 1))))

    def params(self, step: Step, out: Desc) -> int:
        if not step.config.get("trainable", True):
            return 0
        c_in, c_out, m = step.first.channels, out.channels, _multiplier(step.node)
        bias = c_out if step.config.get("use_bias", True) else 0
        return self._kernel(step.node) * c_in * m + c_in * m * c_out + bias

    def flops(self, step: Step, out: Desc) -> int:
        c_in, c_out, m = step.first.channels, out.channels, _multiplier(step.node)
        return positions(out.shape) * (self._kernel(step.node) * c_in * m + c_in * m * c_out)

    def slice_weight(self, node, leaf, array, s_in, t_in, s_out, t_out):
        if leaf == "depthwise_kernel":
            return take(array, 2, s_in, t_in)
        if leaf == "pointwise_kernel":
            m = _multiplier(node)
            if s_in.key != t_in.key:
                return None
            inner_s = Desc(s_in.shape, s_in.key, expand(s_in.idx, m))
            inner_t = Desc(t_in.shape, t_in.key, expand(t_in.idx, m))
            array = take(array, 2, inner_s, inner_t)
            return None if array is None else take(array, 3, s_out, t_out)
        if leaf == "bias":
            return take(array, 0, s_out, t_out)
        return array

    def scores(self, node, weights):
        kernel = weights.get("pointwise_kernel")
        return None if kernel is None else np.abs(kernel).sum(axis=(0, 1, 2))


register_rule(keras.layers.SeparableConv2D, SeparableRule())
