"""What a report says of a run whose policies came from another run (transfer)."""

from __future__ import annotations


def policies_line(metrics: dict) -> str | None:
    """Which run the search's policies started from (transfer), or None."""
    given = metrics.get("policies_from")
    if not given:
        return None
    parts = []
    for stage, source in given.items():
        run = source.get("run") or "a run saved without its source"
        size = source.get("teacher_params")
        size = f", teacher of {size:,} params" if isinstance(size, int) else ""
        parts.append(f"{stage}: {run}{size}")
    return "; ".join(parts)


__all__ = ["policies_line"]
