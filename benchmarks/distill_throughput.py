"""Distillation throughput: n2n-tf vs a well-written fused Keras loop vs one `fit` per student.

Run: python benchmarks/distill_throughput.py [--workload both|mnist|cifar] [--repeats 2]

Three ways train the same students (same initial weights, same number of steps,
AdamW lr 5e-4 / weight decay 5e-4, MSE on logits) from the same teacher:

- `naive`: one Keras `fit` per student; its `train_step` runs the teacher on
  every batch (TensorFlow's default threads).
- `fused_reference`: the straightforward fused loop, what the reference
  implementation does, written well in Keras: one `tf.function` step per batch
  that runs the teacher's forward pass once and updates every student with its
  own `keras.optimizers.AdamW`; the data pipeline is the same as the others'
  (TensorFlow's default threads, which were faster for it than one thread per
  op: 38.9 s vs 40.9 s in issue 13's probe).
- `n2n-tf`: `distill.Trainer.fit` with its defaults (teacher-logit cache;
  with crop+flip, `distill.teacher_views` cached views), in a process whose
  thread pools are set as `n2n-tf compress` sets them (TensorFlow's default
  threads since issue 13); `n2n-tf-one-thread`: the same with one thread per op
  (compress's CPU setting before issue 13; printed apart, the ratio lines use
  `n2n-tf`). The one-time cost of the
  teacher's cache is measured apart and is counted in the ratio amortised over a
  search's updates (`--updates-per-search`, default 200 = 100 + 100 updates).

Workloads:
- `mnist`: mnist5k (no augmentation, cache on), LeNet-5 x2 teacher trained here
  (12 epochs), batch 64, 5 epochs.
- `cifar`: CIFAR-10 JPEG training images (`--cifar`), a seeded subset of
  `--per-class` images per class (symlinked into a temporary folder), crop+flip,
  a ResNet-20 teacher trained here on the subset (`--teacher-epochs`), batch
  128, 2 epochs.

Students are sampled as the search samples them, with fixed seeds: 2 stage-1-like
(layers removed with the initial removal policy's probability 1 - sigmoid(1),
full width) and 3 stage-2-like (a width factor from `search.factors` per
shrinkable layer, no removal). Every measurement runs in a fresh child process
(thread pools are fixed when TensorFlow starts) after an untimed warm-up on a
throwaway student; the ways take turns, `--repeats` times; medians are reported.

FLOP rates: training FLOPs = 2 x multiply-adds x (3 x each student's forward
pass + 1 teacher forward pass where a way runs it) per example; the peak is the
best fp32 `tf.matmul` rate (2048 x 2048) measured in a child process of the same
run with TensorFlow's default threads.

The last two lines are `ratio_vs_naive=X` and `ratio_vs_fused_reference=Y` of
the last workload run (cifar when both run).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time

from subsets import make_subset

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

WAYS = ("naive", "fused_reference", "n2n-tf", "n2n-tf-one-thread")
WORKLOADS = {
    "mnist": {"batch": 64, "epochs": 5, "teacher": ("lenet5", 2.0)},
    "cifar": {"batch": 128, "epochs": 2, "teacher": ("resnet20", 1.0)},
}
LR, WD = 5e-4, 5e-4


# ---------------------------------------------------------------- students
def sample_architectures(spec, n_stage1, n_stage2, teacher, seed=0):
    """Stage-1-like (removals, full width) and stage-2-like (widths) architectures."""
    from n2n_tf import graph
    from n2n_tf.config import SearchConfig
    from n2n_tf.types import Architecture

    search = SearchConfig()
    p_remove = 1.0 - 1.0 / (1.0 + math.exp(-search.init_keep_logit))
    archs, rng = [], random.Random(seed)
    while len(archs) < n_stage1 + n_stage2:
        if len(archs) < n_stage1:
            removed = frozenset(
                s.name for s in spec.layers if s.removable and rng.random() < p_remove
            )
            arch = Architecture(removed)
        else:
            factors = {s.name: rng.choice(search.factors) for s in spec.layers if s.shrinkable}
            arch = Architecture(factors=factors)
        try:
            params, _ = graph.estimate(teacher, arch)
        except graph.SurgeryError:
            continue
        if params < spec.params:
            archs.append(arch)
    return archs


# ---------------------------------------------------------------- data
def load_data(workload, args):
    from n2n_tf import data

    cfg = WORKLOADS[workload]
    if workload == "mnist":
        return data.load("mnist5k", batch_size=cfg["batch"])
    return data.load(f"folder:{args.subset}", batch_size=cfg["batch"], augment="crop_flip")


def accuracy(model, ds):
    from n2n_tf.predictions import accuracy as top1

    return top1(model, ds)


# ---------------------------------------------------------------- the three ways
def train_naive(students, teacher, ds, epochs, steps=None):
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
        distiller.compile(optimizer=keras.optimizers.AdamW(LR, weight_decay=WD))
        distiller.fit(ds.train, epochs=epochs, steps_per_epoch=steps, verbose=0)


def train_fused_reference(students, teacher, ds, epochs, steps=None):
    """One tf.function step per batch: the teacher once, every student updated by Keras AdamW."""
    import keras
    import tensorflow as tf

    from n2n_tf.distill import mse_logits

    optimizers = [keras.optimizers.AdamW(LR, weight_decay=WD) for _ in students]
    for opt, student in zip(optimizers, students, strict=True):
        opt.build(student.trainable_variables)

    @tf.function
    def step(x):
        t = teacher(x, training=False)
        losses = []
        for student, opt in zip(students, optimizers, strict=True):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(mse_logits(student(x, training=True), t))
            grads = tape.gradient(loss, student.trainable_variables)
            opt.apply_gradients(zip(grads, student.trainable_variables, strict=True))
            losses.append(loss)
        return tf.stack(losses)

    for _ in range(epochs):
        for i, (x, _) in enumerate(ds.train):
            if steps is not None and i >= steps:
                break
            losses = step(x)
    losses.numpy()


def train_n2n(students, teacher, ds, epochs, steps=None, trainer=None):
    from n2n_tf.config import DistillConfig
    from n2n_tf.distill import Trainer

    trainer = trainer or Trainer(
        teacher, DistillConfig(epochs=epochs, learning_rate=LR, weight_decay=WD)
    )
    results = trainer.fit(students, ds, epochs=epochs, steps=steps or 0, evaluate=False)
    if any(r.failed for r in results):
        raise RuntimeError(f"Internal error: a student failed: {results}")
    return trainer


# ---------------------------------------------------------------- children
def child_peak():
    import tensorflow as tf

    n = 2048
    a = tf.random.normal((n, n))
    b = tf.random.normal((n, n))
    mm = tf.function(lambda a, b: tf.matmul(a, b))
    mm(a, b).numpy()
    best = 0.0
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(5):
            c = mm(a, b)
        c.numpy()
        best = max(best, 5 * 2 * n**3 / (time.perf_counter() - start) / 1e9)
    print("RESULT " + json.dumps({"gflops": best}), flush=True)


def child(way, workload, args):
    """One measurement in this process: warm-up, then the timed training; prints JSON."""
    if way.startswith("n2n-tf"):  # as `n2n-tf compress` sets the pools (intra_op_threads=-1)
        from n2n_tf.runtime import configure_threads

        configure_threads(1 if way == "n2n-tf-one-thread" else -1, 0, fused=True)
    import keras
    import numpy as np
    import tensorflow as tf

    from n2n_tf import graph
    from n2n_tf.types import Architecture

    cfg = WORKLOADS[workload]
    keras.utils.set_random_seed(0)
    ds = load_data(workload, args)
    teacher = keras.models.load_model(args.teacher)
    archs = [Architecture.from_dict(a) for a in json.loads(args.archs)]
    out = {"intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads()}
    warm = [graph.rebuild(teacher, Architecture())]
    if way.startswith("n2n-tf"):
        start = time.perf_counter()
        from n2n_tf.config import DistillConfig
        from n2n_tf.distill import Trainer

        trainer = Trainer(teacher, DistillConfig(learning_rate=LR, weight_decay=WD))
        trainer.cache.dataset(ds)  # the one-time teacher cache (None when off)
        out["cache_seconds"] = time.perf_counter() - start
        out["teacher_batches"] = trainer.cache.teacher_batches
        train_n2n(warm, teacher, ds, 1, steps=3, trainer=trainer)
        train = lambda s: train_n2n(s, teacher, ds, cfg["epochs"], trainer=trainer)  # noqa: E731
    else:
        fn = train_naive if way == "naive" else train_fused_reference
        fn(warm, teacher, ds, 1, steps=3)
        train = lambda s: fn(s, teacher, ds, cfg["epochs"])  # noqa: E731
    keras.utils.set_random_seed(1)
    students = [graph.rebuild(teacher, a) for a in archs]
    start = time.perf_counter()
    train(students)
    out["seconds"] = time.perf_counter() - start
    out["accuracies"] = [accuracy(s, ds.val) for s in students]
    out["accuracy"] = float(np.mean(out["accuracies"]))
    print("RESULT " + json.dumps(out), flush=True)


def run_child(extra):
    cmd = [sys.executable, os.path.abspath(__file__), *extra]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, env=os.environ.copy())
    lines = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
    if proc.returncode or not lines:
        raise RuntimeError(f"{extra[:2]} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1][len("RESULT ") :])


def load_average():
    try:
        return " ".join(open("/proc/loadavg").read().split()[:3])
    except OSError:
        return "n/a"


# ---------------------------------------------------------------- one workload
def run_workload(workload, args, peak, tmp):
    import keras

    from n2n_tf import graph, models

    cfg = WORKLOADS[workload]
    if workload == "cifar":
        args.subset = os.path.join(tmp, "cifar-subset")
        make_subset(args.cifar, args.per_class, args.seed, args.subset)
    keras.utils.set_random_seed(0)
    ds = load_data(workload, args)
    arch_name, width = cfg["teacher"]
    teacher = models.build(arch_name, ds.info.input_shape, ds.info.num_classes, width=width)
    epochs = 12 if workload == "mnist" else args.teacher_epochs
    teacher.compile(
        optimizer=keras.optimizers.AdamW(2e-3, weight_decay=5e-4),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    start = time.perf_counter()
    teacher.fit(ds.train, epochs=epochs, verbose=0)
    spec = graph.inspect(teacher)
    archs = sample_architectures(spec, 2, 3, teacher, seed=args.seed)
    n_train = ds.info.split_sizes["train"]
    steps = cfg["epochs"] * math.ceil(n_train / cfg["batch"])
    print(f"== workload {workload}")
    print(
        f"data: {n_train} training / {ds.info.split_sizes['val']} val examples, "
        f"augment {ds.info.augment}, batch {cfg['batch']}, {cfg['epochs']} epochs = {steps} steps"
    )
    print(
        f"teacher: {arch_name} x{width}, {spec.params:,} params, {spec.flops / 1e6:.2f} M MACs, "
        f"trained here {epochs} epochs ({time.perf_counter() - start:.0f} s), "
        f"val accuracy {accuracy(teacher, ds.val):.4f}"
    )
    est = [graph.estimate(teacher, a) for a in archs]
    print(
        "students (stage-1-like x2, stage-2-like x3): params",
        [p for p, _ in est],
        "MACs share of teacher",
        [round(f / spec.flops, 2) for _, f in est],
    )
    student_macs = sum(f for _, f in est)
    path = os.path.join(tmp, f"{workload}-teacher.keras")
    teacher.save(path)
    extra = ["--workload", workload, "--teacher", path, "--archs"]
    extra += [json.dumps([a.to_dict() for a in archs])]
    if workload == "cifar":
        extra += ["--subset", args.subset]
    runs = {way: [] for way in WAYS}
    for r in range(args.repeats):
        for way in WAYS:
            before = load_average()
            runs[way].append(run_child(["--child", way, *extra]))
            print(
                f"  repeat {r + 1}: {way:16s} {runs[way][-1]['seconds']:7.2f} s  "
                f"(load average before: {before})",
                flush=True,
            )
    median = {w: statistics.median(x["seconds"] for x in v) for w, v in runs.items()}
    acc = {w: statistics.fmean(x["accuracy"] for x in v) for w, v in runs.items()}
    cache_s = statistics.median(x["cache_seconds"] for x in runs["n2n-tf"])
    teacher_batches = runs["n2n-tf"][0]["teacher_batches"]
    amortised = cache_s / args.updates_per_search
    ours = median["n2n-tf"] + amortised
    ours_one = median["n2n-tf-one-thread"] + amortised
    examples = steps * cfg["batch"]
    student_flops = 2 * 3 * student_macs * examples
    teacher_flops = 2 * spec.flops * examples
    for way in WAYS:
        n2n = way.startswith("n2n-tf")
        seconds = median[way] + (amortised if n2n else 0.0)
        executed = student_flops + (
            0 if n2n and teacher_batches else teacher_flops * (len(archs) if way == "naive" else 1)
        )
        rate = executed / seconds / 1e9
        each = [round(a, 3) for a in runs[way][-1]["accuracies"]]
        print(
            f"{way:22s}: {len(archs) * cfg['epochs'] / seconds:6.2f} student-epochs/s  "
            f"(median {median[way]:.1f} s of {args.repeats})  "
            f"mean val acc {acc[way]:.4f} {each}  "
            f"GFLOP/s: student training {student_flops / seconds / 1e9:.2f}, "
            f"executed {rate:.2f} ({100 * rate / peak:.1f}% of peak)"
        )
    print(
        f"n2n-tf teacher cache: {cache_s:.1f} s once per search ({teacher_batches} teacher "
        f"batches), counted as {amortised:.3f} s per update "
        f"({args.updates_per_search} updates per search)"
    )
    delta = 100 * (acc["n2n-tf"] - acc["fused_reference"])
    print(f"accuracy n2n-tf - fused_reference: {delta:+.2f} points")
    print(
        "n2n-tf with one thread per op (runtime.intra_op_threads=1) instead of "
        f"compress's auto setting: ratio vs naive {median['naive'] / ours_one:.2f}, "
        f"vs fused_reference {median['fused_reference'] / ours_one:.2f}"
    )
    executed_ours = student_flops + (0 if teacher_batches else teacher_flops)
    return {
        "ratio_vs_naive": median["naive"] / ours,
        "ratio_vs_fused_reference": median["fused_reference"] / ours,
        "flop_share": executed_ours / ours / 1e9 / peak,
        "gflops": executed_ours / ours / 1e9,
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--workload", choices=("both", "mnist", "cifar"), default="both")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--cifar", default="../shared/datasets/cifar10-jpeg/train")
    parser.add_argument("--per-class", type=int, default=200)
    parser.add_argument("--teacher-epochs", type=int, default=8)
    parser.add_argument("--updates-per-search", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--child", choices=(*WAYS, "peak"), help=argparse.SUPPRESS)
    parser.add_argument("--teacher", help=argparse.SUPPRESS)
    parser.add_argument("--archs", help=argparse.SUPPRESS)
    parser.add_argument("--subset", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "peak":
        child_peak()
        return
    if args.child:
        child(args.child, args.workload, args)
        return
    args.cifar = os.path.abspath(args.cifar)
    print(f"load average at start: {load_average()}  cores: {os.cpu_count()}")
    peak = run_child(["--child", "peak"])["gflops"]
    print(f"fp32 matmul peak (2048x2048, TF default threads): {peak:.1f} GFLOP/s")
    workloads = ("mnist", "cifar") if args.workload == "both" else (args.workload,)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for workload in workloads:
            results[workload] = run_workload(workload, args, peak, tmp)
    for workload in workloads:
        r = results[workload]
        print(
            f"{workload}: n2n-tf training GFLOP/s {r['gflops']:.2f} = "
            f"{100 * r['flop_share']:.1f}% of the measured fp32 matmul peak ({peak:.1f})"
        )
    for workload in workloads:
        if workload != workloads[-1]:
            r = results[workload]
            print(f"{workload}: ratio_vs_naive={r['ratio_vs_naive']:.2f}")
            print(f"{workload}: ratio_vs_fused_reference={r['ratio_vs_fused_reference']:.2f}")
    last = results[workloads[-1]]
    print(f"ratio_vs_naive={last['ratio_vs_naive']:.2f}")
    print(f"ratio_vs_fused_reference={last['ratio_vs_fused_reference']:.2f}")


if __name__ == "__main__":
    main()
