"""Lines about the run's latency target, shared by the CLI summary and the report."""

from __future__ import annotations


def latency_line(metrics: dict) -> str | None:
    """The latency target against the student's measured latency, or None."""
    latency = metrics.get("latency")
    if not latency:
        return None
    return (
        f"{latency['target_ms']:.3f} ms target (teacher {latency['teacher_ms']:.3f} ms, "
        f"TFLite float, measured here): student {latency['student_ms']:.3f} ms, "
        f"{'met' if latency['met'] else 'missed'}"
    )


__all__ = ["latency_line"]
