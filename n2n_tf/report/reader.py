"""Reads a run directory as it is on disk: finished, still running, killed or old.

Nothing here needs the run to be complete: ``history.jsonl`` may end in a
half-written line, ``report.json`` and the checkpoint may be missing, and
files written by earlier versions lack keys added since.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import yaml

from n2n_tf.run_store import RunStore

logger = logging.getLogger(__name__)

REPORT_KEY = "report"
"""The key of ``report.json`` the report adds; every other key is compress's metrics."""


@dataclass
class RunData:
    """The files of one run directory, read leniently.

    Attributes:
        run_dir: the directory.
        config: ``config.yaml`` as a plain mapping ({} when missing).
        config_text: the file's text ("" when missing).
        history: the rows of ``history.jsonl`` that could be read.
        random: the rows of ``random.jsonl`` (random-search students), if any.
        skipped_lines: lines of the JSONL files that could not be read.
        metrics: compress's metrics from ``report.json`` ({} when missing).
        state: ``checkpoint/state.json`` (None when missing).
        plan: ``plan.json``'s plan (a ``--budget`` or ``--students`` run; None without).
    """

    run_dir: Path
    config: dict = field(default_factory=dict)
    config_text: str = ""
    history: list[dict] = field(default_factory=list)
    random: list[dict] = field(default_factory=list)
    skipped_lines: int = 0
    metrics: dict = field(default_factory=dict)
    state: dict | None = None
    plan: dict | None = None

    @property
    def complete(self) -> bool:
        """Whether compress finished (its metrics name a teacher and a student)."""
        return "teacher" in self.metrics and "student" in self.metrics

    def setting(self, section: str, key: str, default=None):
        """A value of the run's config, or ``default`` when the run did not write it."""
        value = (self.config.get(section) or {}).get(key)
        return default if value is None else value

    def planned_updates(self, stage: str):
        """The updates a stage was to run: its plan's, else its config's (None if neither)."""
        planned = (self.plan or {}).get("updates") or {}
        if stage in planned:
            return planned[stage]
        configured = self.setting("search", f"{stage}_updates")
        if configured is not None:
            return configured
        # A stage that takes another key's count (joint, ratio, offsets) says which.
        from n2n_tf.search.stages import STAGE_TYPES

        search = SimpleNamespace(**(self.config.get("search") or {}))
        try:
            return STAGE_TYPES[stage].planned_updates(SimpleNamespace(search=search))
        except (KeyError, AttributeError, TypeError, ValueError):
            return None


def _jsonl(path: Path) -> tuple[list[dict], int]:
    rows, skipped = [], 0
    if not path.is_file():
        return rows, skipped
    for line in path.read_text(errors="replace").splitlines():
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            skipped += 1  # a run killed while appending leaves a partial last line
            continue
        if isinstance(row, dict):
            rows.append(row)
        else:
            skipped += 1
    return rows, skipped


def _json(path: Path) -> dict | None:
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        logger.warning("Ignoring unreadable %s: %s", path, err)
        return None
    return data if isinstance(data, dict) else None


def load_run(run_dir: str | Path) -> RunData:
    """Reads what there is of a run directory.

    Raises:
        ValueError: ``run_dir`` is not a directory or holds none of
            ``config.yaml``, ``history.jsonl`` and ``report.json``.
    """
    run_dir = Path(run_dir)
    markers = ("config.yaml", "history.jsonl", "report.json")
    if not run_dir.is_dir() or not any((run_dir / m).is_file() for m in markers):
        raise ValueError(
            f"Expected a run directory written by `n2n-tf compress` (with {', '.join(markers)}). "
            f"Received: run_dir='{run_dir}'"
        )
    run, store = RunData(run_dir), RunStore(run_dir)
    config_path = store.config
    if config_path.is_file():
        run.config_text = config_path.read_text()
        try:
            loaded = yaml.safe_load(run.config_text)
        except yaml.YAMLError as err:
            logger.warning("Ignoring unreadable %s: %s", config_path, err)
            loaded = None
        run.config = loaded if isinstance(loaded, dict) else {}
    run.history, skipped = _jsonl(store.history())
    run.random, skipped_random = _jsonl(store.history(random=True))
    run.skipped_lines = skipped + skipped_random
    report = _json(store.report_json) or {}
    run.metrics = {k: v for k, v in report.items() if k != REPORT_KEY}
    run.state = _json(store.state())
    saved_plan = _json(store.plan) or {}
    run.plan = saved_plan.get("plan") if isinstance(saved_plan.get("plan"), dict) else None
    return run


__all__ = ["REPORT_KEY", "RunData", "load_run"]
