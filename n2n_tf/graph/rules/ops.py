"""``ElementwiseOpRule``: Keras operations in a functional graph (``x + 3.0``, ``x * gate``)."""

from __future__ import annotations

from n2n_tf.graph.channels import Desc
from n2n_tf.graph.config_graph import call_constants
from n2n_tf.graph.rules.base import FOLLOW, MERGE, Step, register_rule
from n2n_tf.graph.rules.merge import MergeRule, broadcast

try:  # operations have no public classes; they appear in graphs such as MobileNetV3's
    from keras.src.ops import numpy as _numpy_ops
except ImportError:  # pragma: no cover - other Keras layouts
    _numpy_ops = None


class ElementwiseOpRule(MergeRule):
    """With one tensor and scalar constants the channels pass through; with several
    tensors it is a merge (their channels are tied)."""

    def flow_of(self, node) -> str:
        return FOLLOW if len(node.inputs) == 1 else MERGE

    def fixed_reason(self, node) -> str | None:
        if any(not isinstance(c, (int, float)) for c in call_constants(node)):
            return f"operation `{node.name}` ({node.class_name}) has a non-scalar constant"
        return None

    def input_reason(self, node) -> str | None:
        return self.fixed_reason(node)

    def output(self, step: Step) -> Desc:
        if len(step.ins) == 1:
            first = step.first
            return Desc(first.shape, first.key, first.idx)
        return super().output(step)

    def params(self, step: Step, out: Desc) -> int:
        return 0


if _numpy_ops is not None:
    _OP = ElementwiseOpRule()
    for _name in ("Add", "Subtract", "Multiply", "Divide", "TrueDivide", "Maximum", "Minimum"):
        _cls = getattr(_numpy_ops, _name, None)
        if isinstance(_cls, type):
            register_rule(_cls, _OP)

__all__ = ["ElementwiseOpRule", "broadcast"]
