"""The stages of the search, and the registry the config's ``search.stages`` names.

A stage is an object: it makes its policy (an LSTM policy, or a
``RandomPolicy`` for random search) and that policy's optimiser, says how many
updates it runs, which layers its policy reads and may change, and how an
action becomes an ``Architecture`` of the stage's parent (the best architecture
of the stage before it; the teacher for the first). The loop
(``search.loop.Search``) runs the configured list and never branches on a
stage's name. Adding a stage is one class plus ``register_stage``.

The paper's stages (the default ``search.stages``): ``removal`` (Stage 1,
keep/remove per layer) and ``shrink`` (Stage 2, a width factor per kept layer).
Others: ``joint`` (remove-or-a-factor per layer), ``ratio`` (one factor for every
layer: uniform-ratio pruning, its ratio searched) and ``offsets`` (a multiplier per
layer on the parent's widths; after ``ratio``, a uniform ratio redistributed).
"""

from __future__ import annotations

import keras
import numpy as np

from n2n_tf.config import Config
from n2n_tf.search.policies import RandomPolicy, RemovalPolicy, ShrinkPolicy
from n2n_tf.search.target import MIN_FACTOR
from n2n_tf.types import Architecture, LayerSpec


def width_prior(choices, mass: float, center: float = 0.5):
    """Initial probabilities of a width policy's choices: ``mass`` on the choice nearest
    ``center``, the rest shared evenly (None when ``mass`` is 0: the head's zero bias,
    uniform). N2N's reference code starts with 45% on 0.5 (its factor list repeats it)."""
    if not mass or len(choices) < 2:
        return None
    middle = min(range(len(choices)), key=lambda i: abs(choices[i] - center))
    rest = (1.0 - mass) / (len(choices) - 1)
    return [mass if i == middle else rest for i in range(len(choices))]


class Stage:
    """One stage of the search: its policy, optimiser, updates, and how an action
    becomes an ``Architecture`` of the stage's parent.

    Args:
        config: the run's config (a stage reads its own settings from it).
        random: random search: the stage's policy is a ``RandomPolicy``.
        policy: a policy object to train instead of a new one (reused across
            searches to reuse its traced functions).
        updates: the updates to run (a budget's plan; default: ``planned_updates``).

    Class attributes (what a budget plans with, ``search.budget``): ``mac_share``,
    the share of the teacher's multiply-adds a student of this stage has, and
    ``time_share``, the weight of this stage in the search's time (the stages'
    weights are normalised). ``against_teacher``: the stage's students are rewarded
    against the teacher (the paper's reward of the whole compression), not against
    the parent, and need not be smaller than it (a stage that moves width around).
    """

    name = ""
    mac_share = 0.5
    time_share = 1.0
    against_teacher = False  # True: students are rewarded against the teacher, not the parent

    def __init__(self, config: Config, random: bool = False, policy=None, updates=None):
        self.config, self.random = config, random
        self.policy = policy if policy is not None else self.make_policy(config, random)
        self.optimizer = None
        self.updates = int(self.planned_updates(config) if updates is None else updates)

    # -- what a new stage defines
    def make_policy(self, config: Config, random: bool):
        """A new policy for this stage (a ``RandomPolicy`` when ``random``)."""
        raise NotImplementedError

    def learning_rate(self, config: Config) -> float:
        """The Adam learning rate of the stage's policy."""
        raise NotImplementedError

    @classmethod
    def planned_updates(cls, config: Config) -> int:
        """REINFORCE updates the stage runs without a plan (``search.<name>_updates``)."""
        return int(getattr(config.search, f"{cls.name}_updates"))

    def layers(self, layers: list[LayerSpec], parent: Architecture):
        """The layers the policy reads and which of them it may change."""
        raise NotImplementedError

    def architecture(self, layers, action, parent: Architecture) -> Architecture:
        """The student an action describes, built on the stage's parent."""
        raise NotImplementedError

    # -- shared
    @property
    def trainable(self) -> bool:
        """Whether the policy has weights (an LSTM policy, not random search)."""
        return not isinstance(self.policy, RandomPolicy)

    def build(self) -> None:
        """Builds the policy's weights (once)."""
        self.policy.build_once()

    def make_optimizer(self) -> None:
        """The Adam optimiser of a trainable policy, built on its variables (after any
        weights were loaded into the policy)."""
        if self.trainable:
            self.optimizer = keras.optimizers.Adam(self.learning_rate(self.config))
            self.optimizer.build(self.policy.trainable_variables)


class RemovalStage(Stage):
    """Stage 1: keep (1) / remove (0) per layer of the teacher."""

    name = "removal"
    mac_share = 0.7  # full widths, a few layers removed
    time_share = 0.4

    def make_policy(self, config, random):
        s = config.search
        return (
            RandomPolicy.removal()
            if random
            else RemovalPolicy(s.hidden, s.layers, s.init_keep_logit)
        )

    def learning_rate(self, config):
        return config.search.removal_lr

    def layers(self, layers, parent):
        return list(layers), [layer.removable for layer in layers]

    def architecture(self, layers, action, parent):
        removed = frozenset(layer.name for layer, a in zip(layers, action, strict=True) if a < 0.5)
        return Architecture(removed=parent.removed | removed)


class ShrinkStage(Stage):
    """Stage 2: a width factor (an index into ``search.factors``) per layer the parent kept."""

    name = "shrink"
    mac_share = 0.35  # narrowed
    time_share = 0.6

    def __init__(self, config: Config, random: bool = False, policy=None, updates=None):
        self.factors = tuple(config.search.factors)
        super().__init__(config, random, policy, updates)

    def make_policy(self, config, random):
        s = config.search
        if random:
            return RandomPolicy.shrink(s.factors)
        return ShrinkPolicy(s.factors, s.hidden, s.layers, width_prior(s.factors, s.width_prior))

    def learning_rate(self, config):
        return config.search.shrink_lr

    def layers(self, layers, parent):
        kept = [layer for layer in layers if layer.name not in parent.removed]
        return kept, [layer.shrinkable for layer in kept]

    def architecture(self, layers, action, parent):
        chosen = {
            layer.name: self.factors[int(a)]
            for layer, a in zip(layers, action, strict=True)
            if layer.shrinkable and self.factors[int(a)] < 1.0
        }
        return Architecture(removed=parent.removed, factors=chosen)


class JointStage(Stage):
    """Remove-or-a-factor per layer in one action (``search.stages=[joint]``): a layer
    either goes, or stays at one of ``search.factors``, so the policy is judged by the
    student it makes rather than by an intermediate architecture.

    The policy is the autoregressive ``ShrinkPolicy`` over one more choice, index 0
    ("remove"). A layer that may not be removed reads index 0 as the narrowest factor;
    one that may not be narrowed reads any other index as full width.
    """

    name = "joint"
    mac_share = 0.35
    time_share = 1.0
    REMOVE = 1e-3  # the marker of index 0 among the policy's choices (never a width)

    def __init__(self, config: Config, random: bool = False, policy=None, updates=None):
        self.factors = tuple(config.search.factors)
        super().__init__(config, random, policy, updates)

    def make_policy(self, config, random):
        s = config.search
        choices = (self.REMOVE, *s.factors)
        if random:
            return RandomPolicy.shrink(choices)
        prior = width_prior(choices, s.width_prior)
        return ShrinkPolicy(choices, s.hidden, s.layers, prior)

    def learning_rate(self, config):
        return config.search.shrink_lr

    @classmethod
    def planned_updates(cls, config):
        s = config.search
        return int(s.removal_updates + s.shrink_updates)  # the two stages' updates, in one

    def layers(self, layers, parent):
        kept = [layer for layer in layers if layer.name not in parent.removed]
        return kept, [layer.removable or layer.shrinkable for layer in kept]

    def architecture(self, layers, action, parent):
        removed, factors = set(parent.removed), {}
        narrowest = min(self.factors)
        for layer, a in zip(layers, action, strict=True):
            index = int(a)
            if index == 0 and layer.removable:
                removed.add(layer.name)
                continue
            factor = narrowest if index == 0 else self.factors[index - 1]
            if layer.shrinkable and factor < 1.0:
                factors[layer.name] = factor
        return Architecture(removed=frozenset(removed), factors=factors)


class RatioStage(ShrinkStage):
    """One width factor (of ``search.factors``) for every layer the parent kept: L1-norm
    uniform-ratio pruning with its ratio searched (``search.stages=[ratio, offsets]``).
    The shrink stage's policy, of which one step is free.

    The policy reads every kept layer but only its first shrinkable one is free; that
    layer's action is the common factor. It runs ``search.removal_updates`` (it takes
    Stage 1's place), usually few: it is a choice among ``len(search.factors)``.
    """

    name = "ratio"
    mac_share = 0.3
    time_share = 0.3

    @classmethod
    def planned_updates(cls, config):
        return int(config.search.removal_updates)

    def layers(self, layers, parent):
        kept = [layer for layer in layers if layer.name not in parent.removed]
        first = next((i for i, layer in enumerate(kept) if layer.shrinkable), None)
        return kept, [i == first for i in range(len(kept))]

    def architecture(self, layers, action, parent):
        first = next((i for i, layer in enumerate(layers) if layer.shrinkable), None)
        factor = 1.0 if first is None else self.factors[int(action[first])]
        chosen = {layer.name: factor for layer in layers if layer.shrinkable and factor < 1.0}
        return Architecture(removed=parent.removed, factors=chosen)


class OffsetsStage(Stage):
    """A multiplier (of ``search.offsets``) per kept layer on the parent's widths: the
    parent's shape (a uniform ratio, after ``ratio``) redistributed layer by layer.

    Offsets are relative, so the search starts at its parent: the policy's initial
    probability on the multiplier 1.0 is ``search.offset_prior``. A layer ends at its
    parent's factor times its multiplier, within ``[target.MIN_FACTOR, 1]``. It runs
    ``search.shrink_updates`` (Stage 2's place). Its students are rewarded against the
    teacher: measured against the parent, a student of the parent's size would earn
    almost nothing (C near 0) and a larger one would be invalid, so the stage would
    only learn to shrink.
    """

    name = "offsets"
    mac_share = 0.3
    time_share = 0.7
    against_teacher = True  # a redistribution: judged as a whole student, not a shrink

    def __init__(self, config: Config, random: bool = False, policy=None, updates=None):
        self.offsets = tuple(float(m) for m in config.search.offsets)
        if not self.offsets or min(self.offsets) <= 0 or 1.0 not in self.offsets:
            raise ValueError(
                "search.offsets are positive width multipliers, 1.0 among them. "
                f"Received: offsets={list(config.search.offsets)}"
            )
        self.same = self.offsets.index(1.0)
        super().__init__(config, random, policy, updates)

    def make_policy(self, config, random):
        s = config.search
        if random:
            return RandomPolicy(len(self.offsets), self.same, np.int32)
        prior = width_prior(self.offsets, s.offset_prior, center=1.0)
        return ShrinkPolicy(self.offsets, s.hidden, s.layers, prior, fixed=self.same)

    def learning_rate(self, config):
        return config.search.shrink_lr

    @classmethod
    def planned_updates(cls, config):
        return int(config.search.shrink_updates)

    def layers(self, layers, parent):
        kept = [layer for layer in layers if layer.name not in parent.removed]
        return kept, [layer.shrinkable for layer in kept]

    def architecture(self, layers, action, parent):
        chosen = {}
        for layer, a in zip(layers, action, strict=True):
            if not layer.shrinkable:
                continue
            factor = parent.factors.get(layer.name, 1.0) * self.offsets[int(a)]
            factor = round(min(1.0, max(MIN_FACTOR, factor)), 4)
            if factor < 1.0:
                chosen[layer.name] = factor
        return Architecture(removed=parent.removed, factors=chosen)


STAGE_TYPES: dict[str, type[Stage]] = {}
"""Stage classes by the name ``search.stages`` uses."""


def register_stage(cls: type[Stage]) -> type[Stage]:
    """Makes a ``Stage`` subclass available to ``search.stages`` by its ``name``
    (usable as a class decorator)."""
    if not (isinstance(cls, type) and issubclass(cls, Stage)) or not cls.name:
        raise ValueError(f"register_stage needs a Stage subclass with a name. Received: {cls!r}")
    STAGE_TYPES[cls.name] = cls
    return cls


register_stage(RemovalStage)
register_stage(ShrinkStage)
register_stage(JointStage)
register_stage(RatioStage)
register_stage(OffsetsStage)


def stage_names(config: Config) -> tuple[str, ...]:
    """The run's stages, checked against the registry.

    Raises:
        ValueError: an empty list, a repeated name or an unregistered one.
    """
    names = tuple(config.search.stages)
    unknown = [n for n in names if n not in STAGE_TYPES]
    if not names or unknown or len(set(names)) != len(names):
        raise ValueError(
            f"search.stages must name each stage once, from: {', '.join(sorted(STAGE_TYPES))}. "
            f"Received: search.stages={list(names)}"
        )
    return names


__all__ = [
    "STAGE_TYPES",
    "JointStage",
    "OffsetsStage",
    "RatioStage",
    "RemovalStage",
    "ShrinkStage",
    "Stage",
    "register_stage",
    "stage_names",
]
