"""``DenseRule``: a fully connected layer defines a new channel space of ``units``."""

from __future__ import annotations

import keras
import numpy as np

from n2n_tf.graph.channels import Desc
from n2n_tf.graph.rules.base import OWN, Rule, Step, positions, register_rule


class DenseRule(Rule):
    flow = OWN
    kind = "dense"
    width_key = "units"

    def output(self, step: Step) -> Desc:
        return Desc(step.first.shape[:-1] + (step.width,), ("g", step.group), step.kept)

    def params(self, step: Step, out: Desc) -> int:
        if not step.config.get("trainable", True):
            return 0
        bias = out.channels if step.config.get("use_bias", True) else 0
        return step.first.channels * out.channels + bias

    def flops(self, step: Step, out: Desc) -> int:
        return positions(out.shape) * step.first.channels * out.channels

    def axes(self, node, leaf, rank):
        return {"kernel": (0, 1), "bias": (None, 0)}.get(leaf, (None, None))

    def scores(self, node, weights):
        kernel = weights.get("kernel")
        return None if kernel is None else np.abs(kernel).sum(axis=0)


register_rule(keras.layers.Dense, DenseRule())
