"""``FlattenRule``: Flatten, whose output unit ``p*C + c`` follows input channel ``c``."""

from __future__ import annotations

import math

import keras
import numpy as np

from n2n_tf.graph.channels import Desc
from n2n_tf.graph.rules.base import DERIVED, Rule, Step, register_rule


class FlattenRule(Rule):
    flow = DERIVED

    def output(self, step: Step) -> Desc:
        first = step.first
        size = int(math.prod(first.shape))
        if step.teacher_ins is None:
            return Desc((size,), ("g", step.group), np.arange(size))
        t_in = step.teacher_ins[0]
        if first.key == t_in.key and first.shape[:-1] == t_in.shape[:-1]:
            spatial = int(math.prod(first.shape[:-1]))
            idx = (np.arange(spatial)[:, None] * t_in.channels + first.idx[None, :]).reshape(-1)
            return Desc((size,), ("g", step.group), idx)
        return Desc((size,), ("fresh", step.name), np.arange(size))


register_rule(keras.layers.Flatten, FlattenRule())
