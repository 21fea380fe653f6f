"""``report``: report.md, report.html and report.json of a run directory (finished,
running or killed)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass
class ReportResult:
    """The files written, by kind (``html``, ``md``, ``json``)."""

    paths: dict[str, Path]


@dataclass
class ReportRequest:
    """Render the report of the run directory ``run_dir``."""

    run_dir: str | Path


def run(request: ReportRequest) -> ReportResult:
    """The ``report`` job."""
    return report(request.run_dir)


def report(run_dir: str | Path) -> ReportResult:
    """Renders the report of ``run_dir`` from what is on disk.

    Raises:
        ValueError: ``run_dir`` is not a run directory.
    """
    from n2n_tf.report import write_report

    return ReportResult({kind: Path(p) for kind, p in write_report(run_dir).items()})


__all__ = ["ReportRequest", "ReportResult", "report", "run"]
