"""``RunStore``: the files of one run directory, in one place (no TensorFlow here).

    <run>/config.yaml            the resolved config
    <run>/plan.json              a --budget's plan, measured costs, search start
    <run>/teacher.keras          the run's copy of its teacher (resume uses it)
    <run>/history.jsonl          one row per rollout (random.jsonl: random search)
    <run>/checkpoint/            policies, optimisers, state (checkpoint_random/)
    <run>/policies/<stage>.weights.h5   the trained policies, for reuse
    <run>/students/best.keras    the search's best student before its fine-tune
    <run>/final/                 the fine-tuned student and its exports
    <run>/report.json|.md|.html, report_plots/, tensorboard/

Every write goes through ``atomic`` (write beside, then rename), so a killed
run leaves the old file or the new one; history rows are appended and synced.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from n2n_tf.atomic import atomic_path, write_text


class RunStore:
    """The paths of a run directory and the writes into it.

    Args:
        root: the run directory (created on the first write).
    """

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"RunStore({str(self.root)!r})"

    # ------------------------------------------------------------ paths
    @property
    def config(self) -> Path:
        return self.root / "config.yaml"

    @property
    def plan(self) -> Path:
        return self.root / "plan.json"

    @property
    def teacher(self) -> Path:
        return self.root / "teacher.keras"

    def history(self, random: bool = False) -> Path:
        return self.root / ("random.jsonl" if random else "history.jsonl")

    def checkpoint(self, random: bool = False) -> Path:
        return self.root / ("checkpoint_random" if random else "checkpoint")

    def state(self, random: bool = False) -> Path:
        return self.checkpoint(random) / "state.json"

    def policy(self, stage: str) -> Path:
        return self.root / "policies" / f"{stage}.weights.h5"

    @property
    def best_student(self) -> Path:
        return self.root / "students" / "best.keras"

    @property
    def final(self) -> Path:
        return self.root / "final"

    @property
    def final_student(self) -> Path:
        return self.final / "student.keras"

    @property
    def report_json(self) -> Path:
        return self.root / "report.json"

    @property
    def report_md(self) -> Path:
        return self.root / "report.md"

    @property
    def report_html(self) -> Path:
        return self.root / "report.html"

    @property
    def report_plots(self) -> Path:
        return self.root / "report_plots"

    @property
    def tensorboard(self) -> Path:
        return self.root / "tensorboard"

    # ------------------------------------------------------------ writes and reads
    def atomic(self, path: Path, directory: bool = False):
        """``atomic_path`` for a path of this run (see ``n2n_tf.atomic``)."""
        return atomic_path(path, directory=directory)

    def write_text(self, path: Path, text: str) -> Path:
        return write_text(path, text)

    def write_json(self, path: Path, data, default=None) -> Path:
        return write_text(path, json.dumps(data, indent=2, default=default))

    def read_json(self, path: Path):
        """The JSON in ``path``, or None when there is no such file."""
        return json.loads(path.read_text()) if path.is_file() else None

    def append_rows(self, path: Path, rows: list[dict], default=None) -> None:
        """Appends JSON lines and syncs them to disk (a killed run keeps whole rows)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a") as fh:
            for row in rows:
                fh.write(json.dumps(row, default=default) + "\n")
            fh.flush()
            os.fsync(fh.fileno())

    def keep_rows(self, path: Path, lines: int) -> None:
        """Cuts a JSON-lines file back to its first ``lines`` rows (resume after a kill)."""
        if not path.exists():
            return
        kept = path.read_text().splitlines(keepends=True)[:lines]
        write_text(path, "".join(kept))


__all__ = ["RunStore"]
