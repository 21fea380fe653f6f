"""``ConcatRule``: Concatenate on the channel axis; its channels are its inputs' side by side."""

from __future__ import annotations

import keras
import numpy as np

from n2n_tf.graph.channels import Desc
from n2n_tf.graph.config_graph import input_shapes
from n2n_tf.graph.errors import SurgeryError
from n2n_tf.graph.rules.base import DERIVED, OPAQUE, Rule, Step, UnknownRule, register_rule


def _on_channels(node) -> bool:
    axis = node.config.get("axis", -1)
    shapes = input_shapes(node)
    rank = len(shapes[0]) if shapes and shapes[0] else None  # without the batch axis
    return axis == -1 or (rank is not None and axis == rank)


class ConcatRule(Rule):
    """Shrinking an input removes its channels from the output (a derived space)."""

    _opaque = UnknownRule()

    def flow_of(self, node) -> str:
        return DERIVED if _on_channels(node) else OPAQUE

    def collapsible(self, node) -> bool:
        return _on_channels(node) and len(node.inputs) > 1

    def fixed_reason(self, node) -> str | None:
        return None if _on_channels(node) else f"`{node.name}` concatenates a non-channel axis"

    def input_reason(self, node) -> str | None:
        return None if _on_channels(node) else f"feeds `{node.name}` (non-channel Concatenate)"

    def output(self, step: Step) -> Desc:
        if not _on_channels(step.node):
            return self._opaque.output(step)
        base = [d.shape[:-1] for d in step.ins]
        if len(set(base)) != 1:
            raise SurgeryError(
                f"Inputs of `{step.name}` would not line up for concatenation: {base}. "
                f"Received: layer='{step.name}'"
            )
        channels = sum(d.channels for d in step.ins)
        shape = (*base[0], channels)
        if step.teacher_ins is None:
            return Desc(shape, ("g", step.group), np.arange(channels))
        whole = len(step.ins) == len(step.teacher_ins)  # no input dropped by a removal
        if whole and all(a.key == b.key for a, b in zip(step.ins, step.teacher_ins, strict=True)):
            offsets = np.cumsum([0] + [t.channels for t in step.teacher_ins])[:-1]
            idx = np.concatenate([d.idx + o for d, o in zip(step.ins, offsets, strict=True)])
            return Desc(shape, ("g", step.group), idx)
        return Desc(shape, ("fresh", step.name), np.arange(channels))


register_rule(keras.layers.Concatenate, ConcatRule())
