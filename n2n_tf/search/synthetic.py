"""A synthetic search environment: the reward is a fixed function of the architecture.

No student is built or trained, so a whole two-stage search runs in seconds.
It has the interface ``Search`` uses (``spec``, ``teacher``, ``score``,
``cache``, ``trained``, ``fork``), and a known best architecture, which makes
it a test bench for the learning itself: does REINFORCE beat random search
with as many samples, and which learning rates, baseline and entropy bonus
help (``benchmarks/search_tuning.py``).

The model, seeded per instance, on the layers of a real teacher's
``graph.inspect``:

- every removable layer is *important* or not (about half are); removing an
  important layer multiplies the accuracy by ``removal_penalty``, removing
  another costs nothing;
- every shrinkable layer has a *safe factor* among the width factors below
  1.0; a factor ``f`` under the safe one ``t`` multiplies the accuracy by
  ``(f / t) ** 2``, one at or above it costs nothing;
- parameters: the teacher's, less each layer's parameters times
  ``1 - factor`` (0 for a removed layer);
- optional Gaussian noise on the accuracy (a real score is noisy).

The reward is the paper's, ``C (2 - C) * accuracy ratio``, so the best
architecture removes exactly the unimportant layers and shrinks every kept
layer to its safe factor (``best_architecture``): a smaller factor costs far
more accuracy than it saves in parameters, a larger one saves nothing.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from n2n_tf.search.environment import Parent, Score
from n2n_tf.search.reward import INVALID, reward
from n2n_tf.types import Architecture, ModelSpec


class SyntheticEnvironment:
    """Scores architectures of ``spec`` with a fixed, seeded function (no training).

    Args:
        spec: a teacher's structure (``graph.inspect``).
        factors: the width factors of the shrink policy.
        seed: picks the important layers and the safe factors.
        removal_penalty: the accuracy factor for removing an important layer.
        noise: standard deviation of Gaussian noise on the accuracy (0: none).
        teacher_accuracy: the teacher's accuracy.
    """

    def __init__(
        self,
        spec: ModelSpec,
        factors: Sequence[float],
        seed: int = 0,
        removal_penalty: float = 0.5,
        noise: float = 0.0,
        teacher_accuracy: float = 0.9,
    ):
        rng = np.random.default_rng(seed)
        self.spec, self.factors = spec, tuple(float(f) for f in factors)
        self.teacher_params, self.teacher_accuracy = spec.params, teacher_accuracy
        self.removal_penalty, self.noise = removal_penalty, noise
        self._noise_rng = np.random.default_rng(seed + 1)
        removable = [layer.name for layer in spec.layers if layer.removable]
        self.important = {name for name in removable if rng.random() < 0.5}
        if removable and len(self.important) == len(removable):
            self.important.discard(removable[0])  # something is worth removing
        below = [f for f in self.factors if f < 1.0]
        self.safe = {
            layer.name: float(rng.choice(below)) if below else 1.0
            for layer in spec.layers
            if layer.shrinkable
        }
        self._params = {layer.name: layer.params for layer in spec.layers}
        self.cache: dict[str, Score] = {}
        self.trained = 0

    @property
    def teacher_parent(self) -> Parent:
        return Parent(self.teacher_params, self.teacher_accuracy)

    def fork(self) -> SyntheticEnvironment:
        other = copy.copy(self)
        other.cache, other.trained = {}, 0
        other._noise_rng = np.random.default_rng(self._noise_rng.integers(2**31))
        return other

    def best_architecture(self) -> Architecture:
        """The architecture with the highest reward (without noise)."""
        removed = frozenset(self._removable() - self.important)
        factors = {name: f for name, f in self.safe.items() if name not in removed and f < 1.0}
        return Architecture(removed=removed, factors=factors)

    def _removable(self) -> set[str]:
        return {layer.name for layer in self.spec.layers if layer.removable}

    def params(self, arch: Architecture) -> int:
        saved = sum(
            self._params[name] * (1.0 if name in arch.removed else 1.0 - arch.factors.get(name, 1))
            for name in self._params
        )
        return int(round(self.teacher_params - saved))

    def accuracy(self, arch: Architecture) -> float:
        """The accuracy of ``arch`` without noise."""
        acc = self.teacher_accuracy
        acc *= self.removal_penalty ** len(self.important & set(arch.removed))
        for name, f in arch.factors.items():
            if name not in arch.removed and f < self.safe.get(name, 0.0):
                acc *= (f / self.safe[name]) ** 2
        return acc

    def reward(self, arch: Architecture) -> float:
        """The teacher-relative reward of ``arch`` without noise."""
        return reward(
            self.params(arch), self.teacher_params, self.accuracy(arch), self.teacher_accuracy
        )

    def score(
        self,
        archs: list[Architecture],
        update: int,
        seed: int,
        parent: Parent | None = None,
        screen_reward: bool = False,
    ) -> list[tuple[Score, bool]]:
        """As ``Environment.score``: cached by key, rewards against the teacher and ``parent``
        (every student counts as distilled: ``screen_reward`` changes nothing)."""
        parent = parent or self.teacher_parent
        out = []
        for arch in archs:
            key = arch.key()
            cached = key in self.cache
            if not cached:
                acc = self.accuracy(arch)
                if self.noise:
                    acc = float(np.clip(acc + self._noise_rng.normal(0, self.noise), 0, 1))
                params = self.params(arch)
                score = Score(key, params=params, val_accuracy=acc, valid=True)
                if params >= self.teacher_params:
                    score.valid, score.reason = False, "not smaller than the teacher"
                else:
                    score.reward = reward(params, self.teacher_params, acc, self.teacher_accuracy)
                    self.trained += 1
                self.cache[key] = score
            score = replace(self.cache[key])
            if not score.valid or score.params >= parent.params:
                score.valid = False
                score.policy_reward = score.rank_reward = INVALID
                if score.reason == "":
                    score.reason = "not smaller than its parent"
            else:
                score.policy_reward = score.rank_reward = reward(
                    score.params, parent.params, score.val_accuracy, parent.accuracy
                )
            out.append((score, cached))
        return out


__all__ = ["SyntheticEnvironment"]
