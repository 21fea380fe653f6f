"""``ReshapeRule``: a Reshape that keeps channels last (``(C,) -> (1, 1, C)``) passes them on."""

from __future__ import annotations

import math

import keras

from n2n_tf.graph.channels import Desc
from n2n_tf.graph.config_graph import input_shapes
from n2n_tf.graph.errors import SurgeryError
from n2n_tf.graph.rules.base import FOLLOW, OPAQUE, Step, UnknownRule, register_rule


def _keeps_channels(node) -> bool:
    target = list(node.config.get("target_shape") or [])
    shapes = input_shapes(node)
    if not target or not shapes or not shapes[0] or -1 in target:
        return False
    return shapes[0][-1] is not None and target[-1] == shapes[0][-1]


class ReshapeRule(UnknownRule):
    """Channel-preserving reshapes follow their input (``target_shape[-1]`` is rewritten);
    any other Reshape is kept as is and its input may not change."""

    def flow_of(self, node) -> str:
        return FOLLOW if _keeps_channels(node) else OPAQUE

    def fixed_reason(self, node) -> str | None:
        return None if _keeps_channels(node) else f"Reshape `{node.name}` moves the channel axis"

    def input_reason(self, node) -> str | None:
        return None if _keeps_channels(node) else f"feeds Reshape `{node.name}`"

    def output(self, step: Step) -> Desc:
        if not _keeps_channels(step.node):
            return super().output(step)
        first = step.first
        target = tuple(step.config["target_shape"][:-1])
        if math.prod(target) != math.prod(d for d in first.shape[:-1] if d is not None):
            raise SurgeryError(
                f"Reshape `{step.name}` cannot turn {first.shape} into {(*target, '...')}. "
                f"Received: layer='{step.name}'"
            )
        return Desc((*target, first.channels), first.key, first.idx)

    def params(self, step: Step, out: Desc) -> int:
        return 0

    def configure(self, config: dict, ins, out: Desc) -> None:
        if config.get("target_shape"):
            config["target_shape"] = [*list(config["target_shape"])[:-1], int(out.shape[-1])]


register_rule(keras.layers.Reshape, ReshapeRule())
