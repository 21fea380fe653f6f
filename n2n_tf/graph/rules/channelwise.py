"""``ChannelwiseRule``: per-channel weights over the last axis (BatchNormalization, PReLU, ...)."""

from __future__ import annotations

import keras

from n2n_tf.graph.channels import Desc, take
from n2n_tf.graph.rules.base import FOLLOW, Rule, Step, register_rule, trainable_count


def channel_axis(node) -> int | None:
    axis = node.config.get("axis", -1)
    if isinstance(axis, (list, tuple)):
        axis = axis[0] if len(axis) == 1 else None
    return -1 if axis in (-1, 3) else None


class ChannelwiseRule(Rule):
    """Every weight's last axis follows the input's channels; removed with its weight layer."""

    flow = FOLLOW
    attachable = True

    def fixed_reason(self, node) -> str | None:
        if channel_axis(node) is None:
            return f"{node.class_name} `{node.name}` works on axis {node.config.get('axis')}"
        return None

    def output_shape(self, step: Step, in_shape: tuple) -> tuple:
        return tuple(in_shape)  # element-wise per channel

    def params(self, step: Step, out: Desc) -> int:
        if not step.config.get("trainable", True):
            return 0
        teacher_c = (step.teacher_ins or step.ins)[0].channels
        return trainable_count(step.layer) // teacher_c * step.first.channels

    def slice_weight(self, node, leaf, array, s_in, t_in, s_out, t_out):
        return take(array, array.ndim - 1, s_in, t_in) if array.ndim else array


CHANNELWISE = ChannelwiseRule()
for _cls in (keras.layers.BatchNormalization, keras.layers.LayerNormalization, keras.layers.PReLU):
    register_rule(_cls, CHANNELWISE)
