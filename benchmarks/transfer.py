"""Policy transfer (the paper's second claim): does a policy trained on a small teacher
speed up the search on a larger one?

For each pair SMALL:LARGE and each seed, three ``compress`` runs with the same plan:
the search on SMALL (its policies are the ones moved; ``--small-scale`` times the
updates, so they come from a finished search), the search on LARGE from
scratch, and the search on LARGE from SMALL's policies (``--policies``). Teachers are
trained here on a seeded subset of the dataset (a folder of class subfolders, e.g.
the real CIFAR-10 JPEGs). Printed, per pair (means over seeds):

- ``updates_to_best_<pair>_scratch`` / ``_transfer``: updates (both stages in order)
  until the run's best teacher-relative reward reaches the from-scratch run's final
  best of the same seed (a run that never reaches it counts all its updates + 1);
- ``..._<stage>``: the same within each stage against the from-scratch run's best of
  that stage (the stages after the first start from each run's own parent, so these
  say where the time went, not which run is ahead);
- ``final_best_<pair>_<kind>``: the best reward of a distilled student;
- ``ratio_<pair>``: transfer's updates over scratch's (goal: <= 0.5);
- the final students' test accuracy and size; a plot of the mean reward per update.

Every run is kept under ``--out`` and skipped when its report exists, so a killed
benchmark continues where it stopped.

    python benchmarks/transfer.py --dataset ../shared/datasets/cifar10-jpeg \\
        --pairs resnet20:resnet56,vgg11:vgg19 --seeds 3 --out /work/runs/transfer
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import numpy as np
from subsets import kept_subset, teacher_sets


def say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", required=True, help="a folder of class subfolders")
    p.add_argument("--out", default="runs/transfer")
    p.add_argument("--pairs", default="resnet20:resnet56,vgg11:vgg19")
    p.add_argument("--width", type=float, default=0.25, help="teacher width multiplier")
    p.add_argument("--per-class", type=int, default=500, help="subset: images per class")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--teacher-epochs", type=int, default=10)
    p.add_argument("--teacher-lr", type=float, default=0.05, help="SGD, cosine schedule")
    p.add_argument("--removal-updates", type=int, default=8)
    p.add_argument("--shrink-updates", type=int, default=8)
    p.add_argument(
        "--small-scale",
        type=int,
        default=2,
        help="the small teacher's search runs this many times the updates per stage "
        "(a finished search is what its policies come from)",
    )
    p.add_argument("--rollouts", type=int, default=5, help="students per update")
    p.add_argument("--steps", type=int, default=40, help="distillation steps per student")
    p.add_argument("--finetune-epochs", type=int, default=2)
    return p.parse_args(argv)


def curve(run: Path) -> tuple[list[float], dict[str, list[float]]]:
    """The mean policy reward per update (stages in order), and per stage the best
    teacher-relative reward of a valid distilled student so far, update by update."""
    rows = [json.loads(line) for line in (run / "history.jsonl").read_text().splitlines()]
    updates: dict[tuple[str, int], list[dict]] = {}
    for row in rows:
        updates.setdefault((row["stage"], row["update"]), []).append(row)
    means, bests = [], {}
    for (stage, _), group in updates.items():  # insertion order: stage by stage
        learnt = [r["policy_reward"] for r in group if r["policy_reward"] is not None]
        means.append(float(np.mean(learnt)) if learnt else -1.0)
        so_far = bests.setdefault(stage, [])
        best = so_far[-1] if so_far else -1.0
        for r in group:
            if r["valid"] and not r["violated"] and r["tier"] == "distill":
                best = max(best, r["reward"])
        so_far.append(best)
    return means, bests


def updates_to(bests: list[float], target: float) -> int:
    """The 1-based update at which ``bests`` first reaches ``target`` (len + 1: never)."""
    return next((i + 1 for i, b in enumerate(bests) if b >= target - 1e-9), len(bests) + 1)


def overall(bests: dict[str, list[float]]) -> list[float]:
    """The best reward so far over both stages, update by update (stages in order)."""
    out, best = [], -1.0
    for so_far in bests.values():
        for b in so_far:
            best = max(best, b)
            out.append(best)
    return out


def stage_updates(bests: dict[str, list[float]], targets: dict[str, float]) -> dict:
    """Per stage, the updates until that stage's best reaches the from-scratch run's
    final best of the same stage (each stage starts from its own parent, so stages are
    counted apart and summed), and the sum."""
    counts = {stage: updates_to(bests[stage], targets[stage]) for stage in targets}
    return {**counts, "total": sum(counts.values())}


def main(argv=None):
    args = parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    subset = kept_subset(args.dataset, args.per_class, 0, out / f"subset-{args.per_class}")

    from n2n_tf.config import load_config
    from n2n_tf.jobs.compress import compress
    from n2n_tf.jobs.preamble import begin, load_data
    from n2n_tf.jobs.train_teacher import train_teacher

    sets = [
        *teacher_sets(subset, args.teacher_lr, args.teacher_epochs),
        f"teacher.width={args.width}",
        f"search.removal_updates={args.removal_updates}",
        f"search.shrink_updates={args.shrink_updates}",
        f"search.rollouts={args.rollouts}",
        "search.random_baseline=false",
        f"distill.steps={args.steps}",
        f"distill.finetune_epochs={args.finetune_epochs}",
    ]
    config = load_config(None, sets)
    begin(config, fused=True)
    data = load_data(config)
    results, lines = {}, []
    for pair in args.pairs.split(","):
        small, large = pair.split(":")
        paths = {}
        for name in (small, large):
            paths[name] = out / f"teacher-{name}.keras"
            if not paths[name].is_file():
                cfg = dataclasses.replace(
                    config, teacher=dataclasses.replace(config.teacher, arch=name)
                )
                t0 = time.perf_counter()
                trained = train_teacher(cfg, paths[name], verbose=0)
                say(
                    f"teacher {name}: {trained.params:,} params, test "
                    f"{trained.test_accuracy:.4f}, {time.perf_counter() - t0:.0f} s"
                )
        rows = []
        for seed in range(args.seeds):
            cfg = dataclasses.replace(
                config, runtime=dataclasses.replace(config.runtime, seed=seed)
            )
            longer = dataclasses.replace(
                cfg,
                search=dataclasses.replace(
                    cfg.search,
                    removal_updates=args.removal_updates * args.small_scale,
                    shrink_updates=args.shrink_updates * args.small_scale,
                ),
            )
            runs = {
                "small": (paths[small], None, longer),
                "scratch": (paths[large], None, cfg),
                "transfer": (paths[large], out / pair / f"small-s{seed}", cfg),
            }
            for kind, (teacher, policies, plan) in runs.items():
                run = out / pair / f"{kind}-s{seed}"
                if not (run / "report.json").is_file():
                    t0 = time.perf_counter()
                    compress(
                        str(teacher),
                        data,
                        plan,
                        out=run,
                        formats=(),
                        policies=policies,
                        force=True,
                    )
                    say(f"{pair} seed {seed} {kind}: {time.perf_counter() - t0:.0f} s")
            scratch_means, scratch_bests = curve(out / pair / f"scratch-s{seed}")
            moved_means, moved_bests = curve(out / pair / f"transfer-s{seed}")
            targets = {stage: b[-1] for stage, b in scratch_bests.items()}
            target = max(targets.values())
            row = {"seed": seed, "target": target, "targets": targets}
            for kind, means, bests in (
                ("scratch", scratch_means, scratch_bests),
                ("transfer", moved_means, moved_bests),
            ):
                report = json.loads((out / pair / f"{kind}-s{seed}" / "report.json").read_text())
                counts = stage_updates(bests, targets)
                row[kind] = {
                    "means": means,
                    "updates_to_best": updates_to(overall(bests), target),
                    "stage_updates": counts,
                    "final_best": max(b[-1] for b in bests.values()),
                    "test_accuracy": report["student"]["test_accuracy"],
                    "params": report["student"]["params"],
                }
            rows.append(row)
        results[pair] = rows
        tag = pair.replace(":", "_to_")
        for kind in ("scratch", "transfer"):
            lines.append(
                f"updates_to_best_{tag}_{kind}="
                f"{np.mean([r[kind]['updates_to_best'] for r in rows]):.2f}"
            )
            for stage in rows[0]["targets"]:
                counts = [r[kind]["stage_updates"][stage] for r in rows]
                lines.append(f"updates_to_best_{tag}_{kind}_{stage}={np.mean(counts):.2f}")
            best = np.mean([r[kind]["final_best"] for r in rows])
            lines.append(f"final_best_{tag}_{kind}={best:.4f}")
            accuracy = np.mean([r[kind]["test_accuracy"] for r in rows])
            lines.append(f"test_accuracy_{tag}_{kind}={accuracy:.4f}")
            lines.append(f"params_{tag}_{kind}={np.mean([r[kind]['params'] for r in rows]):.0f}")
        ratio = np.mean([r["transfer"]["updates_to_best"] for r in rows]) / max(
            np.mean([r["scratch"]["updates_to_best"] for r in rows]), 1e-9
        )
        lines.append(f"ratio_{tag}={ratio:.3f}")
    (out / "results.json").write_text(json.dumps(results, indent=1))
    plot(results, out / "transfer.png")
    for line in lines:
        print(line)
    print(f"plot={out / 'transfer.png'}")


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(results), figsize=(5 * len(results), 3.6), squeeze=False)
    for ax, (pair, rows) in zip(axes[0], results.items(), strict=True):
        for kind, colour in (("scratch", "tab:gray"), ("transfer", "tab:blue")):
            curves = [r[kind]["means"] for r in rows]
            n = min(len(c) for c in curves)
            mean = np.mean([c[:n] for c in curves], axis=0)
            ax.plot(range(1, n + 1), mean, color=colour, label=f"{kind} (mean of {len(rows)})")
        ax.set_title(pair.replace(":", " -> "))
        ax.set_xlabel("update (both stages in order)")
        ax.set_ylabel("mean policy reward")
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
