"""The search environment: architecture -> student -> short distillation -> reward.

The only module that imports both ``graph`` and ``distill``. Scored
architectures are cached by ``Architecture.key()`` and never trained twice.

Every student gets two rewards: ``reward``, against the teacher (what reports
show), and ``policy_reward``, against the stage's parent (what REINFORCE
learns from). Stage 1's parent is the teacher; Stage 2's is the best Stage-1
architecture, with its size and its measured (scored) accuracy, as in the
reference implementation: a Stage-2 student not smaller than its parent
scores -1.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import asdict, dataclass, replace

import keras

from n2n_tf import graph
from n2n_tf.config import Config
from n2n_tf.data import Datasets, subset_train
from n2n_tf.distill import Trainer
from n2n_tf.runtime import width_multiple
from n2n_tf.search.executor import Job, make_executor
from n2n_tf.search.reward import INVALID, Constraints, reward
from n2n_tf.search.screen import Screen
from n2n_tf.search.target import Target, project
from n2n_tf.types import Architecture

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Parent:
    """What a stage's students are measured against (Stage 1: the teacher).

    Attributes:
        params: its trainable parameters.
        accuracy: its validation accuracy (for a Stage-1 architecture: the one
            it was scored with, after the same short distillation as its children).
        key: its ``Architecture.key()`` ("" for the teacher).
    """

    params: int
    accuracy: float
    key: str = ""


@dataclass
class Score:
    """What one scored architecture got.

    ``reward`` is against the teacher; ``policy_reward`` against the parent the
    architecture was scored for (equal in Stage 1): what REINFORCE learns from
    (None: this rollout teaches nothing, a screened student in a stage that
    learns from distilled ones only). ``rank_reward``: ``policy_reward`` from
    the distilled accuracy, what the best student of a stage is chosen by
    (INVALID for a student that was only screened).

    ``tier``: ``distill`` (scored by a short distillation, ``val_accuracy``) or
    ``screen`` (only screened: ``screen_accuracy``, see ``search.screen``);
    a distilled student screened first has both.
    """

    key: str
    params: int = 0
    flops: int = 0
    val_accuracy: float = 0.0
    reward: float = INVALID
    valid: bool = False
    violated: tuple[str, ...] = ()
    reason: str = ""
    policy_reward: float | None = INVALID
    tier: str = "distill"
    screen_accuracy: float | None = None
    rank_reward: float = INVALID

    def to_dict(self) -> dict:
        d = asdict(self)
        d["violated"] = list(self.violated)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Score:
        return cls(**{**d, "violated": tuple(d.get("violated", ()))})


def limit_bn_momentum(model: keras.Model, limit: float) -> keras.Model:
    """Sets every BatchNormalization layer's momentum to at most ``limit``; returns ``model``."""
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = min(layer.momentum, limit)
    return model


class Environment:
    """Scores architectures of one teacher on one dataset.

    Args:
        teacher: the teacher (logits).
        data: dataset splits (``train`` for distillation, ``val`` for scoring).
        config: the resolved config (``distill``, ``search``, ``runtime``).
    """

    def __init__(self, teacher: keras.Model, data: Datasets, config: Config):
        self.teacher, self.config = teacher, config
        # Students are scored on a seeded share of the training split (distill.train_fraction).
        self.data = subset_train(data, config.distill.train_fraction, config.runtime.seed)
        s = config.search
        self.options = {"round_to": width_multiple(s.round_to)}
        self.spec = graph.inspect(teacher, **self.options)
        self.trainer = Trainer(teacher, config.distill, config.runtime)
        (self.teacher_accuracy,) = self.trainer.evaluate([teacher], data.val)
        self.teacher_params = self.spec.params
        self.target = Target.of(s, self.spec)  # a wall every architecture is projected onto
        self.constraints = Constraints(
            _lowest(s.max_params, self.target.params),
            _lowest(s.max_flops, self.target.flops),
            s.min_accuracy,
            s.max_tflite_bytes,
        )
        self.cache: dict[str, Score] = {}
        self.trained = 0  # students actually trained (cache misses)
        self.screened = 0  # students screened (search.screen_top_k > 0)
        self.screen: Screen | None = None  # made on first use
        # Where students are built and scored (``runtime.executor``: here, or on Ray actors).
        self.executor = make_executor(config.runtime, teacher, config)

    def close(self) -> None:
        """Stops the executor's workers (nothing to stop for the local one)."""
        self.executor.close()

    @property
    def teacher_parent(self) -> Parent:
        """The teacher as a parent (Stage 1)."""
        return Parent(self.teacher_params, self.teacher_accuracy)

    def fork(self, inherit: bool | None = None, **distill) -> Environment:
        """The same teacher, data and trainer with an empty cache (a separate search).

        With ``inherit``, its students are built with (True) or without (False) the
        teacher's weights; ``distill`` fields (``steps``, ``epochs``, ...) score them with
        another distillation, on a trainer of its own that shares the teacher's cache.
        """
        other = copy.copy(self)
        other.cache, other.trained, other.screened = {}, 0, 0
        if inherit is not None and inherit != self.config.search.inherit:
            search = replace(self.config.search, inherit=inherit)
            other.config = replace(self.config, search=search)
        if distill:
            other.trainer = copy.copy(self.trainer)
            other.trainer.config = replace(self.trainer.config, **distill)
        return other

    def project(self, arch: Architecture) -> Architecture:
        """``arch`` projected onto the size target (``search/target.py``; itself without
        a target, or when surgery refuses it: ``score`` then records why)."""
        if not self.target:
            return arch
        try:
            return project(self.teacher, self.spec, arch, self.target, **self.options)
        except graph.SurgeryError:
            return arch

    def build(self, arch: Architecture, inherit: bool | None = None) -> keras.Model:
        """The student ``arch`` describes, with the teacher's weights unless ``inherit`` is
        False (default: ``search.inherit``)."""
        inherit = self.config.search.inherit if inherit is None else inherit
        return graph.rebuild(self.teacher, arch, inherit=inherit, **self.options)

    def build_for_scoring(self, arch: Architecture) -> keras.Model:
        """``build``, with BatchNorm momentum at most ``distill.score_bn_momentum``.

        A short distillation barely moves the teacher's inherited BatchNorm
        statistics at Keras' momentum (0.99), and a narrowed or shortened
        student's activations no longer match them: its score would measure
        stale statistics rather than the architecture.
        """
        return limit_bn_momentum(self.build(arch), self.config.distill.score_bn_momentum)

    def score(
        self,
        archs: list[Architecture],
        update: int,
        seed: int,
        parent: Parent | None = None,
        screen_reward: bool = False,
    ) -> list[tuple[Score, bool]]:
        """Scores architectures; returns ``(score, was_cached)`` for each, in order.

        Invalid architectures (rejected by surgery, failing to rebuild for any
        other reason, or not smaller than the teacher) and students whose loss
        turned NaN get reward -1; a failure is logged once (scores are cached)
        and the search goes on. Against a ``parent`` (default: the teacher),
        a student not smaller than it gets ``policy_reward`` -1, is marked
        invalid in the returned score, and is not trained when not cached.

        With ``search.screen_top_k`` > 0 every new student is screened first
        (``search.screen``: inherited weights, BatchNorm statistics re-estimated,
        validation subset) and only the ``screen_top_k`` best of the call by
        their screen get the short distillation (those not distilled before).
        ``screen_reward``: the policy learns from the screen of every rollout;
        else only from the distilled ones (the others' ``policy_reward`` is None).

        The students are built and scored by ``self.executor``, each under a seed
        of its own drawn from ``seed`` and its key (``search/executor.py``).
        """
        parent = parent or self.teacher_parent
        known = set(self.cache)
        fresh: dict[str, tuple[Architecture, Score]] = {}
        too_big: dict[str, Score] = {}  # not smaller than the parent: never trained for it
        for arch in archs:
            key = arch.key()
            if key in self.cache or key in fresh or key in too_big:
                continue
            score = Score(key)
            try:
                score.params, score.flops = graph.estimate(self.teacher, arch, **self.options)
            except graph.SurgeryError as err:
                score.reason = str(err)
                self.cache[key] = score
                continue
            except Exception as err:  # a bug in surgery must not end the search
                self._invalid(score, arch, err)
                continue
            if score.params >= self.teacher_params:
                score.reason = "not smaller than the teacher"
                self.cache[key] = score
                continue
            if score.params >= parent.params and not self.target:
                score.reason = "not smaller than its parent"
                too_big[key] = score
                continue
            fresh[key] = (arch, score)
        if self.config.search.screen_top_k > 0:
            chosen = self._screen(fresh, archs, parent, update, seed)
        else:
            chosen = [(a, score, Job(score.key, a.to_dict())) for a, score in fresh.values()]
        if chosen:
            outcomes = self.executor.distill(self, [job for _, _, job in chosen], seed)
            for (arch, score, _), outcome in zip(chosen, outcomes, strict=True):
                if outcome.error is not None:
                    self._invalid(score, arch, outcome.error)
                    continue
                self.trained += 1
                if outcome.failed:
                    score.reason, score.valid = outcome.reason, False
                else:
                    self._finish(score, outcome.accuracy, update, outcome.all_params)
                score.tier = "distill"
                self.cache[score.key] = score
        seen: set[str] = set()
        out = []
        for arch in archs:
            key = arch.key()
            cached = key in known or key in seen
            score = self.cache.get(key) or too_big[key]
            out.append((self._against(score, parent, update, screen_reward), cached))
            seen.add(key)
        return out

    def _screener(self) -> Screen:
        if self.screen is None:
            s = self.config.search
            self.screen = Screen(self.data, s.screen_batches, s.screen_images)
        return self.screen

    def screen_students(self, students: list[keras.Model]) -> list[float]:
        """The zero-step screen's accuracy of each student (``search.screen``; their
        BatchNorm statistics are re-estimated in place)."""
        return self._screener()(students)

    def refresh_students(self, students: list[keras.Model]) -> list[keras.Model]:
        """Puts each student in the state its screen left it in (BatchNorm statistics
        re-estimated on the screen's batches), without the screen's validation pass."""
        return self._screener().refresh(students)

    def _screen(self, fresh, archs, parent: Parent, update: int, seed: int):
        """Screens the new students, then picks the ``screen_top_k`` best of ``archs`` by their
        screen; returns ``(arch, score, job)`` of those not distilled yet."""
        pairs = list(fresh.values())
        jobs = [Job(score.key, arch.to_dict()) for arch, score in pairs]
        now = set()  # screened in this call: distilled as the screen left them
        outcomes = self.executor.screen(self, jobs, seed)
        for (arch, score), outcome in zip(pairs, outcomes, strict=True):
            if outcome.error is not None:
                self._invalid(score, arch, outcome.error)
                continue
            self.screened += 1
            self._finish(score, outcome.accuracy, update, outcome.all_params, tier="screen")
            self.cache[score.key] = score
            now.add(score.key)
        candidates = {}
        for arch in archs:
            score = self.cache.get(arch.key())
            smaller = score is not None and (score.params < parent.params or self.target)
            if smaller and score.valid:
                candidates[score.key] = (arch, score)

        def screened(pair) -> float:
            score = pair[1]
            accuracy = (
                score.val_accuracy if score.screen_accuracy is None else score.screen_accuracy
            )
            return self._reward(score, parent, update, accuracy)

        top = sorted(candidates.values(), key=screened, reverse=True)
        ranked = [
            pair for pair in top[: self.config.search.screen_top_k] if pair[1].tier == "screen"
        ]
        return [
            (arch, score, Job(score.key, arch.to_dict(), refresh=score.key in now))
            for arch, score in ranked
        ]

    def _against(self, score: Score, parent: Parent, update: int, screen_reward=False) -> Score:
        """A copy of a cached score with its rewards for this parent and update."""
        score = replace(score)
        if not score.valid:
            score.reward = score.policy_reward = score.rank_reward = INVALID
            return score
        distilled = score.tier == "distill"
        accuracy = score.val_accuracy if distilled else score.screen_accuracy
        score.reward = self._reward(score, self.teacher_parent, update, accuracy)
        if score.params >= parent.params and not self.target:
            score.valid, score.reason = False, "not smaller than its parent"
            score.policy_reward = score.rank_reward = INVALID
            return score
        score.rank_reward = self._reward(score, parent, update) if distilled else INVALID
        if screen_reward and score.screen_accuracy is not None:
            score.policy_reward = self._reward(score, parent, update, score.screen_accuracy)
        else:
            score.policy_reward = score.rank_reward if distilled else None
        return score

    def _reward(self, score: Score, parent: Parent, update: int, accuracy=None) -> float:
        """The paper's reward of a scored student against ``parent`` (the penalty anneals),
        from its distilled accuracy (or ``accuracy``). Under a size target: the accuracy
        ratio to the teacher, whatever the parent (a student breaking a constraint gets
        the paper's penalty)."""
        if self.target and not score.violated:
            value = score.val_accuracy if accuracy is None else accuracy
            return float(value) / max(self.teacher_accuracy, 1e-9)
        return reward(
            score.params,
            parent.params,
            score.val_accuracy if accuracy is None else accuracy,
            parent.accuracy,
            violated=bool(score.violated),
            update=update,
        )

    def no_valid_student(self) -> str:
        """The message for a search that found no valid student within the constraints."""
        reasons: dict[str, int] = {}
        for score in self.cache.values():
            reason = "violates " + ", ".join(score.violated) if score.valid else score.reason
            reason = (reason or "invalid").splitlines()[0][:120]
            reasons[reason] = reasons.get(reason, 0) + 1
        common = sorted(reasons.items(), key=lambda item: -item[1])[:3]
        listed = "; ".join(f"{reason} ({count}x)" for reason, count in common)
        c = self.constraints
        return (
            f"No valid student was found: none of the {len(self.cache)} scored architectures "
            "built, trained and met the constraints, so no student is written. "
            f"Most common reasons: {listed or 'none scored'}. Run more updates or loosen "
            f"the constraints. Received: max_params={c.max_params}, max_flops={c.max_flops}, "
            f"min_accuracy={c.min_accuracy}"
        )

    def _invalid(self, score: Score, arch: Architecture, err: Exception | str) -> None:
        """Records an architecture whose student could not be built (logged once: it is cached)."""
        if isinstance(err, Exception):
            err = f"rebuild failed: {type(err).__name__}: {str(err)[:300]}"
        score.reason = err
        logger.warning(
            "Architecture %s scores %s: %s (removed=%s, factors=%s)",
            score.key,
            INVALID,
            score.reason,
            sorted(arch.removed),
            dict(arch.factors),
        )
        self.cache[score.key] = score

    def _finish(
        self, score: Score, accuracy: float, update: int, all_params: int, tier="distill"
    ) -> None:
        """Records a built student's accuracy at ``tier`` and the constraints it breaks (an
        accuracy floor only from a distilled accuracy; ``all_params``: its every weight)."""
        if tier == "screen":
            score.screen_accuracy, score.tier = float(accuracy), "screen"
        else:
            score.val_accuracy = float(accuracy)
        floor = score.val_accuracy if tier == "distill" else 1.0
        score.violated = tuple(
            self.constraints.violated(score.params, score.flops, floor, all_params)
        )
        score.valid = True
        score.reward = self._reward(score, self.teacher_parent, update, float(accuracy))


def _lowest(*bounds):
    """The tightest of some upper bounds (None: unbounded)."""
    given = [b for b in bounds if b is not None]
    return min(given) if given else None
