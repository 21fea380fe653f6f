"""A latency target (``--target-latency``): at most this many milliseconds per image on
the measured TFLite latency, or a ratio to the teacher's (``4x``).

Latency is not something a graph can be asked, so the target is turned into a
multiply-add target the wall can hold (``search/target.py``): the teacher and
uniform-width students of it are converted to TFLite (float) and timed with
ai-edge-litert on this machine (single image, one thread, median of
``runs``), a line ``ms = a + b * MACs`` is fitted to them (least squares), and
the target becomes the multiply-adds at which the line meets it. The fit is
kept with the run (``latency.json``: a resumed run does not time again), and
the exported student's own measured latency is reported against the target.
"""

from __future__ import annotations

import dataclasses
import json
import math
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from n2n_tf import graph
from n2n_tf.atomic import atomic_path
from n2n_tf.runtime import width_multiple
from n2n_tf.search.target import number_or_ratio, parse_target
from n2n_tf.types import Architecture, ModelSpec

PROBE_FACTORS = (0.25, 0.5, 0.75)  # uniform widths timed beside the teacher
RUNS = 100  # timed invocations per model


@dataclass(frozen=True)
class LatencyFit:
    """``ms = intercept_ms + ms_per_mmac * MACs / 1e6``, fitted to ``points``."""

    intercept_ms: float
    ms_per_mmac: float
    teacher_ms: float
    points: tuple[tuple[int, float], ...]  # (multiply-adds, measured ms)

    def predict(self, flops: int) -> float:
        return self.intercept_ms + self.ms_per_mmac * flops / 1e6

    def flops_for(self, ms: float) -> int:
        """The multiply-adds at which the fitted line reaches ``ms``."""
        return int((ms - self.intercept_ms) / self.ms_per_mmac * 1e6)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> LatencyFit:
        points = tuple((int(f), float(ms)) for f, ms in d["points"])
        return cls(d["intercept_ms"], d["ms_per_mmac"], d["teacher_ms"], points)


def parse_latency(value, teacher_ms: float) -> float | None:
    """``value`` in milliseconds: ``"4x"`` -> ``teacher_ms / 4``; None stays None.

    Raises:
        ValueError: one line, for anything but a positive number or ratio.
    """
    if value is None or value == "":
        return None
    ms = number_or_ratio(str(value).strip().lower().removesuffix("ms"), teacher_ms)
    if not (ms > 0 and math.isfinite(ms)):
        raise ValueError(
            "search.target_latency is milliseconds per image (0.5) or a ratio to the "
            f"teacher's latency (4x). Received: target_latency={value!r}"
        )
    return ms


def time_tflite(model, runs: int = RUNS) -> float:
    """The median single-image TFLite (float) latency of ``model`` in ms, on this machine."""
    from n2n_tf.io.export import run_tflite, to_tflite

    shape = (1, *model.input_shape[1:])
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.tflite"
        path.write_bytes(to_tflite(model, "float"))
        image = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
        return run_tflite(path, image, runs)[1]


def fit_latency(teacher, spec: ModelSpec, options: dict, runs: int = RUNS) -> LatencyFit:
    """Times the teacher and its uniform-width students (``PROBE_FACTORS``) and fits the
    line through them."""
    points = [(spec.flops, time_tflite(teacher, runs))]
    for factor in PROBE_FACTORS:
        arch = Architecture(factors={x.name: factor for x in spec.layers if x.shrinkable})
        student = graph.rebuild(teacher, arch, **options)
        points.append((graph.count_flops(student), time_tflite(student, runs)))
    flops = np.array([p[0] for p in points], float) / 1e6
    ms = np.array([p[1] for p in points], float)
    slope, intercept = np.polyfit(flops, ms, 1)
    return LatencyFit(float(intercept), float(slope), points[0][1], tuple(points))


def latency_flops(value, fit: LatencyFit, teacher_flops: int) -> int:
    """The multiply-add target that ``value`` (ms or a ratio) comes to on ``fit``.

    Raises:
        ValueError: one line, when the line gives no such target: latency does not grow
            with multiply-adds here, or the target is not above what the narrowest
            student costs, or not below the teacher's.
    """
    ms = parse_latency(value, fit.teacher_ms)
    measured = ", ".join(f"{f / 1e6:.2f} M MACs: {t:.3f} ms" for f, t in fit.points)
    if fit.ms_per_mmac <= 0:
        raise ValueError(
            "search.target_latency cannot be held on this machine: the measured TFLite "
            f"latency does not grow with multiply-adds ({measured}); use --target-flops. "
            f"Received: target_latency={value!r}"
        )
    flops = fit.flops_for(ms)
    if flops >= teacher_flops:
        raise ValueError(
            f"search.target_latency must be below the teacher's {fit.teacher_ms:.3f} ms "
            f"(measured here). Received: target_latency={value!r} ({ms:.3f} ms)"
        )
    if flops <= 0.02 * teacher_flops:
        raise ValueError(
            f"search.target_latency {ms:.3f} ms is below what the narrowest student takes "
            f"here (about {fit.predict(0.02 * teacher_flops):.3f} ms; measured: {measured}). "
            f"Received: target_latency={value!r}"
        )
    return flops


def resolve_latency_target(config, teacher, saved: Path, runs: int = RUNS):
    """``config`` with ``search.target_latency`` turned into ``search.target_flops`` (the
    lower of the two when both are set), and the fit (None without a latency target).
    The fit is read from ``saved`` when it is there, else measured and written there."""
    s = config.search
    if s.target_latency is None:
        return config, None
    options = {"round_to": width_multiple(s.round_to)}
    spec = graph.inspect(teacher, **options)
    if saved.is_file():
        fit = LatencyFit.from_dict(json.loads(saved.read_text()))
    else:
        fit = fit_latency(teacher, spec, options, runs)
        saved.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(saved) as tmp:
            Path(tmp).write_text(json.dumps(fit.to_dict(), indent=1))
    flops = latency_flops(s.target_latency, fit, spec.flops)
    given = parse_target(s.target_flops, spec.flops, "target_flops")
    if given is not None:
        flops = min(flops, given)
    search = dataclasses.replace(s, target_flops=str(flops))
    return dataclasses.replace(config, search=search), fit


def latency_report(config, fit: LatencyFit | None, exported: dict | None, student) -> dict:
    """The report's ``latency`` entry: the target, the fit, and the student's measured
    TFLite float latency (the exported file's, else ``student`` timed here)."""
    if fit is None:
        return None
    target_ms = parse_latency(config.search.target_latency, fit.teacher_ms)
    measured = ((exported or {}).get("tflite") or {}).get("latency_ms")
    if measured is None:
        measured = time_tflite(student)
    return {
        "target_ms": target_ms,
        "teacher_ms": fit.teacher_ms,
        "target_flops": int(config.search.target_flops),
        "fit": fit.to_dict(),
        "student_ms": float(measured),
        "met": bool(measured <= target_ms),
    }


__all__ = [
    "LatencyFit",
    "fit_latency",
    "latency_flops",
    "latency_report",
    "parse_latency",
    "resolve_latency_target",
    "time_tflite",
]
