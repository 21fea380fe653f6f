"""The figures of a report, computed from a ``RunData`` (plain values, JSON-ready)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from n2n_tf.config import SearchConfig
from n2n_tf.report.reader import RunData

logger = logging.getLogger(__name__)

PAPER_STAGES = SearchConfig.stages  # the default; runs written before it existed used it


def run_stages(run: RunData) -> tuple[str, ...]:
    """The stages a run searched, in order (its config's ``search.stages``)."""
    return tuple(run.setting("search", "stages", PAPER_STAGES))


DEFAULT_PREPROCESS = "standardize"
"""What runs written before the preprocessing was recorded used."""


def _usable(row: dict) -> bool:
    return bool(row.get("valid")) and row.get("val_accuracy") is not None


def _in_constraints(row: dict) -> bool:
    return _usable(row) and not row.get("violated")


def updates(history: Iterable[dict], decay: float = 0.8) -> dict[str, list[dict]]:
    """Reward per policy update of each stage: mean, max, baseline and best so far.

    The baseline is the one the update used (``baseline`` in the history of
    newer runs; recomputed as the moving average of mean rewards otherwise).
    """
    grouped: dict[str, dict[int, list[dict]]] = {}
    for row in history:
        stage, update = row.get("stage"), row.get("update")
        if stage is None or update is None or row.get("reward") is None:
            continue
        grouped.setdefault(stage, {}).setdefault(int(update), []).append(row)
    out: dict[str, list[dict]] = {}
    for stage, by_update in grouped.items():
        rows, base, best = [], None, None
        for update in sorted(by_update):
            batch = by_update[update]
            rewards = [float(r["reward"]) for r in batch]
            mean = float(np.mean(rewards))
            # The baseline is on the scale the policy learnt from (Stage 2: vs its parent).
            values = [r.get("policy_reward", r["reward"]) for r in batch]
            values = [float(v) for v in values if v is not None] or [
                float(r["reward"]) for r in batch
            ]
            learnt = float(np.mean(values))
            recorded = [r["baseline"] for r in batch if r.get("baseline") is not None]
            used = float(recorded[0]) if recorded else (learnt if base is None else base)
            base = learnt if base is None else decay * base + (1 - decay) * learnt
            ok = [float(r["reward"]) for r in batch if _in_constraints(r)]
            if ok:
                best = max(ok) if best is None else max(best, max(ok))
            rows.append(
                {
                    "update": update + 1,
                    "mean_reward": mean,
                    "max_reward": max(rewards),
                    "baseline": used,
                    "best_reward": best,
                    "rollouts": len(batch),
                    "trained": sum(1 for r in batch if not r.get("cached")),
                }
            )
        out[stage] = rows
    return out


def _student_key(row: dict) -> tuple:
    factors = row.get("factors") or {}
    return (tuple(sorted(row.get("removed") or ())), tuple(sorted(factors.items())))


def screened_only(rows: Iterable[dict]) -> int:
    """Distinct students only screened (``tier: screen`` in every row of them)."""
    tiers: dict[tuple, set] = {}
    for row in rows:
        if row.get("valid") and row.get("params") is not None:
            tiers.setdefault(_student_key(row), set()).add(row.get("tier", "distill"))
    return sum(1 for seen in tiers.values() if seen == {"screen"})


def students(rows: Iterable[dict], source: str) -> list[dict]:
    """Every distinct scored student (invalid ones and repeats left out)."""
    seen, out = set(), []
    for row in rows:
        if not _usable(row) or row.get("params") is None:
            continue
        key = _student_key(row)
        if key in seen:
            continue
        seen.add(key)
        out.append(
            {
                "source": source,
                "stage": row.get("stage"),
                "params": int(row["params"]),
                "flops": int(row.get("flops") or 0),
                "val_accuracy": float(row["val_accuracy"]),
                "reward": float(row.get("reward", 0.0)),
                "within_constraints": not row.get("violated"),
                "removed": list(row.get("removed") or ()),
                "factors": dict(row.get("factors") or {}),
            }
        )
    return out


def pareto(points: list[dict], cost: str = "params") -> list[dict]:
    """The points no other point beats on both ``cost`` (lower) and accuracy (higher)."""
    front, best = [], -float("inf")
    for p in sorted(points, key=lambda p: (p[cost], -p["val_accuracy"])):
        if p["val_accuracy"] > best:
            front.append(p)
            best = p["val_accuracy"]
    return front


def best_architecture(run: RunData) -> tuple[dict | None, str]:
    """The student's architecture and where it comes from (final, checkpoint or history)."""
    student = run.metrics.get("student") or {}
    if isinstance(student.get("architecture"), dict):
        return student["architecture"], "final student"
    # As the search picks: Stage 2's best (its reward is against its parent, so it
    # is not compared with Stage 1's), else Stage 1's.
    bests = (run.state or {}).get("best") or {}
    for stage in reversed(run_stages(run)):
        if (bests.get(stage) or {}).get("score"):
            return bests[stage]["arch"], "best so far (checkpoint)"
    rows = [r for r in run.history if _in_constraints(r)]
    if rows:
        top = max(rows, key=lambda r: r["reward"])
        return {"removed": top.get("removed", []), "factors": top.get("factors", {})}, (
            "best so far (history)"
        )
    return None, "none yet"


def preprocess(run: RunData) -> str:
    """The preprocessing of the run's data (``standardize`` for runs that did not record it)."""
    value = run.metrics.get("preprocess")
    if value is None:
        value = run.setting("data", "preprocess")
    if value is None:
        return DEFAULT_PREPROCESS
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    return str(value)


def _load_keras(path: Path):
    from n2n_tf.io import load_model

    return load_model(str(path))


def layer_widths(run: RunData, arch: dict | None) -> tuple[list[dict], dict, str]:
    """Per weight layer: teacher and student widths, and whether it was removed.

    Reads the run's ``teacher.keras``; the student's widths come from
    ``final/student.keras``, else ``students/best.keras``, else the best
    architecture rebuilt from the teacher. Returns ``(rows, teacher_figures, note)``.
    """
    path = run.run_dir / "teacher.keras"
    if not path.is_file():
        return [], {}, "no teacher.keras in the run directory"
    try:
        from n2n_tf import graph
        from n2n_tf.types import Architecture

        teacher = _load_keras(path)
        round_to = int(run.setting("search", "round_to", 1))
        spec = graph.inspect(teacher, round_to=round_to)
        figures = {"params": int(spec.params), "flops": int(spec.flops)}
        if arch is None:
            rows = [_width_row(layer, layer.width, False) for layer in spec.layers]
            return rows, figures, "no student yet"
        student, note = None, ""
        for name in ("final/student.keras", "students/best.keras"):
            if (run.run_dir / name).is_file() and run.complete:
                student, note = _load_keras(run.run_dir / name), name
                break
        architecture = Architecture.from_dict(arch)
        if student is None:
            student = graph.rebuild(teacher, architecture, inherit=False, round_to=round_to)
            note = "rebuilt from the best architecture"
        rows = []
        for layer in spec.layers:
            removed = layer.name in architecture.removed
            width = None if removed else _output_width(student, layer.name)
            rows.append(_width_row(layer, width, removed))
        return rows, figures, note
    except (ValueError, NotImplementedError, OSError, KeyError) as err:
        logger.warning("No per-layer widths: %s", err)
        return [], {}, f"widths unavailable: {str(err).splitlines()[0] if str(err) else err}"


def _width_row(layer, student_width, removed: bool) -> dict:
    return {
        "layer": layer.name,
        "kind": layer.kind,
        "teacher": int(layer.width),
        "student": None if student_width is None else int(student_width),
        "removed": removed,
    }


def _output_width(model, name: str) -> int | None:
    try:
        layer = model.get_layer(name)
    except ValueError:
        return None
    shape = getattr(layer.output, "shape", None)
    return int(shape[-1]) if shape is not None and shape[-1] is not None else None


def tflite(metrics: dict) -> list[dict]:
    """One row per exported artifact: size, top-1 agreement, accuracy, max diff, latency."""
    rows = []
    for fmt, entry in (metrics.get("export") or {}).items():
        if not isinstance(entry, dict) or "bytes" not in entry:
            continue
        rows.append(
            {
                "format": fmt,
                "bytes": int(entry["bytes"]),
                "agreement": entry.get("agreement"),
                "accuracy": entry.get("accuracy"),
                "accuracy_delta": entry.get("accuracy_delta"),
                "max_abs_diff": entry.get("max_abs_diff"),
                "latency_ms": entry.get("latency_ms"),
            }
        )
    return rows


def summarize(run: RunData) -> dict:
    """Everything the report shows, as JSON-ready values (``report.json["report"]``)."""
    decay = float(run.setting("search", "baseline_decay", 0.8))
    arch, arch_source = best_architecture(run)
    widths, teacher_figures, widths_note = layer_widths(run, arch)
    teacher = {**teacher_figures, **(run.metrics.get("teacher") or {})}
    searched = students(run.history, "policy")
    random = students(run.random, "random")
    per_update = updates(run.history, decay)
    scored = searched + random
    return {
        "complete": run.complete,
        "status": "finished" if run.complete else "incomplete (running or killed)",
        "preprocess": preprocess(run),
        "teacher": teacher,
        "student": run.metrics.get("student") or {},
        "architecture": arch,
        "architecture_source": arch_source,
        "removed_layers": sorted((arch or {}).get("removed", [])),
        "updates": per_update,
        "updates_done": {stage: len(rows) for stage, rows in per_update.items()},
        "updates_planned": {stage: run.planned_updates(stage) for stage in run_stages(run)},
        "history_rows": len(run.history),
        "skipped_lines": run.skipped_lines,
        "best_scored": max(
            (p for p in searched if p["within_constraints"]),
            key=lambda p: p["reward"],
            default=None,
        ),
        "students_scored": len(searched),
        "students_screened_only": screened_only(run.history),
        "random_students_scored": len(random),
        "pareto_params": pareto(scored, "params"),
        "pareto_flops": pareto(scored, "flops"),
        "students": scored,
        "widths": widths,
        "widths_note": widths_note,
        "export": tflite(run.metrics),
    }


__all__ = ["pareto", "students", "summarize", "updates"]
