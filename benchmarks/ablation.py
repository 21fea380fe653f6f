"""Stage design x screen on/off: the policy search against random search at equal cost.

Issue 19's ablation. Every cell runs ``n2n-tf compress`` on one teacher and config
(default: the demo's teacher and ``configs/demo.yaml``) with the random baseline at
equal cost (as many distilled students per stage as the policy trained), for
``--seeds`` seeds, and reads both searches' best students from ``report.json``.
The cells:

- stage designs: ``removal+shrink`` (the paper's two stages; Stage 2 starts from
  the best Stage-1 architecture), ``shrink`` (Stage 2 alone, started from the
  teacher), ``joint`` (remove-or-a-factor per layer in one stage);
- screen off (every rollout distilled) or on (``--screen-rollouts`` rollouts per
  update, each screened, the ``--screen-top-k`` best distilled; the shrink and joint
  stages learn from every screen, the removal stage from its distilled rollouts).

Printed per cell: the mean over seeds of each search's best teacher-relative reward
(``policy``/``random``), the policy's wins, the students trained and the seconds;
the winner of each seed is the higher reward (a tie is no win). The fine-tune and
export are cut to one epoch and nothing: the cells compare searches.

    python benchmarks/ablation.py --teacher runs/demo/teacher.keras --seeds 3
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

DESIGNS = "removal+shrink,shrink,joint"  # each design: its stages joined by "+"


def screen_settings(on: bool, rollouts: int, top_k: int) -> list[str]:
    """The ``--set`` overrides of a screen-on (or off) cell."""
    if not on:
        return []
    return [
        f"search.rollouts={rollouts}",
        f"search.screen_top_k={top_k}",
        "search.screen_reward=[shrink,joint]",
    ]


def run_cell(args, design: str, screen: bool, seed: int) -> dict:
    """One ``compress`` run; its report's figures for the policy and random search."""
    out = Path(args.out) / f"{design}-screen{int(screen)}-seed{seed}"
    report = out / "report.json"
    if not report.is_file():
        sets = [
            f"search.stages=[{design.replace('+', ',')}]",
            "search.random_baseline=true",
            f"distill.finetune_epochs={args.finetune_epochs}",
            f"data.preprocess={args.preprocess}",
            *screen_settings(screen, args.screen_rollouts, args.screen_top_k),
            *args.set,
        ]
        cmd = [
            str(Path(sys.executable).with_name("n2n-tf")),
            "compress",
            "--teacher",
            args.teacher,
            "--config",
            args.config,
            "--out",
            str(out),
            "--seed",
            str(seed),
            "--no-export",
            "-q",
        ]
        for s in sets:
            cmd += ["--set", s]
        start = time.perf_counter()
        if out.exists():  # a killed cell starts again
            shutil.rmtree(out)
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"cell {out.name} failed:\n{done.stderr[-3000:]}")
        (out / "cell_seconds.txt").write_text(f"{time.perf_counter() - start:.1f}\n")
    metrics = json.loads(report.read_text())
    random = metrics["random_baseline"] or {}
    return {
        "policy": metrics["search"]["best_reward"],
        "policy_params": metrics["search"]["best_params"],
        "random": random.get("best_reward"),
        "random_params": random.get("best_params"),
        "students": metrics["students_trained"],
        "random_students": random.get("students"),
        "seconds": float((out / "cell_seconds.txt").read_text()),
        "test": metrics["student"]["test_accuracy"],
    }


def mean(cells: list[dict], key: str) -> float:
    return sum(c[key] for c in cells) / len(cells)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--teacher", default="runs/demo/teacher.keras")
    p.add_argument("--config", default="configs/demo.yaml")
    p.add_argument("--out", default="runs/ablation")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--designs", default=DESIGNS, help=f"stage lists (default {DESIGNS})")
    p.add_argument("--screens", default="0,1", help="screen off/on cells to run (0,1)")
    p.add_argument("--screen-rollouts", type=int, default=15)
    p.add_argument("--screen-top-k", type=int, default=3)
    p.add_argument("--finetune-epochs", type=int, default=1)
    p.add_argument("--preprocess", default="standardize")
    p.add_argument("--set", action="append", default=[], help="more config overrides")
    args = p.parse_args()
    designs = args.designs.split(",")
    screens = [bool(int(s)) for s in args.screens.split(",")]
    print(
        f"{'design':16} {'screen':6} {'wins':5} {'policy':>7} {'random':>7} "
        f"{'students':>9} {'random_st':>9} {'seconds':>8}"
    )
    for design in designs:
        for screen in screens:
            cells = [run_cell(args, design, screen, seed) for seed in range(args.seeds)]
            for seed, c in enumerate(cells):
                print(
                    f"  seed={seed} design={design} screen={int(screen)} "
                    f"policy={c['policy']:.4f} ({c['policy_params']}) "
                    f"random={c['random']:.4f} ({c['random_params']}) "
                    f"students={c['students']} random_students={c['random_students']} "
                    f"seconds={c['seconds']:.0f} test={c['test']:.4f}",
                    flush=True,
                )
            wins = sum(c["policy"] > c["random"] for c in cells)
            print(
                f"{design:16} {'on' if screen else 'off':6} {wins}/{len(cells):<3} "
                f"{mean(cells, 'policy'):7.4f} {mean(cells, 'random'):7.4f} "
                f"{mean(cells, 'students'):9.1f} {mean(cells, 'random_students'):9.1f} "
                f"{mean(cells, 'seconds'):8.0f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
