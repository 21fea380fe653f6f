"""How well the cheap scores rank students: the zero-step screen and the short distillation
against the test accuracy after the fine-tune, per stage (issue 19).

On a seeded subset of real CIFAR-10, for each teacher (a ResNet-20 and a plain
Sequential CNN: Conv-BN-MaxPool stacks with a large Dense head, the kind most
published CIFAR-10 Keras models are), trained here on the subset:

- ``--students`` removal students (random layers removed, full widths) and as
  many shrunk students (a random width factor per layer, nothing removed);
- each is screened (inherited weights, BatchNorm statistics re-estimated on
  ``search.screen_batches`` training batches, ``search.screen_images``
  validation images), scored by the search's short distillation
  (``distill.steps`` steps on ``distill.train_fraction`` of the training split),
  and fine-tuned like the compress job's student (``finetune_and_measure``,
  ``--finetune-epochs`` epochs on the whole training split), then tested.

Prints ``spearman_<teacher>_<stage>_<screen|distill>=`` (rank correlation with
the fine-tuned test accuracy) and the seconds each tier cost per student.

    python benchmarks/screen_rank.py --out runs/screen-rank    # RESULTS.md, issue 19
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from subsets import kept_subset, teacher_sets

DATASET = "../shared/datasets/cifar10-jpeg/train"
TEACHERS = ("resnet20", "plain_cnn")


def say(text: str) -> None:
    print(text, flush=True)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dataset", default=DATASET, help="an image folder (default: CIFAR-10)")
    p.add_argument("--out", default="runs/screen-rank")
    p.add_argument("--per-class", type=int, default=1000, help="subset: images per class")
    p.add_argument("--teachers", default=",".join(TEACHERS))
    p.add_argument("--teacher-epochs", type=int, default=12)
    p.add_argument("--students", type=int, default=10, help="per stage")
    p.add_argument("--steps", type=int, default=40, help="distill.steps of the short score")
    p.add_argument("--train-fraction", type=float, default=0.5)
    p.add_argument("--finetune-epochs", type=int, default=2)
    p.add_argument("--group", type=int, default=4, help="students fine-tuned together")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


def sample_students(spec, n: int, factors, rng):
    """``n`` removal students (a random third of the removable layers removed, full widths)
    and ``n`` shrunk ones (a random factor below 1 per shrinkable layer)."""
    from n2n_tf.types import Architecture

    removable = [x.name for x in spec.layers if x.removable]
    shrinkable = [x.name for x in spec.layers if x.shrinkable]
    small = [f for f in factors if 0.2 <= f < 1.0]
    out = {"removal": [], "shrink": []}
    seen = set()
    while len(out["removal"]) < n and removable:
        removed = [name for name in removable if rng.random() < 0.33] or [rng.choice(removable)]
        arch = Architecture(removed=frozenset(removed))
        if arch.key() not in seen:
            seen.add(arch.key())
            out["removal"].append(arch)
    while len(out["shrink"]) < n:
        arch = Architecture(factors={name: float(rng.choice(small)) for name in shrinkable})
        if arch.key() not in seen:
            seen.add(arch.key())
            out["shrink"].append(arch)
    return out


def spearman(a, b):
    from scipy.stats import spearmanr

    pairs = [(x, y) for x, y in zip(a, b, strict=True) if x is not None and y is not None]
    if len(pairs) < 3:
        return None
    return float(spearmanr(*zip(*pairs, strict=True)).statistic)


def main(argv=None):
    args = parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    subset = kept_subset(args.dataset, args.per_class, 0, out / f"subset-{args.per_class}")

    from n2n_tf.config import load_config
    from n2n_tf.jobs.preamble import begin

    sets = [
        *teacher_sets(subset, 0.05, args.teacher_epochs),
        f"distill.steps={args.steps}",
        f"distill.train_fraction={args.train_fraction}",
        f"runtime.seed={args.seed}",
    ]
    config = load_config(None, sets)
    begin(config, fused=True)
    import keras
    import numpy as np
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")
    from n2n_tf import graph
    from n2n_tf.io import load_teacher
    from n2n_tf.jobs.preamble import load_data, prepare
    from n2n_tf.jobs.train_teacher import train_teacher
    from n2n_tf.search.environment import Environment
    from n2n_tf.search.finetune import finetune_and_measure
    from n2n_tf.search.screen import Screen

    results_path = out / "results.json"
    results = json.loads(results_path.read_text()) if results_path.is_file() else {}
    data = load_data(config)
    lines = []
    for name in args.teachers.split(","):
        import dataclasses

        path = out / f"teacher-{name}.keras"
        cfg = dataclasses.replace(config, teacher=dataclasses.replace(config.teacher, arch=name))
        if not path.is_file():
            t0 = time.perf_counter()
            trained = train_teacher(cfg, path, verbose=0)
            say(
                f"teacher {name}: {trained.params:,} params, val {trained.val_accuracy:.4f}, "
                f"test {trained.test_accuracy:.4f}, {time.perf_counter() - t0:.0f} s"
            )
        teacher = load_teacher(str(path), input_shape=data.info.input_shape, num_classes=10)
        prepared = prepare(teacher, data, cfg, force=True)
        teacher = prepared.teacher
        env = Environment(teacher, data, cfg)
        screen = Screen(env.data, cfg.search.screen_batches, cfg.search.screen_images)
        rng = np.random.default_rng(args.seed)
        students = sample_students(env.spec, args.students, cfg.search.factors, rng)
        rows = results.setdefault(name, {})
        for stage, archs in students.items():
            for i, arch in enumerate(archs):
                key = f"{stage}/{i}"
                if key in rows and "test_accuracy" in rows[key]:
                    continue
                row = {"stage": stage, "architecture": arch.to_dict()}
                try:
                    keras.utils.set_random_seed(args.seed + i)
                    model = env.build(arch)
                except Exception as err:  # noqa: BLE001 - a student surgery refuses is skipped
                    row["error"] = str(err).splitlines()[0][:200]
                    rows[key] = row
                    continue
                t0 = time.perf_counter()
                (row["screen_accuracy"],) = screen([model])
                row["screen_seconds"] = time.perf_counter() - t0
                t0 = time.perf_counter()
                ((score, _),) = env.score([arch], update=100, seed=args.seed + i)
                row["distill_seconds"] = time.perf_counter() - t0
                row["distill_accuracy"] = score.val_accuracy if score.valid else None
                row["params"] = score.params
                rows[key] = row
            todo = [k for k, r in rows.items() if r["stage"] == stage and "error" not in r]
            todo = [k for k in todo if "test_accuracy" not in rows[k]]
            for start in range(0, len(todo), args.group):
                group = todo[start : start + args.group]
                from n2n_tf.types import Architecture

                models_ = []
                for k in group:
                    keras.utils.set_random_seed(args.seed + 1)
                    models_.append(env.build(Architecture.from_dict(rows[k]["architecture"])))
                t0 = time.perf_counter()
                measured = finetune_and_measure(env, models_, data, args.finetune_epochs)
                for k, m in zip(group, measured, strict=True):
                    rows[k]["test_accuracy"] = m.test_accuracy
                    rows[k]["finetune_seconds"] = (time.perf_counter() - t0) / len(group)
                results_path.write_text(json.dumps(results, indent=1))
                say(f"{name}: fine-tuned {', '.join(group)} in {time.perf_counter() - t0:.0f} s")
            results_path.write_text(json.dumps(results, indent=1))
        teacher_params = graph.count_params(teacher)
        for stage in ("removal", "shrink"):
            mine = [r for r in rows.values() if r["stage"] == stage and "test_accuracy" in r]
            test = [r["test_accuracy"] for r in mine]
            for tier in ("screen", "distill"):
                value = spearman([r[f"{tier}_accuracy"] for r in mine], test)
                lines.append(f"spearman_{name}_{stage}_{tier}={_fmt(value)}")
            lines.append(f"students_{name}_{stage}={len(mine)}")
            for tier in ("screen", "distill", "finetune"):
                seconds = [r[f"{tier}_seconds"] for r in mine]
                lines.append(f"seconds_{name}_{stage}_{tier}={_fmt(np.mean(seconds))}")
            sizes = [r["params"] / teacher_params for r in mine]
            lines.append(f"size_range_{name}_{stage}={min(sizes):.2f}-{max(sizes):.2f}")
        lines.append(f"teacher_{name}_val_accuracy={env.teacher_accuracy:.4f}")
        keras.backend.clear_session()
    for line in lines:
        say(line)


def _fmt(value) -> str:
    return "none" if value is None else f"{value:.4f}"


if __name__ == "__main__":
    main()
