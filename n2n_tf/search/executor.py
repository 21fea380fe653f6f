"""Where the students of one update are built and scored: in this process, or on Ray.

The environment (``search/environment.py``) decides which students to screen and
which to distil and keeps every score; an executor only builds the students it
is given and returns what each scored. A student is described by its
architecture (a dict) and built under a seed of its own, derived from the
update's seed and its key, so it gets the same initial weights wherever it is
built, alone or among others: the Ray executor (``search/ray_executor.py``)
then writes the same history as this one. A fused distillation trains every
student on its own optimiser and loss, so training them in one group or
spread over workers gives the same students (within float nondeterminism).
"""

from __future__ import annotations

import time
import zlib
from dataclasses import dataclass

import keras

from n2n_tf.types import Architecture

EXECUTORS = ("local", "ray")


@dataclass(frozen=True)
class Job:
    """One student to build and score.

    Attributes:
        key: its ``Architecture.key()``.
        arch: ``Architecture.to_dict()``.
        refresh: distil it from the state the screen left it in (its BatchNorm
            statistics re-estimated first), as a student screened in the same call.
    """

    key: str
    arch: dict
    refresh: bool = False


@dataclass
class Outcome:
    """What one job scored.

    ``error``: the student could not be built (the reason, for the record); else
    ``accuracy`` (screen or distilled validation accuracy; None when ``failed``,
    a distillation whose loss turned NaN, ``reason`` says how) and ``all_params``
    (every weight, trainable or not: the TFLite-size constraint's count).
    """

    accuracy: float | None = None
    failed: bool = False
    reason: str = ""
    all_params: int = 0
    error: str | None = None


def student_seed(seed: int, key: str) -> int:
    """The seed a student of ``key`` is built under in an update seeded ``seed``."""
    return zlib.crc32(f"{int(seed)}:{key}".encode()) & 0x7FFFFFFF


def weight_count(model: keras.Model) -> int:
    """Every value of every weight of ``model`` (trainable or not)."""
    total = 0
    for weight in model.weights:
        count = 1
        for dim in weight.shape:
            count *= int(dim)
        total += count
    return total


def build_student(env, job: Job, seed: int) -> keras.Model:
    """``job``'s student of ``env``'s teacher, built under its own seed."""
    keras.utils.set_random_seed(student_seed(seed, job.key))
    return env.build(Architecture.from_dict(job.arch))


def _build_all(env, jobs: list[Job], seed: int):
    """``(models, outcomes)``: a model for each job that builds (None where it failed),
    and an outcome per job holding the build error where there is one."""
    models, outcomes = [], []
    for job in jobs:
        try:
            models.append(build_student(env, job, seed))
            outcomes.append(Outcome())
        except Exception as err:  # invalid: reward -1, and the run goes on
            models.append(None)
            reason = f"rebuild failed: {type(err).__name__}: {str(err)[:300]}"
            outcomes.append(Outcome(error=reason))
    return models, outcomes


class LocalExecutor:
    """Builds and scores every student in this process, one fused group per call.

    The students of the last ``screen`` call are kept so that ``distill`` trains
    them as the screen left them instead of building them again.
    """

    name = "local"

    def __init__(self):
        self._screened: dict[str, keras.Model] = {}
        self.calls: list[dict] = []  # {"method", "jobs", "seconds"} of the latest calls

    def _timed(self, method: str, jobs: list[Job], start: float) -> None:
        self.calls = [
            *self.calls[-999:],
            {"method": method, "jobs": len(jobs), "seconds": time.perf_counter() - start},
        ]

    def screen(self, env, jobs: list[Job], seed: int) -> list[Outcome]:
        """The zero-step screen of every job (``search/screen.py``)."""
        start = time.perf_counter()
        outcomes = self._screen(env, jobs, seed)
        self._timed("screen", jobs, start)
        return outcomes

    def distill(self, env, jobs: list[Job], seed: int) -> list[Outcome]:
        """The short distillation of every job, all trained together."""
        start = time.perf_counter()
        outcomes = self._distill(env, jobs, seed)
        self._timed("distill", jobs, start)
        return outcomes

    def _screen(self, env, jobs: list[Job], seed: int) -> list[Outcome]:
        self._screened = {}
        models, outcomes = _build_all(env, jobs, seed)
        built = [(job, m, o) for job, m, o in zip(jobs, models, outcomes, strict=True) if m]
        accuracies = env.screen_students([m for _, m, _ in built])
        for (job, model, outcome), accuracy in zip(built, accuracies, strict=True):
            outcome.accuracy, outcome.all_params = float(accuracy), weight_count(model)
            self._screened[job.key] = model
        return outcomes

    def _distill(self, env, jobs: list[Job], seed: int) -> list[Outcome]:
        from n2n_tf.search.environment import limit_bn_momentum

        outcomes, students = [], []
        for job in jobs:
            model = self._screened.pop(job.key, None)
            if model is None:
                models, (outcome,) = _build_all(env, [job], seed)
                model = models[0]
                if model is not None and job.refresh:
                    env.refresh_students([model])
            else:
                outcome = Outcome()
            outcomes.append(outcome)
            if model is not None:
                limit_bn_momentum(model, env.config.distill.score_bn_momentum)
                students.append((outcome, model))
        self._screened = {}
        if students:
            results = env.trainer.fit([m for _, m in students], env.data, seed=seed)
            for (outcome, model), result in zip(students, results, strict=True):
                outcome.failed, outcome.reason = result.failed, result.reason
                outcome.accuracy = None if result.failed else float(result.val_accuracy)
                outcome.all_params = weight_count(model)
        return outcomes

    def close(self) -> None:
        self._screened = {}


def make_executor(runtime, teacher=None, config=None):
    """The executor ``runtime.executor`` names (``local`` or ``ray``), for ``teacher``
    prepared under ``config`` (the Ray executor ships both to its workers)."""
    name = getattr(runtime, "executor", "local")
    if name == "local":
        return LocalExecutor()
    if name == "ray":
        from n2n_tf.search.ray_executor import RayExecutor

        return RayExecutor(teacher, config)
    raise ValueError(
        f"Unknown executor. Expected one of {', '.join(EXECUTORS)}. Received: executor={name!r}"
    )


__all__ = [
    "EXECUTORS",
    "Job",
    "LocalExecutor",
    "Outcome",
    "build_student",
    "make_executor",
    "student_seed",
    "weight_count",
]
