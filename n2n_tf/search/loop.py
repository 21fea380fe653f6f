"""The two-stage N2N search with resumable runs on disk.

Stage 1 (removal) runs ``search.removal_updates`` REINFORCE updates of the
removal policy against the teacher; Stage 2 (shrinkage) starts from the best
Stage-1 architecture (its parent) and runs ``search.shrink_updates`` updates of
the shrink policy, rewarded against that parent's size and scored accuracy (as
the reference implementation does; a student not smaller than its parent
scores -1). The history keeps both rewards: ``reward`` against the teacher and
``policy_reward`` against the parent. The search's student is the best Stage-2
student (the best Stage-1 one when Stage 2 found none within the constraints).

A stage is an object (its policy, optimiser, number of updates, how an action
becomes an ``Architecture``), so the loop never branches on the stage; random
search is the same loop with ``RandomPolicy`` in both stages (``random=True``),
writing the same rows to ``random.jsonl``. After every update a checkpoint
(policies, optimisers, baselines, RNG state, score cache, history length) is
written atomically, so ``resume`` continues a killed run exactly.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from n2n_tf.config import Config, SearchConfig
from n2n_tf.data import Datasets
from n2n_tf.progress import SILENT, Progress
from n2n_tf.report.tensorboard import SCALARS, ScalarWriter
from n2n_tf.run_store import RunStore
from n2n_tf.search.environment import Environment, Parent, Score
from n2n_tf.search.policies import features
from n2n_tf.search.reinforce import Baseline, reinforce_update
from n2n_tf.search.reward import INVALID
from n2n_tf.search.stages import STAGE_TYPES, RemovalStage, ShrinkStage, Stage, stage_names
from n2n_tf.types import Architecture

logger = logging.getLogger(__name__)
STAGES = SearchConfig.stages  # the paper's stages: the default ``search.stages``


@dataclass
class Best:
    """The best architecture met so far (highest reward within the constraints)."""

    reward: float = -float("inf")
    arch: dict = field(default_factory=lambda: Architecture().to_dict())
    score: dict | None = None


@dataclass
class State:
    """Everything needed to continue a search (saved in ``checkpoint/state.json``)."""

    stage: str = STAGES[0]
    update: int = 0
    history_lines: int = 0
    rng: dict | None = None
    baselines: dict = field(default_factory=dict)
    best: dict = field(default_factory=lambda: {s: Best().__dict__ for s in STAGES})
    cache: dict = field(default_factory=dict)
    rewards: dict = field(default_factory=lambda: {s: [] for s in STAGES})
    trained: int = 0
    stage_trained: dict = field(default_factory=dict)  # students trained per stage
    stopped: dict = field(default_factory=dict)  # stage -> updates run when its deadline hit
    budget_left: float | None = None  # seconds of the --budget left at this checkpoint
    elite: dict = field(default_factory=dict)  # stage -> best rollouts (search.self_imitation)


class Search:
    """Runs the search for one teacher and dataset in ``run_dir``.

    Args:
        teacher: the teacher model (logits).
        data: dataset splits.
        config: the resolved config.
        run_dir: where history, checkpoints and students go.
        removal_policy: weights to start the removal policy from (transfer).
        shrink_policy: weights to start the shrink policy from (transfer).
        on_update: called after every update with a progress dict.
        progress: told about every training pass and every update (the same
            dict as ``on_update``, with ``kind="update"``).
        random: random search: ``RandomPolicy`` in both stages, the same loop,
            rows in ``random.jsonl``, checkpoint in ``checkpoint_random/``.
        env: the environment to score in (default: a new one for ``teacher``;
            a test may pass any object with its interface).
        policies: ``(removal, shrink)`` policy objects to train (default: new
            ones from the config); reusing them across searches reuses their
            traced functions.
        max_students: ``{stage: n}``: a stage also ends after the update in
            which it has trained ``n`` students (random search at equal cost).
        deadlines: ``{stage: perf_counter time}``: a stage also ends before an
            update that would, at the pace of its updates so far, end after its
            deadline (a ``--budget``; see ``search.budget``).
        budget_end: ``perf_counter`` time the whole job must end by (shown
            with every update as the budget left).
        updates: ``{stage: n}``: updates per stage (a budget's plan; default:
            each stage's ``planned_updates`` from the config).
        policies_dir: an earlier run's ``policies/``: every stage's policy starts
            from it (``removal_policy``/``shrink_policy`` override a stage's file).

    Besides history and checkpoints, every update writes TensorBoard scalars
    (rewards, baseline, policy entropy, best student, students trained,
    seconds) under ``<run_dir>/tensorboard/``.
    """

    def __init__(
        self,
        teacher: keras.Model | None,
        data: Datasets | None,
        config: Config,
        run_dir: str | Path,
        removal_policy: str | None = None,
        shrink_policy: str | None = None,
        on_update: Callable[[dict], None] | None = None,
        progress: Progress | None = None,
        random: bool = False,
        env: Environment | None = None,
        policies: tuple | None = None,
        max_students: dict | None = None,
        deadlines: dict | None = None,
        budget_end: float | None = None,
        updates: dict | None = None,
        policies_dir: str | Path | None = None,
    ):
        self.config, self.run_dir = config, Path(run_dir)
        self.store = RunStore(self.run_dir)
        self.env = env if env is not None else Environment(teacher, data, config)
        self.progress = progress or SILENT
        self.random = random
        self.prefix = "random search " if random else ""
        keras.utils.set_random_seed(config.runtime.seed)
        self.stage_names = stage_names(config)
        given = dict(zip(self.stage_names, policies or (), strict=False)) if not random else {}
        planned = dict(updates or {})
        self.stages: dict[str, Stage] = {
            name: STAGE_TYPES[name](
                config, random=random, policy=given.get(name), updates=planned.get(name)
            )
            for name in self.stage_names
        }
        for stage in self.stages.values():
            stage.build()
        start_from = {"removal": removal_policy, "shrink": shrink_policy}
        if policies_dir is not None:
            start_from = {
                **policy_files(policies_dir, self.stages),
                **{k: v for k, v in start_from.items() if v},
            }
        self.policies_from: dict[str, dict] = {}  # stage -> the source its policy came from
        for name, stage in self.stages.items():
            if start_from.get(name) and stage.trainable:
                source = stage.policy.load_policy(start_from[name])
                self.policies_from[name] = {**source, "path": str(start_from[name])}
        for stage in self.stages.values():
            stage.make_optimizer()
        self.max_students = dict(max_students or {})
        self.deadlines = dict(deadlines or {})
        self.budget_end = budget_end
        self.stage_seconds: dict[str, list[float]] = {}  # this process's update times
        self.state = State(
            stage=self.stage_names[0],
            best={name: Best().__dict__ for name in self.stage_names},
            rewards={name: [] for name in self.stage_names},
        )
        self.rng = np.random.default_rng(config.runtime.seed + (7919 if random else 0))
        self.on_update = on_update
        self.started = time.perf_counter()
        self.update_seconds: list[float] = []  # updates run by this process (for the ETA)
        self._scalars = None

    # ------------------------------------------------------------ checkpoints
    @property
    def history_path(self) -> Path:
        return self.store.history(self.random)

    @property
    def checkpoint_dir(self) -> Path:
        return self.store.checkpoint(self.random)

    def save_checkpoint(self) -> None:
        self.state.rng = self.rng.bit_generator.state
        self.state.cache = {k: v.to_dict() for k, v in self.env.cache.items()}
        self.state.trained = self.env.trained
        if self.budget_end is not None:
            self.state.budget_left = self.budget_end - time.perf_counter()
        with self.store.atomic(self.checkpoint_dir, directory=True) as tmp:
            tmp.mkdir()
            for name, stage in self.stages.items():
                if stage.optimizer is None:
                    continue
                stage.policy.save_weights(tmp / f"{name}.weights.h5")
                opt = stage.optimizer
                np.savez(tmp / f"{name}_optimizer.npz", *[v.numpy() for v in opt.variables])
            (tmp / "state.json").write_text(json.dumps(self.state.__dict__, default=plain))

    def load_checkpoint(self) -> bool:
        path = self.checkpoint_dir / "state.json"
        if not path.is_file():
            return False
        self.state = State(**json.loads(path.read_text()))
        for name, stage in self.stages.items():
            if stage.optimizer is None:
                continue
            stage.policy.load_weights(self.checkpoint_dir / f"{name}.weights.h5")
            saved = np.load(self.checkpoint_dir / f"{name}_optimizer.npz")
            for i, var in enumerate(stage.optimizer.variables):
                var.assign(saved[f"arr_{i}"])
        self.rng.bit_generator.state = self.state.rng
        self.env.cache = {k: Score.from_dict(v) for k, v in self.state.cache.items()}
        self.env.trained = self.state.trained
        self._truncate_history(self.state.history_lines)
        return True

    def _truncate_history(self, lines: int) -> None:
        self.store.keep_rows(self.history_path, lines)

    def _append_history(self, rows: list[dict]) -> None:
        self.store.append_rows(self.history_path, rows, default=plain)

    # ------------------------------------------------------------ stages
    def parent(self, stage: str) -> tuple[Architecture, Parent]:
        """The architecture a stage starts from and what its students are measured against.

        Stage 1: the teacher. Stage 2: the best Stage-1 architecture, with its
        parameters and scored accuracy (the teacher when Stage 1 found none). A stage
        whose class sets ``against_teacher`` starts from the best architecture before
        it but is measured against the teacher.
        """
        index = self.stage_names.index(stage)
        if index == 0:
            return Architecture(), self.env.teacher_parent
        best = Best(**self.state.best[self.stage_names[index - 1]])
        if best.score is None:
            return Architecture(), self.env.teacher_parent
        arch = Architecture.from_dict(best.arch)
        if self.stages[stage].against_teacher:
            return arch, self.env.teacher_parent
        return arch, Parent(int(best.score["params"]), best.score["val_accuracy"], arch.key())

    def _rollouts(self, stage: Stage, base: Architecture):
        layers, free = stage.layers(list(self.env.spec.layers), base)
        feats = features(layers)
        seed = tuple(int(v) for v in self.rng.integers(0, 2**31 - 1, size=2))
        actions = stage.policy.sample(feats, free, seed, n=self.config.search.rollouts)
        # The size target's wall (an environment without one lets every student through).
        project = getattr(self.env, "project", lambda arch: arch)
        archs = [project(stage.architecture(layers, action, base)) for action in actions]
        return feats, free, actions, archs

    def _with_elite(self, name: str, actions, advantages, baseline: float):
        """The update's batch with the stage's kept best rollouts appended (advantage
        ``max(R - b, 0)``: self-imitation), or as it is when ``search.self_imitation`` is 0."""
        elite = self.state.elite.get(name, [])
        if not self.config.search.self_imitation or not elite:
            return actions, advantages
        kept = np.asarray([e["actions"] for e in elite], dtype=np.asarray(actions).dtype)
        gains = np.maximum(np.asarray([e["reward"] for e in elite]) - baseline, 0.0)
        return np.concatenate([actions, kept]), np.concatenate([advantages, gains])

    def _keep_elite(self, name: str, actions, scored) -> None:
        """Keeps the ``search.self_imitation`` best valid rollouts of the stage so far."""
        k = self.config.search.self_imitation
        if not k:
            return
        elite = {tuple(e["actions"]): e for e in self.state.elite.get(name, [])}
        for action, (score, _) in zip(actions, scored, strict=True):
            if score.valid and not score.violated and score.policy_reward is not None:
                key = tuple(np.asarray(action).tolist())
                elite[key] = {"reward": float(score.policy_reward), "actions": list(key)}
        ranked = sorted(elite.values(), key=lambda e: e["reward"], reverse=True)
        self.state.elite[name] = ranked[:k]

    def _update(self, name: str, update: int) -> None:
        start = time.perf_counter()
        stage = self.stages[name]
        base, parent = self.parent(name)
        feats, free, actions, archs = self._rollouts(stage, base)
        seed = int(self.config.runtime.seed * 100003 + 1000 * self.stage_names.index(name) + update)
        label = f"{self.prefix}{name} {update + 1}/{stage.updates}"
        if hasattr(self.env, "trainer"):
            self.env.trainer.progress = self.progress.labelled(label)
        trained_before = self.env.trained
        screen_reward = name in self.config.search.screen_reward
        scored = self.env.score(archs, update, seed, parent, screen_reward=screen_reward)
        self.state.stage_trained[name] = (
            self.state.stage_trained.get(name, 0) + self.env.trained - trained_before
        )
        # A rollout without a policy reward (only screened, in a stage that learns from
        # distilled students) teaches nothing: advantage 0, and no say in the baseline.
        learnt = [score.policy_reward for score, _ in scored]
        rewards = [r for r in learnt if r is not None]
        baseline = Baseline(self.config.search.baseline_decay, self.state.baselines.get(name))
        advantages = np.zeros(len(learnt))
        if rewards:
            given = baseline.advantages(rewards)
            if self.config.search.normalize_advantages and len(given) > 1:
                given = given / (np.std(given) + 1e-8)
            advantages[[i for i, r in enumerate(learnt) if r is not None]] = given
        used_baseline = (
            float(np.mean(rewards or [0.0])) if baseline.value is None else baseline.value
        )
        policy = stage.policy
        entropies = []  # (no reseeding here: the update draws no random numbers)
        batch, advantages = self._with_elite(name, actions, advantages, used_baseline)

        def log_probs():
            log_prob, entropy = policy.log_probs(feats, batch, free)
            entropies.append(float(tf.reduce_mean(entropy)))
            return log_prob, entropy

        reinforce_update(
            policy,
            stage.optimizer,
            log_probs,
            advantages,
            entropy_weight=self.config.search.entropy_weight,
        )
        entropy = entropies[0] if entropies else float(policy.entropy(feats, free))
        if rewards:
            self.state.baselines[name] = baseline.update(rewards)
        self._keep_elite(name, actions, scored)
        best = Best(**self.state.best[name])
        rows = []
        for k, ((score, cached), arch) in enumerate(zip(scored, archs, strict=True)):
            if score.valid and not score.violated and score.rank_reward > best.reward:
                best = Best(score.rank_reward, arch.to_dict(), score.to_dict())
            distilled = score.tier == "distill"
            rows.append(
                {
                    "stage": name,
                    "update": update,
                    "rollout": k,
                    "removed": sorted(arch.removed),
                    "factors": dict(sorted(arch.factors.items())),
                    "params": score.params,
                    "flops": score.flops,
                    "val_accuracy": round(score.val_accuracy, 6) if distilled else None,
                    "screen_accuracy": None
                    if score.screen_accuracy is None
                    else round(score.screen_accuracy, 6),
                    "tier": score.tier,
                    "reward": round(score.reward, 6),
                    "policy_reward": None
                    if score.policy_reward is None
                    else round(score.policy_reward, 6),
                    "parent_params": parent.params,
                    "parent_accuracy": round(parent.accuracy, 6),
                    "baseline": round(used_baseline, 6),
                    "valid": score.valid,
                    "violated": list(score.violated),
                    "cached": cached,
                    "seconds": round(time.perf_counter() - start, 3),
                }
            )
        self.state.best[name] = best.__dict__
        learnt_rewards = rewards or [INVALID]  # none learnt from: no student was valid
        self.state.rewards[name].append(float(np.mean(learnt_rewards)))
        self._append_history(rows)
        self.state.history_lines += len(rows)
        self.state.update = update + 1
        self.save_checkpoint()
        seconds = time.perf_counter() - start
        self.update_seconds.append(seconds)
        self.stage_seconds.setdefault(name, []).append(seconds)
        self._report(name, update, best, seconds, max(learnt_rewards), used_baseline, entropy)

    def _updates_left(self, stage: str, update: int) -> int:
        """Updates still to run after ``update`` of ``stage``, over both stages."""
        later = self.stage_names[self.stage_names.index(stage) + 1 :]
        return self._updates(stage) - update - 1 + sum(self._updates(s) for s in later)

    def _report(self, stage, update, best: Best, seconds, max_reward, baseline, entropy) -> None:
        total = self._updates(stage)
        left = self._updates_left(stage, update)
        info = {
            "kind": "update",
            "stage": self.prefix + stage,
            "update": update + 1,
            "updates": total,
            "mean_reward": self.state.rewards[stage][-1],
            "max_reward": float(max_reward),
            "baseline": baseline,
            "entropy": entropy,
            "best_reward": best.reward,
            "best_params": (best.score or {}).get("params"),
            "best_accuracy": (best.score or {}).get("val_accuracy"),
            "students_trained": self.env.trained,
            "students_screened": getattr(self.env, "screened", 0),
            "seconds": seconds,
            "elapsed": time.perf_counter() - self.started,
            "updates_left": left,
            "rollouts_left": left * self.config.search.rollouts,
            "eta": self._eta(left),
            "budget_left": None
            if self.budget_end is None
            else max(0.0, self.budget_end - time.perf_counter()),
        }
        if self._scalars is None:
            self._scalars = ScalarWriter(self.store.tensorboard)
        tag = f"random_{stage}" if self.random else stage
        self._scalars.write(tag, update + 1, {k: info[k] for k in SCALARS})
        # The CLI shows this line through ``progress``; here it is for --verbose.
        logger.debug(
            "%s %d/%d  mean reward %.3f  best %.3f (%s params, acc %s)  %.1fs/update  ETA %.0fs",
            info["stage"],
            update + 1,
            total,
            info["mean_reward"],
            best.reward,
            info["best_params"],
            f"{info['best_accuracy']:.4f}" if info["best_accuracy"] is not None else "-",
            seconds,
            info["eta"],
        )
        self.progress.update(info)
        if self.on_update is not None:
            self.on_update(info)

    def _eta(self, left: int) -> float:
        """Seconds until the search ends: the updates left at this pace, or the last deadline."""
        eta = float(np.mean(self.update_seconds)) * left
        if self.deadlines:
            eta = min(eta, max(0.0, max(self.deadlines.values()) - time.perf_counter()))
        return eta

    def _out_of_time(self, stage: str) -> bool:
        """Whether the next update of ``stage`` would end after the stage's deadline."""
        deadline = self.deadlines.get(stage)
        if deadline is None:
            return False
        recent = self.stage_seconds.get(stage, [])[-3:]
        expected = float(np.mean(recent)) if recent else 0.0
        if time.perf_counter() + expected <= deadline:
            return False
        logger.info(
            "%s%s stage stopped at its deadline (the budget) after %d of %d updates",
            self.prefix,
            stage,
            self.state.update,
            self._updates(stage),
        )
        self.state.stopped[stage] = self.state.update
        return True

    def _spent(self, stage: str) -> bool:
        """Whether the stage has trained its ``max_students``."""
        cap = self.max_students.get(stage)
        return cap is not None and self.state.stage_trained.get(stage, 0) >= cap

    def _updates(self, stage: str) -> int:
        return self.stages[stage].updates

    def run(self, resume: bool = False) -> State:
        """Runs (or continues) both stages; returns the final state.

        Raises:
            ValueError: ``resume`` without a checkpoint, or a fresh run into a
                directory that already holds one.
        """
        self.run_dir.mkdir(parents=True, exist_ok=True)
        if resume:
            if not self.load_checkpoint():
                raise ValueError(
                    f"Nothing to resume: `{self.run_dir}` has no checkpoint. "
                    f"Received: resume='{self.run_dir}'"
                )
        elif (self.checkpoint_dir / "state.json").exists():
            raise ValueError(
                f"Run directory `{self.run_dir}` already holds a search; pass --resume to "
                f"continue it or choose another --out. Received: out='{self.run_dir}'"
            )
        else:
            self.history_path.unlink(missing_ok=True)
        while self.state.stage in self.stage_names:
            stage = self.state.stage
            while (
                self.state.update < self._updates(stage)
                and not self._spent(stage)
                and not self._out_of_time(stage)
            ):
                self._update(stage, self.state.update)
            nxt = self.stage_names.index(stage) + 1
            self.state.stage = self.stage_names[nxt] if nxt < len(self.stage_names) else "done"
            self.state.update = 0
            self.save_checkpoint()
        if self._scalars is not None:
            self._scalars.close()
            self._scalars = None
        return self.state

    def best(self) -> tuple[Architecture, dict | None]:
        """The search's student: the last stage's best student within the constraints, else
        the best of the stage before it (each stage's best by the reward it learned from).

        Under a size target every stage's reward is the same measure (the accuracy ratio
        to the teacher, whatever the parent), so the student is the best of all stages:
        a later stage that found nothing better does not replace an earlier one's best.
        So too when every stage is measured against the teacher (the first stage, and
        those whose class sets ``against_teacher``: ``[ratio, offsets]``).
        """
        found = [Best(**self.state.best[s]) for s in reversed(self.stage_names)]
        found = [best for best in found if best.score is not None]
        if not found:
            return Architecture(), None
        same_measure = all(self.stages[s].against_teacher for s in self.stage_names[1:])
        if getattr(self.env, "target", None) or same_measure:
            found = sorted(found, key=lambda best: best.reward, reverse=True)  # stable
        return Architecture.from_dict(found[0].arch), found[0].score

    def summary(self) -> dict:
        """Samples, students trained and the chosen student's teacher-relative reward."""
        _, score = self.best()
        return {
            "students": self.env.trained,
            "samples": self.state.history_lines,
            "best_reward": None if score is None else score["reward"],
            "best_params": None if score is None else score["params"],
            "mean_reward": {s: _mean(r) for s, r in self.state.rewards.items()},
            "updates": {s: len(r) for s, r in self.state.rewards.items()},
            "stopped_at_deadline": dict(self.state.stopped),
        }


def policy_files(directory: str | Path, stages: dict) -> dict[str, Path]:
    """``{stage: file}`` of every trainable stage's policy in an earlier run's
    ``policies/`` (or the run directory itself); a ValueError in one line when the
    directory lacks one of them, naming the stages it holds."""
    directory = Path(directory)
    if (directory / "policies").is_dir():
        directory = directory / "policies"
    if not directory.is_dir():
        raise ValueError(
            f"--policies takes an earlier run's policies/ folder. Received: policies='{directory}'"
        )
    held = sorted(p.name.removesuffix(".weights.h5") for p in directory.glob("*.weights.h5"))
    out = {}
    for name, stage in stages.items():
        if not stage.trainable:
            continue
        path = directory / f"{name}.weights.h5"
        if not path.is_file():
            raise ValueError(
                f"`{directory}` holds no policy for stage `{name}` (it holds: "
                f"{', '.join(held) or 'none'}): its run searched other stages "
                f"(search.stages). Received: policies='{directory}'"
            )
        out[name] = path
    return out


def check_policies(config: Config, directory: str | Path) -> None:
    """Refuses, before any work, an earlier run's policies that do not fit ``config``'s
    stages and policy settings (the ValueError ``policy_files``/``load_policy`` raise)."""
    stages = {name: STAGE_TYPES[name](config) for name in stage_names(config)}
    for name, path in policy_files(directory, stages).items():
        stages[name].policy.check_description(path)


def saved_budget_left(run_dir: str | Path) -> float | None:
    """Seconds of the budget left at the run's latest checkpoint (search or random
    search); None when no checkpoint recorded a budget."""
    left, store = [], RunStore(run_dir)
    for random in (False, True):
        path = store.state(random)
        if path.is_file():
            value = json.loads(path.read_text()).get("budget_left")
            if value is not None:
                left.append(float(value))
    return min(left) if left else None


def random_search(
    search: Search, resume: bool = False, equal_cost: bool = True, deadlines: dict | None = None
) -> dict:
    """Random search with the same plan (stages, updates, rollouts) as ``search``.

    The same loop runs ``RandomPolicy`` in both stages, in a fork of the
    search's environment (its own score cache, so it pays for its own
    students); every sample goes to ``random.jsonl`` in the history's format.
    With ``equal_cost`` a random stage ends once it has trained as many
    students as the policy's stage did (a converged policy repeats cached
    students, random search rarely does); else it runs every update.
    ``deadlines``: as ``Search``'s (a budget). Returns ``Search.summary()``
    of the random search.
    """
    caps = dict(search.state.stage_trained) if equal_cost else None
    other = Search(
        None,
        None,
        search.config,
        search.run_dir,
        progress=search.progress,
        random=True,
        env=search.env.fork(),
        max_students=caps,
        deadlines=deadlines,
        budget_end=search.budget_end,
        updates={name: stage.updates for name, stage in search.stages.items()},
    )
    resume = resume and (other.checkpoint_dir / "state.json").is_file()
    other.run(resume=resume)
    return other.summary()


def _mean(values) -> float | None:
    return float(np.mean(values)) if len(values) else None


def plain(obj):
    """``json.dumps``'s ``default`` for NumPy scalars and sets/tuples."""
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    raise TypeError(f"Internal error: cannot write {type(obj).__name__} to JSON")


__all__ = [
    "RemovalStage",
    "Search",
    "ShrinkStage",
    "Stage",
    "State",
    "plain",
    "random_search",
    "check_policies",
    "policy_files",
    "saved_budget_left",
]
