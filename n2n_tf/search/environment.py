"""The search environment: architecture -> student -> short distillation -> reward.

The only module that imports both ``graph`` and ``distill``. Scored
architectures are cached by ``Architecture.key()`` and never trained twice.
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass

import keras

from n2n_tf import graph
from n2n_tf.config import Config
from n2n_tf.data import Datasets
from n2n_tf.distill import Trainer
from n2n_tf.search.reward import INVALID, Constraints, reward
from n2n_tf.types import Architecture

logger = logging.getLogger(__name__)


@dataclass
class Score:
    """What one scored architecture got."""

    key: str
    params: int = 0
    flops: int = 0
    val_accuracy: float = 0.0
    reward: float = INVALID
    valid: bool = False
    violated: tuple[str, ...] = ()
    reason: str = ""

    def to_dict(self) -> dict:
        d = asdict(self)
        d["violated"] = list(self.violated)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Score:
        return cls(**{**d, "violated": tuple(d.get("violated", ()))})


class Environment:
    """Scores architectures of one teacher on one dataset.

    Args:
        teacher: the teacher (logits).
        data: dataset splits (``train`` for distillation, ``val`` for scoring).
        config: the resolved config (``distill``, ``search``, ``runtime``).
    """

    def __init__(self, teacher: keras.Model, data: Datasets, config: Config):
        self.teacher, self.data, self.config = teacher, data, config
        s = config.search
        self.options = {"round_to": s.round_to}
        self.spec = graph.inspect(teacher, **self.options)
        self.trainer = Trainer(teacher, config.distill, config.runtime)
        (self.teacher_accuracy,) = self.trainer.evaluate([teacher], data.val)
        self.teacher_params = self.spec.params
        self.constraints = Constraints(
            s.max_params, s.max_flops, s.min_accuracy, s.max_tflite_bytes
        )
        self.cache: dict[str, Score] = {}
        self.trained = 0  # students actually trained (cache misses)

    def build(self, arch: Architecture) -> keras.Model:
        return graph.rebuild(self.teacher, arch, inherit=self.config.search.inherit, **self.options)

    def score(self, archs: list[Architecture], update: int, seed: int) -> list[tuple[Score, bool]]:
        """Scores architectures; returns ``(score, was_cached)`` for each, in order.

        Invalid architectures (rejected by surgery or not smaller than the
        teacher) and students whose loss turned NaN get reward -1.
        """
        known = set(self.cache)
        fresh: dict[str, tuple[Architecture, Score]] = {}
        for arch in archs:
            key = arch.key()
            if key in self.cache or key in fresh:
                continue
            score = Score(key)
            try:
                score.params, score.flops = graph.estimate(self.teacher, arch, **self.options)
            except graph.SurgeryError as err:
                score.reason = str(err)
                self.cache[key] = score
                continue
            if score.params >= self.teacher_params:
                score.reason = "not smaller than the teacher"
                self.cache[key] = score
                continue
            fresh[key] = (arch, score)
        if fresh:
            keras.utils.set_random_seed(seed)
            students = [self.build(arch) for arch, _ in fresh.values()]
            results = self.trainer.fit(students, self.data, seed=seed)
            self.trained += len(students)
            for (_, score), student, result in zip(fresh.values(), students, results, strict=True):
                if result.failed:
                    score.reason = result.reason
                else:
                    self._finish(score, result.val_accuracy, update, student)
                self.cache[score.key] = score
        seen: set[str] = set()
        out = []
        for arch in archs:
            key = arch.key()
            score = self.cache[key]
            if score.valid and score.violated:  # the penalty anneals with the update
                score = Score(**{**score.__dict__})
                score.reward = reward(
                    score.params,
                    self.teacher_params,
                    score.val_accuracy,
                    self.teacher_accuracy,
                    violated=True,
                    update=update,
                )
            out.append((score, key in known or key in seen))
            seen.add(key)
        return out

    def _finish(self, score: Score, accuracy: float, update: int, student: keras.Model) -> None:
        all_params = int(sum(math.prod(w.shape) for w in student.weights))
        score.val_accuracy = float(accuracy)
        score.violated = tuple(
            self.constraints.violated(score.params, score.flops, accuracy, all_params)
        )
        score.valid = True
        score.reward = reward(
            score.params,
            self.teacher_params,
            accuracy,
            self.teacher_accuracy,
            violated=bool(score.violated),
            update=update,
        )
