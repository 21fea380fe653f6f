"""Where a finished ``compress`` run's time went, read from its run directory.

Phases are told apart by when each phase's last file was written: the policy
search (history.jsonl), the random-search baseline (random.jsonl), the fine-tune
(final/student.keras), the export (the newest file under final/) and the report.
The job's own start is ``job_seconds`` before report.json was written.

    python benchmarks/demo_split.py runs/demo/search
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def split(run: Path) -> dict[str, float]:
    report = json.loads((run / "report.json").read_text())
    end = (run / "report.json").stat().st_mtime
    start = end - float(report["job_seconds"])
    marks = [("preamble", run / "config.yaml"), ("policy_search", run / "history.jsonl")]
    if (run / "random.jsonl").is_file():
        marks.append(("random_search", run / "random.jsonl"))
    marks.append(("finetune", run / "final" / "student.keras"))
    final = [p for p in (run / "final").rglob("*") if p.is_file()]
    marks.append(("export", max(final, key=lambda p: p.stat().st_mtime)))
    marks.append(("report", run / "report.json"))
    out, last = {}, start
    for name, path in marks:
        t = path.stat().st_mtime
        out[name] = round(max(0.0, t - last), 1)
        last = max(last, t)
    out["total"] = round(end - start, 1)
    return out


if __name__ == "__main__":
    result = split(Path(sys.argv[1]))
    print(" ".join(f"{k}_s={v}" for k, v in result.items()))
