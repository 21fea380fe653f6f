"""A wall-clock budget (``--budget 30m``) and a student count (``--students N``) made into a plan.

Before the search starts, ``measure`` times what a search pays for on this
machine: one distillation step of a teacher-sized student (two short fits of a
copy of the teacher, so the per-fit overhead of building and tracing falls out)
and the teacher's forward pass. ``make_plan`` turns those costs into updates
per stage, steps per scored student, the share of the training split students
are scored on, and the fine-tune's epochs, so that search + fine-tune + export
fit in the budget; ``Plan.apply`` writes them into the config. While the search
runs, each stage stops at its own deadline (``Plan.deadlines``) with the best
student so far, and the fine-tune is cut to the time that is left.

The plan covers the run's stages (``search.stages``), in order: each stage
class says what share of the teacher's multiply-adds its students have
(``Stage.mac_share``) and what share of the search's time it gets
(``Stage.time_share``, weighed against the other stages'), so a new stage is
planned without a change here.

Cost model (multiply-adds scale the time of a step): a student of share ``f``
of the teacher's multiply-adds costs ``f * step_s`` per step; Stage-1 students
keep full widths (``f`` about 0.7), Stage-2 students are narrowed (about 0.35),
the final student is assumed at 0.35 until it is known. Every update is
assumed to train all its rollouts (cached students make it cheaper; the
deadlines keep it from being longer).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import re
import time
from dataclasses import dataclass
from pathlib import Path

from n2n_tf.config import Config
from n2n_tf.progress import Progress
from n2n_tf.run_store import RunStore
from n2n_tf.search.stages import STAGE_TYPES, stage_names

logger = logging.getLogger(__name__)

FINAL_SHARE = 0.35  # multiply-adds of the final student vs the teacher, until it is known
EXPORT_S = 60.0  # TFLite float + int8 conversion and parity checks (measured: 20-50 s)
MARGIN = 0.05  # of the budget, kept free
MIN_STEPS, MIN_UPDATES = 30, 3  # per scored student; in all
TARGET_UPDATES = 10  # per stage: below it, steps per student are lowered
SCORE_STEPS = 100  # steps per scored student when ``distill.steps`` is unset


def parse_duration(text: str | float | int) -> float:
    """``"30m"``, ``"1h30m"``, ``"90s"``, ``"45"`` (minutes) -> seconds.

    Raises:
        ValueError: for anything else, or a duration that is not positive.
    """
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        seconds = float(text) * 60
    else:
        raw = str(text).strip().lower()
        parts = re.fullmatch(
            r"(?:(\d+(?:\.\d+)?)h)?\s*(?:(\d+(?:\.\d+)?)m)?\s*(?:(\d+(?:\.\d+)?)s)?", raw
        )
        if raw and re.fullmatch(r"\d+(?:\.\d+)?", raw):
            seconds = float(raw) * 60
        elif raw and parts:
            h, m, s = (float(g) if g else 0.0 for g in parts.groups())
            seconds = h * 3600 + m * 60 + s
        else:
            seconds = -1.0
    if not seconds > 0:
        raise ValueError(
            "A budget is a duration such as 30m, 1h, 1h30m or 90s (a bare number means "
            f"minutes). Received: budget={text!r}"
        )
    return seconds


@dataclass(frozen=True)
class Costs:
    """Measured seconds on this machine.

    Attributes:
        step_s: one training step (a batch) of a teacher-sized student.
        teacher_s: one forward pass of the teacher over a batch.
        fit_overhead_s: per training pass (building the step, tracing, evaluation).
        train_batches: batches in one epoch of the full training split.
        measured_s: what measuring took.
    """

    step_s: float
    teacher_s: float
    fit_overhead_s: float
    train_batches: int
    measured_s: float = 0.0


class _StepClock(Progress):
    """Records when each chunk of training steps ended."""

    def __init__(self):
        self.marks: list[tuple[float, int]] = []

    def start(self, label: str, total: int) -> None:
        self.marks = [(time.perf_counter(), 0)]

    def advance(self, steps: int = 1) -> None:
        self.marks.append((time.perf_counter(), self.marks[-1][1] + steps))


def measure(teacher, data, config: Config, chunks: int = 3, chunk: int = 4) -> Costs:
    """Times a short distillation of a copy of the teacher (teacher run per batch).

    A first pass of one chunk of ``chunk`` steps builds and traces the step and
    starts the input pipeline: the per-pass overhead. A second pass of ``chunks``
    chunks times the steps from its second chunk on (its first may trace again, and
    the input pipeline starts again), so a slow start never counts as steps; on a
    2-core CPU a CIFAR ResNet-20's first chunk takes over 10 s against 0.35 s a
    step. The teacher's share of a step is taken as a third (a forward pass
    against forward + backward). Runs on ``data.train`` with the teacher-logit
    cache off, so it computes nothing the search would reuse.
    """
    from n2n_tf import graph
    from n2n_tf.distill import Trainer
    from n2n_tf.types import Architecture

    start = time.perf_counter()
    distill = dataclasses.replace(config.distill, cache="off", steps_per_execution=chunk)
    clock = _StepClock()
    trainer = Trainer(teacher, distill, config.runtime, progress=clock)
    student = graph.rebuild(teacher, Architecture(), inherit=True)
    try:
        trainer.fit([student], data, steps=chunk, evaluate=False)
        (w0, _), (w1, warm_steps) = clock.marks[0], clock.marks[-1]
        trainer.fit([student], data, steps=chunk * max(2, chunks), evaluate=False)
    finally:
        trainer.close()
    (t1, n1), (t2, n2) = clock.marks[1], clock.marks[-1]
    per_step = (t2 - t1) / max(n2 - n1, 1)
    overhead = max(w1 - w0 - warm_steps * per_step, 0.0)
    n_batches = max(1, math.ceil(data.info.split_sizes["train"] / data.batch_size))
    val_batches = max(1, math.ceil(data.info.split_sizes["val"] / data.batch_size))
    # A fit of several students also evaluates them: forward passes over the validation split.
    overhead += val_batches * per_step / 3
    return Costs(
        step_s=per_step * 0.75,
        teacher_s=per_step * 0.25,
        fit_overhead_s=overhead,
        train_batches=n_batches,
        measured_s=time.perf_counter() - start,
    )


@dataclass(frozen=True)
class Plan:
    """What a budget (and/or a student count) allows; seconds are estimates.

    ``updates`` and ``shares`` are per stage, in the run's order: REINFORCE
    updates, and the share of the search's time (they sum to 1).
    """

    budget_s: float | None
    rollouts: int
    updates: dict
    shares: dict
    steps: int
    train_fraction: float
    finetune_epochs: int
    cache_s: float
    search_s: float
    finetune_s: float
    export_s: float
    random_baseline: bool
    students: int

    def apply(self, config: Config) -> Config:
        """The config with this plan's steps, share and fine-tune epochs, and the updates of
        every stage the config has a ``search.<stage>_updates`` for (``Search`` takes
        ``updates`` for the others)."""
        fields = {f.name for f in dataclasses.fields(config.search)}
        search = dataclasses.replace(
            config.search,
            **{f"{st}_updates": n for st, n in self.updates.items() if f"{st}_updates" in fields},
        )
        distill = dataclasses.replace(
            config.distill,
            steps=self.steps,
            train_fraction=self.train_fraction,
            finetune_epochs=self.finetune_epochs,
        )
        return dataclasses.replace(config, search=search, distill=distill)

    def _ends(self, start: float, length: float) -> dict[str, float]:
        ends, done = {}, 0.0
        for stage, share in self.shares.items():
            done += share
            ends[stage] = start + length * done
        return ends

    def deadlines(self, start: float) -> dict[str, float]:
        """``perf_counter`` times by which each stage must stop (empty without a budget)."""
        if self.budget_s is None:
            return {}
        # The random search gets the second half of the search's time.
        length = self.search_s / 2 if self.random_baseline else self.search_s
        return self._ends(start + self.cache_s, length)

    def random_deadlines(self, now: float, start: float) -> dict[str, float]:
        """Deadlines of the random search (``random_baseline``), started at ``now``."""
        if self.budget_s is None:
            return {}
        end = start + self.cache_s + self.search_s
        return self._ends(now, max(0.0, min(self.search_s / 2, end - now)))

    def lines(self) -> list[str]:
        """The plan as printed before the search starts."""
        minutes = _minutes
        head = (
            f"Plan for a budget of {minutes(self.budget_s)}:"
            if self.budget_s is not None
            else f"Plan for {self.students} students:"
        )
        scoring = f"{self.steps} distillation steps" if self.steps else "distill.epochs epoch(s)"
        stages = " + ".join(f"{n} {stage}" for stage, n in self.updates.items())
        out = [
            head,
            f"  search: {stages} updates x {self.rollouts} rollouts (up to {self.students} "
            f"students), {scoring} per student on {self.train_fraction:.0%} of the training "
            "split",
        ]
        if self.budget_s is not None:
            out += [
                f"  teacher views {minutes(self.cache_s)}, search {minutes(self.search_s)}"
                + (" (half of it random search)" if self.random_baseline else "")
                + f", fine-tune {self.finetune_epochs} epoch(s) {minutes(self.finetune_s)}, "
                f"export {minutes(self.export_s)}",
                "  each stage stops at its deadline with the best student so far",
            ]
        return out

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, saved: dict) -> Plan:
        """A saved plan (also one from before stages were a list: two update counts)."""
        saved = dict(saved)
        if "removal_updates" in saved:
            saved["updates"] = {
                "removal": saved.pop("removal_updates"),
                "shrink": saved.pop("shrink_updates"),
            }
            saved["shares"] = {"removal": 0.4, "shrink": 0.6}
        return cls(**saved)


def _minutes(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.0f} s"


def _cache_s(costs: Costs, config: Config, augmented: bool, fraction: float) -> float:
    views = max(1, config.distill.teacher_views) if augmented else 1
    if config.distill.cache == "off" or (augmented and config.distill.teacher_views == 0):
        return 0.0
    return views * math.ceil(costs.train_batches * fraction) * costs.teacher_s


def _update_s(costs: Costs, rollouts: int, steps: int, mac_share: float, cached: bool) -> float:
    """Seconds of one update whose students have ``mac_share`` of the teacher's
    multiply-adds."""
    step = costs.step_s * mac_share + (0.0 if cached else costs.teacher_s / rollouts)
    return costs.fit_overhead_s + rollouts * steps * step


def _stages(config: Config) -> dict:
    """``{stage: (class, configured updates, share of the search's time)}`` in run order;
    a stage configured with no updates gets no time."""
    classes = {name: STAGE_TYPES[name] for name in stage_names(config)}
    configured = {name: int(cls.planned_updates(config)) for name, cls in classes.items()}
    weights = {name: cls.time_share if configured[name] else 0.0 for name, cls in classes.items()}
    total = sum(weights.values()) or 1.0
    return {name: (classes[name], configured[name], weights[name] / total) for name in classes}


def _split(total: int, shares: dict) -> dict:
    """``total`` updates over the stages by their shares: at least one for each stage with
    a share, the last of them gets the rest."""
    named = [st for st, share in shares.items() if share]
    out = {st: 0 for st in shares}
    for st in named[:-1]:
        out[st] = max(1, round(total * shares[st]))
    if named:
        out[named[-1]] = max(0, total - sum(out.values()))
    return out


def make_plan(
    config: Config,
    costs: Costs,
    augmented: bool,
    budget_s: float | None = None,
    students: int | None = None,
    export: bool = True,
    elapsed_s: float = 0.0,
) -> Plan:
    """Chooses updates per stage, steps per student, training share and fine-tune epochs.

    With a budget: the fine-tune gets up to a quarter of what is left after the
    teacher views and the export (and at most ``distill.finetune_epochs``);
    the search the rest, shared by the stages by their ``time_share``. Steps
    per student start at ``distill.steps`` (``SCORE_STEPS`` when unset, at most
    ``distill.epochs`` epochs) and are lowered (not below 30) until each stage
    gets ``TARGET_UPDATES`` updates; the updates then fill the time, up to the
    config's counts per stage. With ``students``: that many students (rollouts
    x updates, shared the same way). ``elapsed_s``: already spent (loading,
    the teacher check, measuring).

    Raises:
        ValueError: a budget too small for a minimal search.
    """
    d = config.distill
    rollouts = config.search.rollouts
    stages = _stages(config)
    shares = {st: share for st, (_, _, share) in stages.items()}
    configured = {st: n for st, (_, n, _) in stages.items()}
    cached = d.cache != "off" and (not augmented or d.teacher_views > 0)
    steps = d.steps or min(d.epochs * costs.train_batches, SCORE_STEPS) if costs else d.steps
    if budget_s is None:
        if students is None:
            raise ValueError("Internal error: a plan needs a budget or a student count")
        updates = _split(max(2, math.ceil(students / rollouts)), shares)
        return Plan(
            None, rollouts, updates, shares, d.steps, d.train_fraction, d.finetune_epochs,
            0.0, 0.0, 0.0, 0.0, config.search.random_baseline,
            sum(updates.values()) * rollouts,
        )  # fmt: skip
    export_s = EXPORT_S if export else 0.0
    usable = budget_s * (1 - MARGIN) - elapsed_s - export_s
    # Students compared with the found one (``search.compare``) are fine-tuned beside it.
    fitted = 1 + len(config.search.compare)
    epoch_final = fitted * costs.train_batches * costs.step_s * FINAL_SHARE + costs.fit_overhead_s
    finetune_epochs = int(max(1, min(d.finetune_epochs, (usable * 0.25) // epoch_final)))
    finetune_s = finetune_epochs * epoch_final
    # The fine-tune's teacher views cover the whole split (reserved even if scoring shares them).
    finetune_s += _cache_s(costs, config, augmented, 1.0)
    search_budget = usable - finetune_s
    runs = 2 if config.search.random_baseline else 1  # the random search costs as much

    def share_for(steps: int) -> float:
        # Enough images for one pass of ``steps`` batches: no image is seen twice.
        if d.train_fraction < 1.0:
            return d.train_fraction
        return min(1.0, max(0.05, steps / costs.train_batches))

    while True:
        fraction = share_for(steps)
        cache = _cache_s(costs, config, augmented, fraction)
        per_run = (search_budget - cache) / runs
        cost = {
            st: _update_s(costs, rollouts, steps, cls.mac_share, cached)
            for st, (cls, _, _) in stages.items()
        }
        if students is not None:  # the count is fixed: lower the steps until it fits
            total = max(2, math.ceil(students / rollouts))
            updates = {st: round(total * shares[st]) for st in stages}
            enough = sum(updates[st] * cost[st] for st in cost) <= per_run
        else:  # the time is fixed: lower the steps until each stage gets its updates
            updates = {
                st: min(int(per_run * shares[st] // cost[st]), configured[st]) for st in stages
            }
            enough = all(
                updates[st] >= min(TARGET_UPDATES, configured[st]) for st in stages if shares[st]
            )
        if enough or steps <= MIN_STEPS:
            break
        steps = max(MIN_STEPS, int(steps * 0.8))
    fits = sum(updates[st] * cost[st] for st in cost) <= max(per_run, 0.0)
    wanted = sum(configured[st] for st in stages if shares[st])
    if sum(updates.values()) < min(MIN_UPDATES, wanted) or not fits:
        need = elapsed_s + export_s + epoch_final
        need += _cache_s(costs, config, augmented, share_for(MIN_STEPS))
        need += runs * MIN_UPDATES * max(cost.values())
        raise ValueError(
            f"A budget of {_minutes(budget_s)} is too small for this teacher on this machine: "
            f"a minimal search ({MIN_UPDATES} updates of {rollouts} students, {MIN_STEPS} steps "
            f"each), a 1-epoch fine-tune and the export need about "
            f"{_minutes(need / (1 - MARGIN))}. Received: budget={_minutes(budget_s)}"
        )
    return Plan(
        budget_s,
        rollouts,
        updates,
        shares,
        steps,
        fraction,
        finetune_epochs,
        cache,
        search_budget - cache,
        finetune_s,
        export_s,
        config.search.random_baseline,
        sum(updates.values()) * rollouts,
    )


def save_plan(run_dir: str | Path, plan: Plan, costs: Costs | None, search_offset_s: float) -> None:
    """Keeps a run's plan, its measured costs and when its search started (seconds after
    the job started), so that ``--resume`` continues within the same budget."""
    saved = {
        "plan": plan.to_dict(),
        "costs": None if costs is None else dataclasses.asdict(costs),
        "search_offset_s": search_offset_s,
    }
    store = RunStore(run_dir)
    store.write_json(store.plan, saved)


def load_plan(run_dir: str | Path) -> tuple[Plan, Costs | None, float] | None:
    """``(plan, costs, search_offset_s)`` saved by ``save_plan``; None for a run without one.

    Raises:
        ValueError: the file is not a plan (corrupt or from another version).
    """
    path = RunStore(run_dir).plan
    if not path.is_file():
        return None
    try:
        saved = json.loads(path.read_text())
        costs = None if saved["costs"] is None else Costs(**saved["costs"])
        return Plan.from_dict(saved["plan"]), costs, float(saved["search_offset_s"])
    except (ValueError, KeyError, TypeError) as err:
        raise ValueError(
            f"Cannot resume the run's budget: `{path}` is not a plan n2n-tf wrote "
            f"({type(err).__name__}: {err}). Delete it to resume without the budget. "
            f"Received: resume='{Path(run_dir)}'"
        ) from err


def finetune_epochs(planned: int, seconds_left: float, epoch_s: float) -> int:
    """The fine-tune's epochs that fit in ``seconds_left`` (at least 1, at most ``planned``)."""
    return int(max(1, min(planned, seconds_left // max(epoch_s, 1e-6))))


__all__ = [
    "Costs",
    "Plan",
    "finetune_epochs",
    "load_plan",
    "make_plan",
    "measure",
    "parse_duration",
    "save_plan",
]
