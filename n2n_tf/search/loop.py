"""The two-stage N2N search with resumable runs on disk.

Stage 1 (removal) runs ``search.removal_updates`` REINFORCE updates of the
removal policy; Stage 2 (shrinkage) starts from the best Stage-1 architecture
and runs ``search.shrink_updates`` updates of the shrink policy. Rewards are
always relative to the original teacher. After every update a checkpoint
(policies, optimisers, baselines, RNG state, score cache, history length) is
written atomically, so ``resume`` continues a killed run exactly.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np

from n2n_tf.atomic import atomic_path, write_text
from n2n_tf.config import Config
from n2n_tf.data import Datasets
from n2n_tf.progress import SILENT, Progress
from n2n_tf.report.tensorboard import SCALARS, ScalarWriter
from n2n_tf.search.environment import Environment, Score
from n2n_tf.search.policies import RemovalPolicy, ShrinkPolicy, features
from n2n_tf.search.reinforce import Baseline, reinforce_update
from n2n_tf.types import Architecture

logger = logging.getLogger(__name__)
STAGES = ("removal", "shrink")


@dataclass
class Best:
    """The best architecture met so far (highest reward within the constraints)."""

    reward: float = -float("inf")
    arch: dict = field(default_factory=lambda: Architecture().to_dict())
    score: dict | None = None


@dataclass
class State:
    """Everything needed to continue a search (saved in ``checkpoint/state.json``)."""

    stage: str = "removal"
    update: int = 0
    history_lines: int = 0
    rng: dict | None = None
    baselines: dict = field(default_factory=dict)
    best: dict = field(default_factory=lambda: {s: Best().__dict__ for s in STAGES})
    cache: dict = field(default_factory=dict)
    rewards: dict = field(default_factory=lambda: {s: [] for s in STAGES})
    trained: int = 0


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

    Besides history and checkpoints, every update writes TensorBoard scalars
    (rewards, baseline, policy entropy, best student, students trained,
    seconds) under ``<run_dir>/tensorboard/``; random-search students go to
    ``random.jsonl``.
    """

    def __init__(
        self,
        teacher: keras.Model,
        data: Datasets,
        config: Config,
        run_dir: str | Path,
        removal_policy: str | None = None,
        shrink_policy: str | None = None,
        on_update: Callable[[dict], None] | None = None,
        progress: Progress | None = None,
    ):
        self.config, self.run_dir = config, Path(run_dir)
        self.env = Environment(teacher, data, config)
        self.progress = progress or SILENT
        self.env.trainer.progress = self.progress
        s = config.search
        keras.utils.set_random_seed(config.runtime.seed)
        self.removal = RemovalPolicy(s.hidden, s.layers, s.init_keep_logit)
        self.shrink = ShrinkPolicy(s.factors, s.hidden, s.layers)
        self.removal.build_once()
        self.shrink.build_once()
        if removal_policy:
            self.removal.load_policy(removal_policy)
        if shrink_policy:
            self.shrink.load_policy(shrink_policy)
        self.optimizers = {
            "removal": keras.optimizers.Adam(s.removal_lr),
            "shrink": keras.optimizers.Adam(s.shrink_lr),
        }
        self.optimizers["removal"].build(self.removal.trainable_variables)
        self.optimizers["shrink"].build(self.shrink.trainable_variables)
        self.state = State()
        self.rng = np.random.default_rng(config.runtime.seed)
        self.on_update = on_update
        self.started = time.perf_counter()
        self.update_seconds: list[float] = []  # updates run by this process (for the ETA)
        self._scalars = None

    # ------------------------------------------------------------ checkpoints
    @property
    def history_path(self) -> Path:
        return self.run_dir / "history.jsonl"

    @property
    def checkpoint_dir(self) -> Path:
        return self.run_dir / "checkpoint"

    def save_checkpoint(self) -> None:
        self.state.rng = self.rng.bit_generator.state
        self.state.cache = {k: v.to_dict() for k, v in self.env.cache.items()}
        self.state.trained = self.env.trained
        with atomic_path(self.checkpoint_dir, directory=True) as tmp:
            tmp.mkdir()
            for name, policy in (("removal", self.removal), ("shrink", self.shrink)):
                policy.save_weights(tmp / f"{name}.weights.h5")
                opt = self.optimizers[name]
                np.savez(tmp / f"{name}_optimizer.npz", *[v.numpy() for v in opt.variables])
            (tmp / "state.json").write_text(json.dumps(self.state.__dict__, default=_plain))

    def load_checkpoint(self) -> bool:
        path = self.checkpoint_dir / "state.json"
        if not path.is_file():
            return False
        self.state = State(**json.loads(path.read_text()))
        for name, policy in (("removal", self.removal), ("shrink", self.shrink)):
            policy.load_weights(self.checkpoint_dir / f"{name}.weights.h5")
            saved = np.load(self.checkpoint_dir / f"{name}_optimizer.npz")
            for i, var in enumerate(self.optimizers[name].variables):
                var.assign(saved[f"arr_{i}"])
        self.rng.bit_generator.state = self.state.rng
        self.env.cache = {k: Score.from_dict(v) for k, v in self.state.cache.items()}
        self.env.trained = self.state.trained
        self._truncate_history(self.state.history_lines)
        return True

    def _truncate_history(self, lines: int) -> None:
        if not self.history_path.exists():
            return
        kept = self.history_path.read_text().splitlines(keepends=True)[:lines]
        write_text(self.history_path, "".join(kept))

    def _append_history(self, rows: list[dict]) -> None:
        with open(self.history_path, "a") as fh:
            for row in rows:
                fh.write(json.dumps(row, default=_plain) + "\n")
            fh.flush()
            os.fsync(fh.fileno())

    # ------------------------------------------------------------ stages
    def _stage_layers(self, stage: str):
        spec = self.env.spec
        if stage == "removal":
            return list(spec.layers), [layer.removable for layer in spec.layers], Architecture()
        base = Architecture.from_dict(self.state.best["removal"]["arch"])
        layers = [layer for layer in spec.layers if layer.name not in base.removed]
        return layers, [layer.shrinkable for layer in layers], base

    def _rollouts(self, stage: str):
        layers, free, base = self._stage_layers(stage)
        feats = features(layers)
        policy = self.removal if stage == "removal" else self.shrink
        actions, archs = [], []
        for _ in range(self.config.search.rollouts):
            seed = tuple(int(v) for v in self.rng.integers(0, 2**31 - 1, size=2))
            action = policy.sample(feats, free, seed)
            actions.append(action)
            archs.append(self._architecture(stage, layers, action, base))
        return feats, free, actions, archs

    def _architecture(self, stage, layers, action, base: Architecture) -> Architecture:
        if stage == "removal":
            removed = frozenset(
                layer.name for layer, a in zip(layers, action, strict=True) if a < 0.5
            )
            return Architecture(removed=removed)
        factors = self.config.search.factors
        chosen = {
            layer.name: factors[int(a)]
            for layer, a in zip(layers, action, strict=True)
            if layer.shrinkable and factors[int(a)] < 1.0
        }
        return Architecture(removed=base.removed, factors=chosen)

    def _update(self, stage: str, update: int) -> None:
        start = time.perf_counter()
        feats, free, actions, archs = self._rollouts(stage)
        seed = int(self.config.runtime.seed * 100003 + 1000 * STAGES.index(stage) + update)
        label = f"{stage} {update + 1}/{self._updates(stage)}"
        self.env.trainer.progress = self.progress.labelled(label)
        scored = self.env.score(archs, update, seed)
        rewards = [score.reward for score, _ in scored]
        baseline = Baseline(self.config.search.baseline_decay, self.state.baselines.get(stage))
        advantages = baseline.advantages(rewards)
        used_baseline = float(np.mean(rewards)) if baseline.value is None else baseline.value
        policy = self.removal if stage == "removal" else self.shrink
        keras.utils.set_random_seed(seed)
        reinforce_update(
            policy,
            self.optimizers[stage],
            lambda k: policy.log_prob(feats, actions[k], free),
            advantages,
            entropy=lambda: policy.entropy(feats, free),
            entropy_weight=self.config.search.entropy_weight,
        )
        entropy = float(policy.entropy(feats, free))
        self.state.baselines[stage] = baseline.update(rewards)
        best = Best(**self.state.best[stage])
        rows = []
        for k, ((score, cached), arch) in enumerate(zip(scored, archs, strict=True)):
            if score.valid and not score.violated and score.reward > best.reward:
                best = Best(score.reward, arch.to_dict(), score.to_dict())
            rows.append(
                {
                    "stage": stage,
                    "update": update,
                    "rollout": k,
                    "removed": sorted(arch.removed),
                    "factors": dict(sorted(arch.factors.items())),
                    "params": score.params,
                    "flops": score.flops,
                    "val_accuracy": round(score.val_accuracy, 6),
                    "reward": round(score.reward, 6),
                    "baseline": round(used_baseline, 6),
                    "valid": score.valid,
                    "violated": list(score.violated),
                    "cached": cached,
                    "seconds": round(time.perf_counter() - start, 3),
                }
            )
        self.state.best[stage] = best.__dict__
        self.state.rewards[stage].append(float(np.mean(rewards)))
        self._append_history(rows)
        self.state.history_lines += len(rows)
        self.state.update = update + 1
        self.save_checkpoint()
        seconds = time.perf_counter() - start
        self.update_seconds.append(seconds)
        self._report(stage, update, best, seconds, max(rewards), used_baseline, entropy)

    def _updates_left(self, stage: str, update: int) -> int:
        """Updates still to run after ``update`` of ``stage``, over both stages."""
        later = STAGES[STAGES.index(stage) + 1 :]
        return self._updates(stage) - update - 1 + sum(self._updates(s) for s in later)

    def _report(self, stage, update, best: Best, seconds, max_reward, baseline, entropy) -> None:
        total = self._updates(stage)
        left = self._updates_left(stage, update)
        info = {
            "kind": "update",
            "stage": stage,
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
            "seconds": seconds,
            "elapsed": time.perf_counter() - self.started,
            "updates_left": left,
            "rollouts_left": left * self.config.search.rollouts,
            "eta": float(np.mean(self.update_seconds)) * left,
        }
        if self._scalars is None:
            self._scalars = ScalarWriter(self.run_dir / "tensorboard")
        self._scalars.write(stage, update + 1, {k: info[k] for k in SCALARS})
        # The CLI shows this line through ``progress``; here it is for --verbose.
        logger.debug(
            "%s %d/%d  mean reward %.3f  best %.3f (%s params, acc %s)  %.1fs/update  ETA %.0fs",
            stage,
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

    def _updates(self, stage: str) -> int:
        s = self.config.search
        return s.removal_updates if stage == "removal" else s.shrink_updates

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
        while self.state.stage in STAGES:
            stage = self.state.stage
            while self.state.update < self._updates(stage):
                self._update(stage, self.state.update)
            nxt = STAGES.index(stage) + 1
            self.state.stage = STAGES[nxt] if nxt < len(STAGES) else "done"
            self.state.update = 0
            self.save_checkpoint()
        if self._scalars is not None:
            self._scalars.close()
            self._scalars = None
        return self.state

    def best(self) -> tuple[Architecture, dict | None]:
        """The best architecture over both stages (highest reward within the constraints)."""
        candidates = [Best(**self.state.best[s]) for s in STAGES]
        top = max(candidates, key=lambda b: b.reward)
        if top.score is None:
            return Architecture(), None
        return Architecture.from_dict(top.arch), top.score

    def random_baseline(self, count: int, seed: int) -> dict:
        """Random search with the same number of scored students (for comparison).

        Every random student is written to ``random.jsonl`` (one line each, as
        in ``history.jsonl``) for the report.
        """
        rng = np.random.default_rng(seed)
        spec, factors = self.env.spec, self.config.search.factors
        best, rewards, scored, rows = -float("inf"), [], 0, []
        self.env.trainer.progress = self.progress.labelled("random search")
        while scored < count:
            archs = []
            for _ in range(min(self.config.search.rollouts, count - scored)):
                removed = frozenset(
                    layer.name for layer in spec.layers if layer.removable and rng.random() < 0.5
                )
                chosen = {
                    layer.name: float(rng.choice(factors))
                    for layer in spec.layers
                    if layer.shrinkable and layer.name not in removed
                }
                archs.append(Architecture(removed, {k: v for k, v in chosen.items() if v < 1}))
            results = self.env.score(archs, update=0, seed=seed + scored)
            for arch, (score, cached) in zip(archs, results, strict=True):
                rewards.append(score.reward)
                if score.valid and not score.violated:
                    best = max(best, score.reward)
                rows.append(
                    {
                        "stage": "random",
                        "removed": sorted(arch.removed),
                        "factors": dict(sorted(arch.factors.items())),
                        "params": score.params,
                        "flops": score.flops,
                        "val_accuracy": round(score.val_accuracy, 6),
                        "reward": round(score.reward, 6),
                        "valid": score.valid,
                        "violated": list(score.violated),
                        "cached": cached,
                    }
                )
            scored += len(archs)
        write_text(
            self.run_dir / "random.jsonl",
            "".join(json.dumps(row, default=_plain) + "\n" for row in rows),
        )
        return {"students": scored, "best_reward": best, "mean_reward": float(np.mean(rewards))}


def _plain(obj):
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    raise TypeError(f"Internal error: cannot write {type(obj).__name__} to JSON")


__all__ = ["Search", "State"]
