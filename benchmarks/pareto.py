"""Accuracy vs size on real CIFAR-10: n2n-tf's search against the baselines users try first.

Run (full, about an hour on a 2-core CPU with a ResNet-20 teacher from
``n2n-tf train-teacher --arch resnet20 --dataset folder:PATH ...``):

    python benchmarks/pareto.py --teacher /work/teachers/resnet20-cifar.keras

Smoke test (one seed, a 200-image-per-class subset, a small teacher trained
here when --teacher is not given, a tiny plan; about 5 minutes):

    python benchmarks/pareto.py --quick

Methods (every final student is a student of the same teacher):

- ``n2n``: ``Search(...).run()`` per seed (``runtime.seed`` = 0, 1, 2), its
  student ``search.best()``.
- ``random``: the same loop with ``RandomPolicy`` in both stages and the same
  environment settings, ending each stage once it has trained as many students
  as that seed's n2n stage did (``Search(random=True, max_students=...)``, what
  ``random_search`` runs); its student ``.best()``.
- ``uniform``: every shrinkable layer's width x s for each ``--widths`` s, a
  fresh initialisation (``inherit=False``): the width multiplier a user trains.
- ``l1``: uniform-ratio L1-norm filter pruning (Li et al., ICLR 2017: keep the
  filters with the largest L1 norms, here with one pruning ratio for every
  layer and no per-layer sensitivity analysis): one width factor on every
  shrinkable layer, bisected with ``graph.estimate`` to the factor whose student's
  parameter count is nearest that seed's n2n student's, the teacher's weights
  inherited (``graph.rebuild(inherit=True)`` ranks channels by L1 norm).
- ``l1_width``: the same L1 pruning at every ``--widths`` s (the L1 curve; the
  same architectures as ``uniform``, inherited instead of trained from scratch).

Equal cost: n2n and random train the same number of students per stage, each
scored by the same short distillation (``distill.steps`` steps on the seeded
``distill.train_fraction`` share of the training split, validation accuracy);
uniform and L1 need no search. Every final student then gets the same
fine-tune as ``n2n-tf compress`` gives its student: rebuilt from the teacher
(inherited, or fresh for ``uniform``), ``env.trainer.fit([student], data,
epochs=distill.finetune_epochs)`` on the full training split.

Measured per final student: test accuracy (the held-out test split, never used
for training or choosing), validation accuracy, parameters, multiply-adds,
TFLite float32 latency (batch 1, one thread, median over ``--latency-runs``,
ms per image, ai-edge-litert), and the paper's reward ``(acc_s / acc_t) * C (2 -
C)``, ``C = 1 - params_s / params_t`` with validation accuracies (as the search
computes it; ``reward_test`` uses test accuracies). Searches and L1 run for
every seed; uniform and L1-width students once per width (their architecture
does not depend on a seed).

The cheap score: every final student's validation accuracy after the short
scoring distillation (for searched students the search's own score; for the
others ``Environment.score`` in a fork of the search's environment, with
``search.inherit`` set as the student is built), and again at half the
scoring steps. ``spearman_cheap_vs_finetuned`` is Spearman's rank correlation
between the cheap score and the test accuracy after the fine-tune over every
final student (``students_ranked`` of them); the ``_inherited`` variant leaves
out the ``uniform`` students (the search only ranks inherited students).

Output in ``--out``: ``results.json`` (written after every step, so a killed
run loses nothing; ``--resume`` skips what is done), ``results.md`` (the
tables), ``pareto.png`` (test accuracy vs parameters, log x, teacher as a
point), and printed ``name=value`` lines: per-phase seconds, the Spearman
correlations, ``mean_reward_<method>``, ``n2n_beats_all_baselines`` (n2n's mean
reward above random's, l1's, and both the best and the nearest-in-parameters
uniform and L1-width students'), and ``n2n_above_uniform_curve`` (n2n's mean
test accuracy above the uniform curve, linearly interpolated in log-parameters
at n2n's mean parameters; outside the curve, its nearest end's accuracy, and
``uniform_curve_outside_range=true``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from subsets import kept_subset

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

DATASET = "folder:../shared/datasets/cifar10-jpeg/train"
SEARCHED = ("n2n", "random")
PER_SEED = ("n2n", "random", "l1")
PER_WIDTH = ("uniform", "l1_width")
METHODS = (*PER_SEED, *PER_WIDTH)
SCORE_SEED = 4242  # scoring seed of the baseline students (searches use their own)

# Plan knobs: (full run, --quick). --set overrides win over both.
PLANS = {
    "seeds": (3, 1),
    "rollouts": (4, 3),
    "removal_updates": (3, 2),
    "shrink_updates": (3, 2),
    "steps": (40, 8),
    "train_fraction": (0.25, 0.5),
    "finetune_epochs": (2, 1),
    "widths": ("0.125,0.25,0.375,0.5,0.625,0.75", "0.25,0.5"),
    "subset": (0, 200),
    "latency_runs": (100, 20),
}


# ---------------------------------------------------------------- bookkeeping
class Results:
    """``results.json``: the teacher, the plan, one row per final student, phase seconds."""

    def __init__(self, path: Path, resume: bool):
        self.path = path
        self.data = {"teacher": None, "plan": None, "rows": [], "phases": {}}
        if path.exists():
            if not resume:
                raise SystemExit(
                    f"{path} exists: pass --resume to continue that run or choose another --out"
                )
            self.data = json.loads(path.read_text())

    def save(self) -> None:
        from n2n_tf.atomic import write_text
        from n2n_tf.search.loop import plain

        write_text(self.path, json.dumps(self.data, indent=1, default=plain))

    def row(self, key: str) -> dict | None:
        return next((r for r in self.data["rows"] if r["key"] == key), None)

    def put(self, row: dict) -> dict:
        old = self.row(row["key"])
        if old is None:
            self.data["rows"].append(row)
        else:
            old.update(row)
            row = old
        self.save()
        return row

    @property
    def rows(self) -> list[dict]:
        return self.data["rows"]


class Phases:
    """Wall seconds per phase (accumulated over resumed runs)."""

    def __init__(self, results: Results):
        self.results = results
        self.seconds = results.data.setdefault("phases", {})

    @contextmanager
    def __call__(self, name: str):
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start
            self.results.save()


def say(text: str) -> None:
    print(text, flush=True)


# ---------------------------------------------------------------- setup
def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--teacher", help="a trained .keras teacher (required unless --quick)")
    p.add_argument("--dataset", default=DATASET, help=f"default: {DATASET}")
    p.add_argument("--out", default="runs/pareto", help="output directory (default runs/pareto)")
    p.add_argument("--quick", action="store_true", help="smoke test: tiny plan, subset, 1 seed")
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    p.add_argument("--config", help="a YAML config to start from (default: built-in defaults)")
    p.add_argument("--seeds", type=int, help="search seeds (full 3, quick 1)")
    p.add_argument("--rollouts", type=int, help="search.rollouts (full 4, quick 3)")
    p.add_argument("--removal-updates", type=int, help="search.removal_updates (full 3, quick 2)")
    p.add_argument("--shrink-updates", type=int, help="search.shrink_updates (full 3, quick 2)")
    p.add_argument("--steps", type=int, help="distill.steps per scored student (full 40, quick 8)")
    p.add_argument(
        "--train-fraction",
        type=float,
        help="distill.train_fraction: share of the training split scoring uses (full 0.25)",
    )
    p.add_argument("--finetune-epochs", type=int, help="distill.finetune_epochs (full 2, quick 1)")
    p.add_argument("--widths", help="uniform widths, comma-separated (full 0.125,0.25,...,0.75)")
    p.add_argument("--subset", type=int, help="seeded subset: images per class (0: all; quick 200)")
    p.add_argument("--latency-runs", type=int, help="timed TFLite runs per student (0: skip)")
    p.add_argument("--finetune-group", type=int, default=4, help="students fine-tuned together")
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="config override, applied last (repeatable)",
    )
    args = p.parse_args(argv)
    for name, (full, quick) in PLANS.items():
        if getattr(args, name) is None:
            setattr(args, name, quick if args.quick else full)
    args.widths = [float(w) for w in str(args.widths).split(",") if w.strip()]
    if not args.teacher and not args.quick:
        p.error("--teacher is required (or --quick, which trains a tiny teacher)")
    if not 0.0 < args.train_fraction <= 1.0:
        p.error(f"--train-fraction must be in (0, 1]. Received: {args.train_fraction}")
    return args


def make_config(args, dataset: str):
    from n2n_tf.config import load_config

    sets = [
        f"data.dataset={dataset}",
        f"search.rollouts={args.rollouts}",
        f"search.removal_updates={args.removal_updates}",
        f"search.shrink_updates={args.shrink_updates}",
        f"distill.steps={args.steps}",
        f"distill.finetune_epochs={args.finetune_epochs}",
        f"distill.train_fraction={args.train_fraction}",
    ]
    return load_config(args.config, [*sets, *args.overrides])


def quick_teacher(config, path: Path) -> str:
    """A small ResNet-20 (width 0.5, 15 epochs) trained on the quick subset, saved at ``path``."""
    from n2n_tf.jobs.train_teacher import train_teacher

    if path.exists():
        return str(path)
    sets = {"arch": "resnet20", "width": 0.5, "epochs": 15, "learning_rate": 2e-3}
    cfg = dataclasses.replace(config, teacher=dataclasses.replace(config.teacher, **sets))
    result = train_teacher(cfg, path, verbose=0)
    say(
        f"quick teacher: resnet20 x0.5, {result.params:,} params, {result.seconds:.0f} s, "
        f"val {result.val_accuracy:.4f}, test {result.test_accuracy:.4f}"
    )
    return str(path)


def check_split(teacher_path: str, config, subset: int) -> None:
    """Warns when the teacher's saved config carved its splits differently (test leakage)."""
    import yaml

    side = Path(teacher_path).with_name(f"{Path(teacher_path).stem}.config.yaml")
    if subset:
        say(
            "WARNING: --subset carves new splits; a teacher trained on the full folder has "
            "seen some of this test split (test accuracies are optimistic)"
        )
    if not side.is_file():
        return
    saved = (yaml.safe_load(side.read_text()) or {}).get("data", {})
    for key in ("val_fraction", "test_fraction", "split_seed"):
        if key in saved and saved[key] != getattr(config.data, key):
            say(
                f"WARNING: the teacher was trained with data.{key}={saved[key]}, this run "
                f"uses {getattr(config.data, key)}: its test split may overlap the teacher's "
                "training data"
            )


# ---------------------------------------------------------------- scoring
def half_budget(env) -> dict:
    """Half of the scoring distillation, as ``steps``/``epochs`` for ``Environment.fork``."""
    d = env.trainer.config
    if d.steps:
        return {"steps": max(1, d.steps // 2)}
    if d.epochs >= 2:
        return {"epochs": d.epochs // 2}
    n = env.data.info.split_sizes["train"]
    return {"steps": max(1, math.ceil(d.epochs * math.ceil(n / env.data.batch_size) / 2))}


def score_rows(env, rows: list[dict], field: str, seed: int = SCORE_SEED) -> None:
    """Sets ``row[field]`` to each row's validation accuracy after ``env``'s scoring
    distillation (one ``Environment.score`` call: the students train together)."""
    from n2n_tf.types import Architecture

    if not rows:
        return
    archs = [Architecture.from_dict(r["architecture"]) for r in rows]
    for row, (score, _) in zip(rows, env.score(archs, 0, seed), strict=True):
        row[field] = score.val_accuracy if score.valid else None
        if not score.valid:
            row[f"{field}_reason"] = score.reason


# ---------------------------------------------------------------- final students
def latency_ms(model, x, runs: int) -> float | None:
    """Median batch-1 TFLite float32 latency (ms), one thread, ai-edge-litert."""
    if runs <= 0:
        return None
    from n2n_tf.io import run_tflite, to_tflite

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.tflite"
        path.write_bytes(to_tflite(model, "float"))
        return run_tflite(path, x, runs)[1]


def finetune(env, data, teacher, rows, args, results, phases, teacher_row) -> None:
    """Fine-tunes, evaluates and times ``rows`` (``--finetune-group`` students per ``fit``)
    with the library's ``finetune_and_measure``, as the compress job does its student."""
    import keras
    import numpy as np

    from n2n_tf import graph
    from n2n_tf.search.finetune import finetune_and_measure
    from n2n_tf.search.reward import reward
    from n2n_tf.types import Architecture

    x = np.concatenate([xb.numpy() for xb, _ in data.val.take(1)])[:8]
    epochs = env.config.distill.finetune_epochs
    for start in range(0, len(rows), max(1, args.finetune_group)):
        group = rows[start : start + max(1, args.finetune_group)]
        students = []
        for row in group:
            keras.utils.set_random_seed(row["build_seed"])
            arch = Architecture.from_dict(row["architecture"])
            students.append(graph.rebuild(teacher, arch, inherit=row["inherit"], **env.options))
        labels = ", ".join(r["key"] for r in group)
        with phases("finetune"):
            measured = finetune_and_measure(env, students, data, epochs, seed=SCORE_SEED)
        for row, student, m in zip(group, students, measured, strict=True):
            if m.failed:
                row.update(status="failed", reason=m.reason)
                results.put(row)
                continue
            with phases("latency"):
                lat = latency_ms(student, x, args.latency_runs)
            row.update(
                status="done",
                params=m.params,
                flops=m.flops,
                val_accuracy=m.val_accuracy,
                test_accuracy=m.test_accuracy,
                latency_ms=lat,
                reward=m.reward,
                reward_test=reward(
                    m.params, teacher_row["params"], m.test_accuracy, teacher_row["test_accuracy"]
                ),
                finetune_epochs=epochs,
                finetune_seconds=m.seconds,
                finetune_group=len(group),
            )
            results.put(row)
        say(f"fine-tuned [{labels}] in {measured[0].seconds:.0f} s ({epochs} epoch(s))")


# ---------------------------------------------------------------- analysis
def spearman(a, b) -> float | None:
    from scipy.stats import spearmanr

    if len(a) < 3:
        return None
    return float(spearmanr(a, b)[0])


def _mean_std(values):
    import numpy as np

    values = [v for v in values if v is not None]
    if not values:
        return None, None
    return float(np.mean(values)), float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def _interp_log(points, params: float) -> tuple[float, bool]:
    """Accuracy of a curve ``[(params, acc)]`` at ``params``, linear in log-params;
    outside the curve the nearest end's accuracy (not extrapolated), flagged True."""
    import numpy as np

    pts = sorted(points)
    xs = np.log([p for p, _ in pts])
    ys = np.array([a for _, a in pts])
    x = math.log(params)
    return float(np.interp(x, xs, ys)), bool(x < xs[0] or x > xs[-1])


FIELDS = (
    ("test_accuracy", "test acc", "{:.4f}"),
    ("val_accuracy", "val acc", "{:.4f}"),
    ("params", "params", "{:,.0f}"),
    ("flops", "MACs", "{:,.0f}"),
    ("latency_ms", "TFLite ms", "{:.3f}"),
    ("reward", "reward", "{:.4f}"),
    ("reward_test", "reward (test)", "{:.4f}"),
    ("cheap_score", "cheap score", "{:.4f}"),
    ("cheap_score_half", "cheap score (half)", "{:.4f}"),
)


def _cell(values, fmt) -> str:
    mean, std = _mean_std(values)
    if mean is None:
        return "-"
    if len([v for v in values if v is not None]) < 2:
        return fmt.format(mean)
    return f"{fmt.format(mean)} ± {fmt.format(std)}"


def tables(results: Results) -> str:
    """The markdown tables: per method mean ± std over seeds; per width for the curves."""
    t = results.data["teacher"]
    done = [r for r in results.rows if r.get("status") == "done"]
    head = "| method | n | " + " | ".join(label for _, label, _ in FIELDS) + " |"
    rule = "|" + "---|" * (len(FIELDS) + 2)
    lines = ["## Per method (mean ± std over seeds)", "", head, rule]
    teacher = {"test_accuracy": t["test_accuracy"], "val_accuracy": t["val_accuracy"]}
    teacher.update(params=t["params"], flops=t["flops"], latency_ms=t.get("latency_ms"))
    cells = ["-" if teacher.get(k) is None else fmt.format(teacher[k]) for k, _, fmt in FIELDS]
    lines.append("| teacher | 1 | " + " | ".join(cells) + " |")
    for method in PER_SEED:
        rows = [r for r in done if r["method"] == method]
        if rows:
            cells = [_cell([r.get(k) for r in rows], fmt) for k, _, fmt in FIELDS]
            lines.append(f"| {method} | {len(rows)} | " + " | ".join(cells) + " |")
    lines += ["", "## Per width (one student each)", "", head.replace("method", "method, s"), rule]
    for method in PER_WIDTH:
        for r in sorted((r for r in done if r["method"] == method), key=lambda r: r["width"]):
            cells = ["-" if r.get(k) is None else fmt.format(r[k]) for k, _, fmt in FIELDS]
            lines.append(f"| {method} {r['width']:g} | 1 | " + " | ".join(cells) + " |")
    lines += ["", "## Searches (per seed)", ""]
    lines.append("| method | seed | students trained | search s | removed | factors |")
    lines.append("|---|---|---|---|---|---|")
    for r in results.rows:
        if r["method"] in SEARCHED:
            s = r.get("search", {})
            arch = r["architecture"]
            factors = sorted({round(v, 2) for v in arch["factors"].values()})
            lines.append(
                f"| {r['method']} | {r['seed']} | {s.get('students_trained')} | "
                f"{s.get('seconds', 0):.0f} | {len(arch['removed'])} layers | {factors} |"
            )
    return "\n".join(lines) + "\n"


def plot(results: Results, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = results.data["teacher"]
    done = [r for r in results.rows if r.get("status") == "done"]
    fig, ax = plt.subplots(figsize=(7, 5))
    styles = {
        "uniform": ("uniform width (scratch)", "tab:gray", "o-"),
        "l1_width": ("L1 pruning, uniform ratio", "tab:green", "s-"),
    }
    for method, (label, colour, style) in styles.items():
        rows = sorted((r for r in done if r["method"] == method), key=lambda r: r["params"])
        if rows:
            ax.plot(
                [r["params"] for r in rows],
                [r["test_accuracy"] for r in rows],
                style,
                color=colour,
                label=label,
                alpha=0.8,
            )
    points = {
        "n2n": ("n2n-tf search", "tab:red", "*", 160),
        "random": ("random search", "tab:blue", "^", 60),
        "l1": ("L1 pruning at n2n's size", "tab:olive", "D", 50),
    }
    for method, (label, colour, marker, size) in points.items():
        rows = [r for r in done if r["method"] == method]
        if rows:
            ax.scatter(
                [r["params"] for r in rows],
                [r["test_accuracy"] for r in rows],
                marker=marker,
                s=size,
                color=colour,
                label=label,
                zorder=3,
            )
    ax.scatter(
        [t["params"]], [t["test_accuracy"]], marker="P", s=120, color="black", label="teacher"
    )
    ax.set_xscale("log")
    ax.set_xlabel("trainable parameters (log)")
    ax.set_ylabel("test accuracy after the fine-tune")
    plan = results.data["plan"]
    ax.set_title(
        f"teacher {Path(plan['teacher']).name}, {plan['seeds']} seed(s), "
        f"{plan['finetune_epochs']} fine-tune epoch(s) per student",
        fontsize=10,
    )
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def summary(results: Results) -> list[str]:
    """The final ``name=value`` lines."""
    import numpy as np

    done = [r for r in results.rows if r.get("status") == "done"]
    lines = []
    ranked = [r for r in done if r.get("cheap_score") is not None]
    cheap = [r["cheap_score"] for r in ranked]
    lines.append(
        f"spearman_cheap_vs_finetuned={_fmt(spearman(cheap, [r['test_accuracy'] for r in ranked]))}"
    )
    lines.append(f"students_ranked={len(ranked)}")
    lines.append(
        "spearman_cheap_vs_finetuned_val="
        f"{_fmt(spearman(cheap, [r['val_accuracy'] for r in ranked]))}"
    )
    inherited = [r for r in ranked if r["inherit"]]
    lines.append(
        "spearman_cheap_vs_finetuned_inherited="
        f"{_fmt(spearman([r['cheap_score'] for r in inherited], [r['test_accuracy'] for r in inherited]))}"  # noqa: E501
    )
    lines.append(f"students_ranked_inherited={len(inherited)}")
    half = [r for r in ranked if r.get("cheap_score_half") is not None]
    lines.append(
        "spearman_cheap_half_vs_finetuned="
        f"{_fmt(spearman([r['cheap_score_half'] for r in half], [r['test_accuracy'] for r in half]))}"  # noqa: E501
    )
    lines.append(
        "spearman_cheap_half_vs_cheap="
        f"{_fmt(spearman([r['cheap_score_half'] for r in half], [r['cheap_score'] for r in half]))}"
    )
    lines.append(f"students_ranked_half={len(half)}")

    means = {}
    for method in PER_SEED:
        mean, std = _mean_std([r["reward"] for r in done if r["method"] == method])
        means[method] = mean
        lines.append(f"mean_reward_{method}={_fmt(mean)}")
        lines.append(f"std_reward_{method}={_fmt(std)}")
    n2n = [r for r in done if r["method"] == "n2n"]
    n2n_params = float(np.mean([r["params"] for r in n2n])) if n2n else None
    for method in PER_WIDTH:
        rows = [r for r in done if r["method"] == method]
        if not rows:
            continue
        best = max(rows, key=lambda r: r["reward"])
        means[f"{method}_best"] = best["reward"]
        lines.append(f"mean_reward_{method}_best={_fmt(best['reward'])}")
        lines.append(f"{method}_best_width={best['width']:g}")
        if n2n_params:
            near = min(rows, key=lambda r: abs(math.log(r["params"] / n2n_params)))
            means[f"{method}_nearest"] = near["reward"]
            lines.append(f"mean_reward_{method}_nearest={_fmt(near['reward'])}")
            lines.append(f"{method}_nearest_width={near['width']:g}")
    if means.get("n2n") is not None:
        beats = {k: means["n2n"] > v for k, v in means.items() if k != "n2n" and v is not None}
        for k, v in beats.items():
            lines.append(f"n2n_beats_{k}={str(v).lower()}")
        lines.append(f"n2n_beats_all_baselines={str(bool(beats) and all(beats.values())).lower()}")
    uni = [(r["params"], r["test_accuracy"]) for r in done if r["method"] == "uniform"]
    if n2n and len(uni) >= 2:
        acc = float(np.mean([r["test_accuracy"] for r in n2n]))
        curve, outside = _interp_log(uni, n2n_params)
        lines.append(f"n2n_mean_params={n2n_params:.0f}")
        lines.append(f"n2n_mean_test_accuracy={acc:.4f}")
        lines.append(f"uniform_curve_at_n2n_params={curve:.4f}")
        lines.append(f"uniform_curve_outside_range={str(outside).lower()}")
        lines.append(f"n2n_above_uniform_curve={str(acc > curve).lower()}")
        l1 = [(r["params"], r["test_accuracy"]) for r in done if r["method"] == "l1_width"]
        if len(l1) >= 2:
            curve, outside = _interp_log(l1, n2n_params)
            lines.append(f"l1_curve_at_n2n_params={curve:.4f}")
            lines.append(f"l1_curve_outside_range={str(outside).lower()}")
            lines.append(f"n2n_above_l1_curve={str(acc > curve).lower()}")
    return lines


def _fmt(value) -> str:
    return "nan" if value is None else f"{value:.4f}"


# ---------------------------------------------------------------- the run
def main(argv=None):
    args = parse_args(argv)
    wall = time.perf_counter()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results = Results(out / "results.json", args.resume)
    phases = Phases(results)

    dataset = args.dataset
    if args.subset:
        root = os.path.abspath(dataset.removeprefix("folder:"))
        dataset = "folder:" + kept_subset(root, args.subset, 0, out / f"subset-{args.subset}")
    config = make_config(args, dataset)

    from n2n_tf.jobs.preamble import begin, load_data, prepare

    # As `n2n-tf compress` starts: thread pools (before TensorFlow starts) and seeds.
    begin(config, fused=True)
    import keras
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")  # retracing warnings of many small fits
    from n2n_tf import graph
    from n2n_tf.jobs.compress import resolve_teacher
    from n2n_tf.runtime import resolve_device_defaults
    from n2n_tf.search.environment import Environment
    from n2n_tf.search.loop import Search

    teacher_path = args.teacher
    if teacher_path is None:
        with phases("teacher_training"):
            teacher_path = quick_teacher(config, out / "quick-teacher.keras")
        if config.data.preprocess == "auto":  # how train-teacher scaled its inputs
            data_config = dataclasses.replace(config.data, preprocess="standardize")
            config = dataclasses.replace(config, data=data_config)
    else:
        check_split(teacher_path, config, args.subset)
    with phases("data"):
        data = load_data(config)
    with phases("teacher"):
        teacher = resolve_teacher(teacher_path, data)
        prepared = prepare(teacher, data, config, force=args.teacher is None)
        teacher, data, config = prepared.teacher, prepared.data, prepared.config
        config = resolve_device_defaults(config)
    sizes = data.info.split_sizes
    say(
        f"data: {dataset}, splits {sizes}, augment {data.info.augment}, preprocess "
        f"{config.data.preprocess}; students scored on {config.distill.train_fraction:g} of "
        "the training split"
    )
    with phases("environment"):  # the scoring subset (distill.train_fraction) and the teacher
        env = Environment(teacher, data, config)
    plan = {
        "dataset": dataset,
        "teacher": teacher_path,
        "seeds": args.seeds,
        "rollouts": config.search.rollouts,
        "removal_updates": config.search.removal_updates,
        "shrink_updates": config.search.shrink_updates,
        "steps": config.distill.steps,
        "epochs": config.distill.epochs,
        "train_fraction": config.distill.train_fraction,
        "finetune_epochs": config.distill.finetune_epochs,
        "widths": args.widths,
        "subset": args.subset,
        "splits": sizes,
        "teacher_views": config.distill.teacher_views,
        "round_to": config.search.round_to,
        "quick": args.quick,
        "overrides": args.overrides,
    }
    if results.data["plan"] and results.data["plan"] != plan:
        say(f"WARNING: resuming with another plan than {results.data['plan']}")
    results.data["plan"] = plan
    say("plan: " + json.dumps(plan))

    if results.data["teacher"] is None:
        with phases("evaluate"):
            (teacher_test,) = env.trainer.evaluate([teacher], data.test)
        x = next(iter(data.val))[0].numpy()[:8]
        with phases("latency"):
            lat = latency_ms(teacher, x, args.latency_runs)
        results.data["teacher"] = {
            "params": env.teacher_params,
            "flops": env.spec.flops,
            "val_accuracy": env.teacher_accuracy,
            "test_accuracy": teacher_test,
            "latency_ms": lat,
            "preprocess": config.data.preprocess,
        }
        results.save()
    t = results.data["teacher"]
    say(
        f"teacher: {t['params']:,} params, {t['flops']:,} MACs, val {t['val_accuracy']:.4f}, "
        f"test {t['test_accuracy']:.4f}, TFLite {t['latency_ms']} ms"
    )

    # ---- searches: n2n then random at equal cost, per seed
    def report(info):
        say(
            f"  {info['stage']} {info['update']}/{info['updates']}: mean reward "
            f"{info['mean_reward']:.3f}, best {info['best_reward']:.3f} "
            f"({info['best_params']} params), {info['students_trained']} trained, "
            f"{info['seconds']:.0f} s (elapsed {time.perf_counter() - wall:.0f} s)"
        )

    for seed in range(args.seeds):
        cfg = dataclasses.replace(config, runtime=dataclasses.replace(config.runtime, seed=seed))
        run_dir = out / f"search-seed{seed}"
        n2n_row = results.row(f"n2n/{seed}")
        if n2n_row is None:
            say(f"== n2n search, seed {seed}")
            with phases("search_n2n"):
                t0 = time.perf_counter()
                search = Search(None, None, cfg, run_dir, on_update=report, env=env.fork())
                resume = (search.checkpoint_dir / "state.json").is_file()
                search.run(resume=resume)
                seconds = time.perf_counter() - t0
            n2n_row = results.put(searched_row("n2n", seed, search, seconds))
        rnd_key = f"random/{seed}"
        if results.row(rnd_key) is None:
            say(f"== random search, seed {seed} (caps {n2n_row['search']['stage_trained']})")
            with phases("search_random"):
                t0 = time.perf_counter()
                other = Search(
                    None,
                    None,
                    cfg,
                    run_dir,
                    on_update=report,
                    random=True,
                    env=env.fork(),
                    max_students=n2n_row["search"]["stage_trained"],
                )
                resume = (other.checkpoint_dir / "state.json").is_file()
                other.run(resume=resume)
                seconds = time.perf_counter() - t0
            results.put(searched_row("random", seed, other, seconds))
        spent = phases.seconds.get("search_n2n", 0.0) + phases.seconds.get("search_random", 0.0)
        say(
            f"searches of seed {seed} done: {spent:.0f} s searching so far, about "
            f"{spent / (seed + 1) * args.seeds:.0f} s for {args.seeds} seed(s); "
            f"elapsed {time.perf_counter() - wall:.0f} s"
        )

    # ---- baselines: uniform widths (scratch), L1 at the widths and at n2n's sizes
    from n2n_tf.search import baselines

    spec = env.spec
    for s in args.widths:
        for method, inherit in (("uniform", False), ("l1_width", True)):
            arch = baselines.METHODS["l1" if inherit else "uniform"].architecture(teacher, spec, s)
            key = f"{method}/{s:g}"
            if results.row(key) is None:
                est = graph.estimate(teacher, arch, **env.options)
                results.put(
                    {
                        "key": key,
                        "method": method,
                        "seed": None,
                        "width": s,
                        "inherit": inherit,
                        "architecture": arch.to_dict(),
                        "estimated_params": est[0],
                        "build_seed": 1000 + round(1000 * s),
                    }
                )
    for seed in range(args.seeds):
        src = results.row(f"n2n/{seed}")
        key = f"l1/{seed}"
        if results.row(key) is None and src and src.get("estimated_params"):
            l1 = baselines.METHODS["l1"]
            f = baselines.matching_factor(teacher, spec, src["estimated_params"], **env.options)
            arch = l1.architecture(teacher, spec, f)
            results.put(
                {
                    "key": key,
                    "method": "l1",
                    "seed": seed,
                    "width": f,
                    "inherit": True,
                    "architecture": arch.to_dict(),
                    "estimated_params": graph.estimate(teacher, arch, **env.options)[0],
                    "target_params": src["estimated_params"],
                    "build_seed": 2000 + seed,
                }
            )

    live = [r for r in results.rows if r.get("status") != "no_student"]
    todo = [r for r in live if "cheap_score" not in r]
    with phases("score_baselines"):
        score_rows(env.fork(inherit=True), [r for r in todo if r["inherit"]], "cheap_score")
        score_rows(env.fork(inherit=False), [r for r in todo if not r["inherit"]], "cheap_score")
        for r in todo:
            results.put(r)
    half = half_budget(env)
    todo = [r for r in live if "cheap_score_half" not in r]
    with phases("score_half"):
        for inherit in (True, False):
            rows = [r for r in todo if r["inherit"] == inherit]
            score_rows(env.fork(inherit=inherit, **half), rows, "cheap_score_half")
        for r in todo:
            r["half_budget"] = half
            results.put(r)
    say(f"cheap scores done (half budget {half}; elapsed {time.perf_counter() - wall:.0f} s)")

    # ---- the fine-tune of every final student
    todo = [r for r in live if r.get("status") not in ("done", "failed")]
    order = {m: i for i, m in enumerate(METHODS)}
    todo.sort(key=lambda r: (order[r["method"]], r["seed"] or 0, r.get("width") or 0))
    finetune(env, data, teacher, todo, args, results, phases, t)

    text = tables(results)
    (out / "results.md").write_text(text)
    say("")
    say(text)
    try:
        plot(results, out / "pareto.png")
        say(f"plot: {out / 'pareto.png'}")
    except Exception as err:  # noqa: BLE001 - the numbers are saved already
        say(f"WARNING: no plot ({type(err).__name__}: {err})")
    keras.backend.clear_session()
    this_process = time.perf_counter() - wall
    results.data["phases"]["total"] = results.data["phases"].get("total", 0.0) + this_process
    results.save()
    for name, seconds in results.data["phases"].items():
        say(f"phase_{name}_seconds={seconds:.1f}")
    say(f"wall_seconds_this_process={this_process:.1f}")
    for line in summary(results):
        say(line)


def searched_row(method: str, seed: int, search, seconds: float) -> dict:
    """A final-student row from a finished search (its best student and its own score)."""
    arch, score = search.best()
    row = {
        "key": f"{method}/{seed}",
        "method": method,
        "seed": seed,
        "inherit": True,
        "architecture": arch.to_dict(),
        "build_seed": 3000 + 10 * seed + SEARCHED.index(method),
        "search": {
            "students_trained": search.env.trained,
            "stage_trained": dict(search.state.stage_trained),
            "samples": search.state.history_lines,
            "seconds": seconds,
            "search_reward": None if score is None else score["reward"],
        },
    }
    if score is None:
        row.update(status="no_student", reason=search.env.no_valid_student())
        say(f"{method} seed {seed}: no valid student")
        return row
    row.update(estimated_params=score["params"], cheap_score=score["val_accuracy"])
    say(
        f"{method} seed {seed}: {score['params']:,} params, cheap score "
        f"{score['val_accuracy']:.4f}, search reward {score['reward']:.4f}, "
        f"{search.env.trained} students trained in {seconds:.0f} s"
    )
    return row


if __name__ == "__main__":
    main()
