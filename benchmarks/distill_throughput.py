"""Distillation throughput: n2n-tf's fused, cached trainer vs. one Keras `fit` per student.

Run: .venv/bin/python benchmarks/distill_throughput.py [--epochs 5] [--students 5] [--repeats 3]

Teacher: the demo teacher recipe (LeNet-5 x2 trained on the bundled mnist5k).
Students: 5 architectures sampled the way a search samples them (random removals
and width factors, fixed seeds), built by surgery with inherited weights.

(a) naive, as the reference implementation: each student trained on its own with
    Keras `fit` and a distillation `train_step` that runs the teacher on every batch;
(b) n2n-tf: `distill.Trainer.fit` on all 5 at once (teacher logits cached, one
    pass over the data feeds every student), in a process whose thread pools are
    set as `n2n-tf compress` sets them (`runtime.configure_threads`).
Both use AdamW (lr 5e-4, weight decay 5e-4), MSE on logits, batch 64, the same
epochs and the same initial weights.

Every measurement runs in a fresh child process (thread pools are fixed when
TensorFlow starts), which first trains one throwaway student the same way,
untimed, so process start-up is not counted. The naive way is measured with
TensorFlow's default threads and with n2n-tf's; the faster of the two is the
baseline. The ways take turns, `--repeats` times; medians are reported.
Prints students x epochs per second, the ratio and mean validation accuracies.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

WAYS = {
    # name: (label, trainer, intra-op threads: None = TF default, -1 = n2n-tf's setting)
    "naive": ("naive keras fit, TF default threads", "naive", None),
    "naive-n2n-threads": ("naive keras fit, n2n-tf threads", "naive", -1),
    "ours": ("n2n-tf trainer, n2n-tf threads", "ours", -1),
    "ours-default-threads": ("n2n-tf trainer, TF default threads", "ours", None),
}


def sample_architectures(spec, n, seed=0):
    from n2n_tf.types import Architecture

    archs = []
    for i in range(n):
        rng = random.Random(seed + i)
        removed = frozenset(s.name for s in spec.layers if s.removable and rng.random() < 0.3)
        factors = {s.name: rng.choice([0.2, 0.3, 0.5, 0.7]) for s in spec.layers if s.shrinkable}
        archs.append(Architecture(removed, factors))
    return archs


def accuracy(model, ds):
    import numpy as np

    hits = total = 0
    for x, y in ds:
        hits += int(np.sum(np.argmax(model(x, training=False), -1) == y.numpy()))
        total += len(y)
    return hits / total


def train_naive(students, teacher, ds, epochs):
    """Each student its own Keras `fit`; its train_step runs the teacher on every batch."""
    import keras
    import tensorflow as tf

    from n2n_tf.distill import mse_logits

    class Distiller(keras.Model):
        def __init__(self, student):
            super().__init__()
            self.student = student

        def call(self, x, training=False):
            return self.student(x, training=training)

        def train_step(self, batch):
            x, _ = batch
            t = teacher(x, training=False)
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(mse_logits(self.student(x, training=True), t))
            variables = self.student.trainable_variables
            grads = tape.gradient(loss, variables)
            self.optimizer.apply_gradients(zip(grads, variables, strict=True))
            return {"loss": loss}

    for student in students:
        distiller = Distiller(student)
        distiller.compile(optimizer=keras.optimizers.AdamW(5e-4, weight_decay=5e-4))
        distiller.fit(ds.train, epochs=epochs, verbose=0)


def train_ours(students, teacher, ds, epochs):
    from n2n_tf.config import DistillConfig
    from n2n_tf.distill import Trainer

    results = Trainer(teacher, DistillConfig(epochs=epochs)).fit(students, ds, evaluate=False)
    if any(r.failed for r in results):
        raise RuntimeError(f"Internal error: a student failed: {results}")


def child(way: str, teacher_path: str, epochs: int, n_students: int) -> None:
    """One measurement in this process: warm-up, then the timed training; prints JSON."""
    _, trainer, intra = WAYS[way]
    from n2n_tf.runtime import configure_threads

    if intra is not None:
        configure_threads(intra, 0, fused=True)
    import keras
    import numpy as np
    import tensorflow as tf

    from n2n_tf import data, graph
    from n2n_tf.types import Architecture

    keras.utils.set_random_seed(0)
    ds = data.load("mnist5k", batch_size=64)
    teacher = keras.models.load_model(teacher_path)
    archs = sample_architectures(graph.inspect(teacher), n_students)
    train = train_naive if trainer == "naive" else train_ours
    train([graph.rebuild(teacher, Architecture())], teacher, ds, 1)  # warm-up, untimed
    students = [graph.rebuild(teacher, a) for a in archs]
    start = time.perf_counter()
    train(students, teacher, ds, epochs)
    seconds = time.perf_counter() - start
    out = {
        "seconds": seconds,
        "accuracy": float(np.mean([accuracy(s, ds.val) for s in students])),
        "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
    }
    print("RESULT " + json.dumps(out), flush=True)


def run_child(way, teacher_path, args):
    cmd = [sys.executable, __file__, "--child", way, "--teacher", teacher_path]
    cmd += ["--epochs", str(args.epochs), "--students", str(args.students)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    lines = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
    if proc.returncode or not lines:
        raise RuntimeError(f"{way} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1][len("RESULT ") :])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=5, help="the paper's 5 epochs per student")
    parser.add_argument("--students", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", choices=sorted(WAYS), help=argparse.SUPPRESS)
    parser.add_argument("--teacher", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.teacher, args.epochs, args.students)
        return

    import keras

    from n2n_tf import data, graph, models

    keras.utils.set_random_seed(0)
    ds = data.load("mnist5k", batch_size=64)
    teacher = models.build("lenet5", ds.info.input_shape, 10, width=2.0)
    teacher.compile(
        optimizer=keras.optimizers.AdamW(2e-3, weight_decay=5e-4),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    teacher.fit(ds.train, epochs=12, verbose=0)
    spec = graph.inspect(teacher)
    archs = sample_architectures(spec, args.students)
    print(f"teacher: {spec.params:,} params, val accuracy {accuracy(teacher, ds.val):.4f}")
    print("students (params):", [graph.estimate(teacher, a)[0] for a in archs])
    # Compute bound of caching alone: training a student costs ~3 forward passes;
    # the naive way adds one teacher forward pass per student-step.
    student_flops = sum(graph.estimate(teacher, a)[1] for a in archs)
    bound = (len(archs) * spec.flops + 3 * student_flops) / (3 * student_flops)
    print(f"multiply-add bound of the ratio from skipping the teacher alone: {bound:.2f}x")

    runs = {way: [] for way in WAYS}
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "teacher.keras")
        teacher.save(path)
        for r in range(args.repeats):
            for way in WAYS:
                runs[way].append(run_child(way, path, args))
                print(f"  repeat {r + 1}: {way:22s} {runs[way][-1]['seconds']:6.2f} s", flush=True)

    work = args.students * args.epochs
    median = {way: statistics.median(x["seconds"] for x in v) for way, v in runs.items()}
    acc = {way: statistics.fmean(x["accuracy"] for x in v) for way, v in runs.items()}
    for way, (label, _, _) in WAYS.items():
        print(
            f"{label:36s}: {work / median[way]:6.2f} student-epochs/s  "
            f"(median {median[way]:.1f} s of {args.repeats})  mean val acc {acc[way]:.4f}"
        )
    base = min(("naive", "naive-n2n-threads"), key=median.get)
    print(
        f"ratio (n2n-tf vs the faster naive: {WAYS[base][0]}): {median[base] / median['ours']:.2f}x"
        f"   accuracy delta {100 * (acc['ours'] - acc[base]):+.2f} points"
    )
    print(
        "ratio with TF default threads for both: "
        f"{median['naive'] / median['ours-default-threads']:.2f}x"
    )


if __name__ == "__main__":
    main()
