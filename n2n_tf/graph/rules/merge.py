"""``MergeRule``: element-wise merges (Add, Multiply, ...), broadcast squeeze-excite gates too."""

from __future__ import annotations

import keras

from n2n_tf.graph.channels import Desc
from n2n_tf.graph.errors import SurgeryError
from n2n_tf.graph.rules.base import MERGE, Rule, Step, register_rule


def broadcast(name: str, shapes: list[tuple]) -> tuple:
    """The broadcast of equal-rank shapes (a dimension of 1 stretches), or ``SurgeryError``."""
    if len({len(s) for s in shapes}) != 1:
        raise SurgeryError(
            f"Inputs of `{name}` would have different ranks {sorted(map(str, shapes))}. "
            f"Received: layer='{name}'"
        )
    out = []
    for dims in zip(*shapes, strict=True):
        sizes = {d for d in dims if d != 1}
        if len(sizes) > 1:
            raise SurgeryError(
                f"Inputs of `{name}` would have different shapes {sorted(map(str, shapes))}. "
                f"Received: layer='{name}'"
            )
        out.append(sizes.pop() if sizes else 1)
    return tuple(out)


class MergeRule(Rule):
    """The inputs' channels are tied (one group); a gate of shape ``(1, 1, C)`` scales a
    feature map ``(H, W, C)`` channel by channel, so the gate's channels follow the map's."""

    flow = MERGE

    def collapsible(self, node) -> bool:
        return len(node.inputs) > 1

    def output(self, step: Step) -> Desc:
        shape = broadcast(step.name, [d.shape for d in step.ins])
        carrier = next((d for d in step.ins if d.shape == shape), step.first)
        return Desc(shape, carrier.key, carrier.idx)


MERGE_RULE = MergeRule()
L = keras.layers
for _cls in (L.Add, L.Subtract, L.Multiply, L.Average, L.Maximum, L.Minimum):
    register_rule(_cls, MERGE_RULE)
