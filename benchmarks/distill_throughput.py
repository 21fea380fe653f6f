"""Distillation throughput: n2n-tf's fused, cached trainer vs. one Keras `fit` per student.

Run: .venv/bin/python benchmarks/distill_throughput.py [--epochs 5] [--students 5]

Teacher: the demo teacher recipe (LeNet-5 x2 trained on the bundled mnist5k).
Students: 5 architectures sampled the way a search samples them (random removals
and width factors, fixed seeds), built by surgery with inherited weights.

(a) naive, as the reference implementation: each student trained on its own with
    Keras `fit` and a distillation `train_step` that runs the teacher on every batch;
(b) n2n-tf: `distill.Trainer.fit` on all 5 at once (teacher logits cached, one
    pass over the data feeds every student).
Both use AdamW (lr 5e-4, weight decay 5e-4), MSE on logits, batch 64, same epochs
and the same initial weights. Prints students x epochs per second, the ratio and
mean validation accuracy of each way.
"""

from __future__ import annotations

import argparse
import os
import random
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from n2n_tf import data, graph, models  # noqa: E402
from n2n_tf.config import DistillConfig, RuntimeConfig  # noqa: E402
from n2n_tf.distill import Trainer, mse_logits  # noqa: E402
from n2n_tf.types import Architecture  # noqa: E402


class Distiller(keras.Model):
    """The naive way: a Keras model whose train_step runs the teacher every batch."""

    def __init__(self, student, teacher):
        super().__init__()
        self.student, self.teacher = student, teacher

    def call(self, x, training=False):
        return self.student(x, training=training)

    def train_step(self, batch):
        x, _ = batch
        t = self.teacher(x, training=False)
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(mse_logits(self.student(x, training=True), t))
        grads = tape.gradient(loss, self.student.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.student.trainable_variables, strict=True))
        return {"loss": loss}


def sample_architectures(spec, n, seed=0):
    archs = []
    for i in range(n):
        rng = random.Random(seed + i)
        removed = frozenset(s.name for s in spec.layers if s.removable and rng.random() < 0.3)
        factors = {s.name: rng.choice([0.2, 0.3, 0.5, 0.7]) for s in spec.layers if s.shrinkable}
        archs.append(Architecture(removed, factors))
    return archs


def accuracy(model, ds):
    hits = total = 0
    for x, y in ds:
        hits += int(np.sum(np.argmax(model(x, training=False), -1) == y.numpy()))
        total += len(y)
    return hits / total


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=5, help="the paper's 5 epochs per student")
    parser.add_argument("--students", type=int, default=5)
    parser.add_argument("--xla", type=int, default=0, help="jit_compile the fused step (1/0)")
    args = parser.parse_args()
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
    print(f"multiply-add bound of the ratio from skipping the teacher: {bound:.2f}x")

    naive_students = [graph.rebuild(teacher, a) for a in archs]
    start = time.perf_counter()
    for student in naive_students:
        distiller = Distiller(student, teacher)
        distiller.compile(optimizer=keras.optimizers.AdamW(5e-4, weight_decay=5e-4))
        distiller.fit(ds.train, epochs=args.epochs, verbose=0)
    naive_s = time.perf_counter() - start
    naive_acc = np.mean([accuracy(s, ds.val) for s in naive_students])

    ours = [graph.rebuild(teacher, a) for a in archs]
    trainer = Trainer(
        teacher, DistillConfig(epochs=args.epochs), RuntimeConfig(jit_compile=args.xla)
    )
    start = time.perf_counter()
    results = trainer.fit(ours, ds, evaluate=False)
    ours_s = time.perf_counter() - start
    ours_acc = np.mean([accuracy(s, ds.val) for s in ours])
    assert not any(r.failed for r in results)

    work = args.students * args.epochs
    print(
        f"naive keras fit : {work / naive_s:6.2f} student-epochs/s  ({naive_s:.1f} s)  "
        f"mean val acc {naive_acc:.4f}"
    )
    print(
        f"n2n-tf trainer  : {work / ours_s:6.2f} student-epochs/s  ({ours_s:.1f} s)  "
        f"mean val acc {ours_acc:.4f}"
    )
    print(
        f"ratio           : {naive_s / ours_s:.2f}x   accuracy delta "
        f"{100 * (ours_acc - naive_acc):+.2f} points"
    )


if __name__ == "__main__":
    main()
