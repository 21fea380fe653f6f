"""``ConvRule``: Conv1D/Conv2D, including grouped convolutions (``groups > 1``)."""

from __future__ import annotations

import math

import keras
import numpy as np

from n2n_tf.graph.channels import Desc, same_channels, take
from n2n_tf.graph.config_graph import Node
from n2n_tf.graph.errors import SurgeryError
from n2n_tf.graph.rules.base import OWN, Rule, Step, as_tuple, positions, register_rule


def _groups(node: Node) -> int:
    return int(node.config.get("groups", 1) or 1)


class ConvRule(Rule):
    """A convolution defines a new channel space of ``filters`` channels.

    A grouped convolution (``groups = g``) keeps equally many filters in each of
    its ``g`` groups, so its width stays a multiple of ``g``; its input channels
    may not change (the kernel's input axis holds one group's channels).
    """

    flow = OWN
    kind = "conv"
    width_key = "filters"

    def granularity(self, node: Node) -> int:
        return _groups(node)

    def fixed_reason(self, node: Node) -> str | None:
        g = _groups(node)
        if g > 1 and g >= int(node.config["filters"]):
            return f"grouped convolution with one filter per group (groups={g})"
        return None

    def input_reason(self, node: Node) -> str | None:
        g = _groups(node)
        return f"feeds grouped convolution `{node.name}` (groups={g})" if g > 1 else None

    def output(self, step: Step) -> Desc:
        first, g = step.first, _groups(step.node)
        if first.channels % g:
            raise SurgeryError(
                f"Grouped convolution `{step.name}` needs a multiple of {g} input channels, "
                f"not {first.channels}. Received: layer='{step.name}'"
            )
        shape = self.output_shape(step, first.shape)[:-1] + (step.width,)
        return Desc(shape, ("g", step.group), step.kept)

    def _kernel(self, node: Node) -> int:
        return int(math.prod(as_tuple(node.config.get("kernel_size", 1))))

    def params(self, step: Step, out: Desc) -> int:
        if not step.config.get("trainable", True):
            return 0
        c_in, c_out = step.first.channels, out.channels
        bias = c_out if step.config.get("use_bias", True) else 0
        return self._kernel(step.node) * (c_in // _groups(step.node)) * c_out + bias

    def flops(self, step: Step, out: Desc) -> int:
        c_in, c_out = step.first.channels, out.channels
        kernel = self._kernel(step.node)
        return positions(out.shape) * kernel * (c_in // _groups(step.node)) * c_out

    def axes(self, node, leaf, rank):
        if leaf == "kernel":
            return (rank - 2, rank - 1)
        if leaf == "bias":
            return (None, 0)
        return (None, None)

    def slice_weight(self, node, leaf, array, s_in, t_in, s_out, t_out):
        if leaf == "kernel" and _groups(node) > 1:
            # The input axis holds one group's channels: only an unchanged input fits.
            if not same_channels(s_in, t_in):
                return None
            return take(array, array.ndim - 1, s_out, t_out)
        return super().slice_weight(node, leaf, array, s_in, t_in, s_out, t_out)

    def scores(self, node, weights):
        kernel = weights.get("kernel")
        if kernel is None:
            return None
        return np.abs(kernel).sum(axis=tuple(range(kernel.ndim - 1)))


CONV = ConvRule()
register_rule(keras.layers.Conv1D, CONV)
register_rule(keras.layers.Conv2D, CONV)
