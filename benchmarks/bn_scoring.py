"""How BatchNorm momentum during scoring changes the cheap score of sampled students.

Takes students from a search's ``history.jsonl`` (the first Stage-2 ones and
some Stage-1 ones), distils each for ``--steps`` steps on the search's training
share, and prints their validation accuracy at Keras' momentum (0.99) and at
lower ones (momentum set to at most each value; the teacher's is 0.99). Run (issue 12, RESULTS.md):

    python benchmarks/bn_scoring.py --teacher /work/teachers/resnet20-cifar.keras \
        --history runs/budget30/history.jsonl \
        --dataset folder:../shared/datasets/cifar10-jpeg/train --train-fraction 0.14
"""

from __future__ import annotations

import argparse
import json
import time

import keras

from n2n_tf import data as data_lib
from n2n_tf import graph
from n2n_tf.config import load_config
from n2n_tf.distill import Trainer
from n2n_tf.io import load_teacher
from n2n_tf.search.environment import limit_bn_momentum
from n2n_tf.types import Architecture


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--teacher", required=True)
    p.add_argument("--history", required=True)
    p.add_argument("--dataset", default="folder:../shared/datasets/cifar10-jpeg/train")
    p.add_argument("--preprocess", default="standardize")
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--train-fraction", type=float, default=0.14)
    p.add_argument("--momenta", default="0.99,0.9,0.5")
    args = p.parse_args()
    with open(args.history) as fh:
        rows = [json.loads(line) for line in fh]
    picks = [r for r in rows if r["stage"] == "shrink"][:10:2]
    picks += [r for r in rows if r["stage"] == "removal"][5:25:4]
    archs = [Architecture(removed=frozenset(r["removed"]), factors=r["factors"]) for r in picks]
    cfg = load_config(
        None,
        [
            f"data.dataset={args.dataset}",
            f"data.preprocess={args.preprocess}",
            f"distill.steps={args.steps}",
        ],
    )
    ds = data_lib.from_config(cfg.data, seed=0)
    subset = data_lib.subset_train(ds, args.train_fraction, 0)
    teacher = load_teacher(args.teacher)
    print("search's own score", [round(r["val_accuracy"], 3) for r in picks], flush=True)
    for momentum in (float(m) for m in args.momenta.split(",")):
        keras.utils.set_random_seed(1)
        students = [limit_bn_momentum(graph.rebuild(teacher, a), momentum) for a in archs]
        start = time.perf_counter()
        results = Trainer(teacher, cfg.distill, cfg.runtime).fit(students, subset, seed=1)
        accuracies = [round(r.val_accuracy, 3) for r in results]
        print(f"momentum {momentum}: {accuracies}  ({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
