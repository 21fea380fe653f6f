"""Per-update overhead of scoring: what one policy update pays besides training steps.

Run: /path/to/python benchmarks/update_overhead.py [--updates 6] [--dataset mnist5k]

One `distill.Trainer` (as a search keeps one) scores `--updates` updates of 5
fresh students each. For every update it times, apart:

- build: `graph.rebuild` of the 5 students (surgery, inherited weights);
- fit(1 step): `Trainer.fit(students, steps=1, evaluate=False)`: one training
  step (~10 ms for LeNet-sized students) plus everything a fit pays once:
  optimizer slots, tracing the fused step, building the training stream
  (cached arrays, shuffle buffers), the first teacher-logit cache (update 1);
- evaluate: `Trainer.evaluate` of the 5 students on the validation split
  (tracing + one pass).

The same script runs against older code (PYTHONPATH pointing at an export of
an older commit), which is how the before/after figures in RESULTS.md were taken.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def synthetic(n, augment):
    import numpy as np
    import tensorflow as tf

    from n2n_tf.data.info import DatasetInfo
    from n2n_tf.data.pipeline import build

    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
    y = rng.integers(0, 10, n).astype(np.int64)
    n_val = n // 10
    splits = [
        tf.data.Dataset.from_tensor_slices((x[n_val:], y[n_val:])),
        tf.data.Dataset.from_tensor_slices((x[:n_val], y[:n_val])),
        tf.data.Dataset.from_tensor_slices((x[:n_val], y[:n_val])),
    ]
    info = DatasetInfo(
        name="synthetic",
        input_shape=(32, 32, 3),
        num_classes=10,
        class_names=tuple(str(i) for i in range(10)),
        split_sizes={"train": n - n_val, "val": n_val, "test": n_val},
        mean=(0.5, 0.5, 0.5),
        std=(0.29, 0.29, 0.29),
        augment=augment,
    )
    return build(*splits, info=info, batch_size=128, seed=0)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--updates", type=int, default=6)
    parser.add_argument("--students", type=int, default=5)
    parser.add_argument("--dataset", default="mnist5k")
    parser.add_argument("--teacher", default="lenet5")
    parser.add_argument("--width", type=float, default=2.0)
    parser.add_argument(
        "--synthetic",
        type=int,
        default=0,
        help="instead of --dataset: N random 32x32x3 uint8 images (CIFAR-10-sized at 50000)",
    )
    parser.add_argument("--augment", default="none", help="with --synthetic: none or crop_flip")
    args = parser.parse_args()

    from n2n_tf.runtime import configure_threads

    configure_threads(-1, 0, fused=True)
    import keras

    import n2n_tf
    from n2n_tf import data, graph, models
    from n2n_tf.config import DistillConfig
    from n2n_tf.distill import Trainer
    from n2n_tf.types import Architecture

    keras.utils.set_random_seed(0)
    if args.synthetic:
        ds = synthetic(args.synthetic, args.augment)
        args.dataset = f"synthetic {args.synthetic} x 32x32x3"
    else:
        ds = data.load(args.dataset, batch_size=64)
    teacher = models.build(args.teacher, ds.info.input_shape, ds.info.num_classes, args.width)
    spec = graph.inspect(teacher)
    trainer = Trainer(teacher, DistillConfig(epochs=1))
    print(f"code: {os.path.dirname(n2n_tf.__file__)}  dataset {args.dataset} ({ds.info.augment})")
    rows = []
    for update in range(args.updates):
        rng = random.Random(update)
        archs = [
            Architecture(
                factors={
                    s.name: rng.choice([0.3, 0.5, 0.7, 1.0]) for s in spec.layers if s.shrinkable
                }
            )
            for _ in range(args.students)
        ]
        t0 = time.perf_counter()
        students = [graph.rebuild(teacher, a) for a in archs]
        t1 = time.perf_counter()
        trainer.fit(students, ds, steps=1, evaluate=False, seed=update)
        t2 = time.perf_counter()
        trainer.evaluate(students, ds.val)
        t3 = time.perf_counter()
        rows.append((t1 - t0, t2 - t1, t3 - t2))
        print(
            f"update {update + 1}: build {rows[-1][0]:.2f} s  fit(1 step) {rows[-1][1]:.2f} s  "
            f"evaluate {rows[-1][2]:.2f} s",
            flush=True,
        )
    later = rows[1:]
    med = [statistics.median(r[i] for r in later) for i in range(3)]
    print(
        f"median of updates 2-{args.updates}: build {med[0]:.2f} s  fit(1 step) {med[1]:.2f} s  "
        f"evaluate {med[2]:.2f} s  total {sum(med):.2f} s"
    )


if __name__ == "__main__":
    main()
