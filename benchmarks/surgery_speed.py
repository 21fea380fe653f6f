"""Surgery speed: inspect and rebuild times for ResNet-34 and VGG-19 (32x32x3, 10 classes).

Run: .venv/bin/python benchmarks/surgery_speed.py [--repeats 5]

For each teacher it times `graph.inspect` (cold: includes the one-off analysis),
`graph.rebuild` of the identity architecture and of a random sampled student
(removal + shrinkage, weights inherited), and, as the baseline, Keras' own
`keras.models.clone_model` + `set_weights` (an unmodified copy), and prints the
ratio rebuild / clone. Goal (issue 3): rebuild of ResNet-34 under 2 s.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402

from n2n_tf import graph, models  # noqa: E402
from n2n_tf.types import Architecture  # noqa: E402


def timed(fn, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def random_arch(spec, seed):
    rng = random.Random(seed)
    removed = frozenset(s.name for s in spec.layers if s.removable and rng.random() < 0.3)
    factors = {s.name: rng.choice([0.25, 0.5, 0.75]) for s in spec.layers if s.shrinkable}
    return Architecture(removed, factors)


def clone(teacher):
    copy = keras.models.clone_model(teacher)
    copy.set_weights(teacher.get_weights())
    return copy


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(f"{'teacher':10} {'inspect':>9} {'identity':>9} {'student':>9} {'clone':>9} {'ratio':>6}")
    for name in ("resnet34", "vgg19"):
        teacher = models.build(name, (32, 32, 3), 10)
        start = time.perf_counter()
        spec = graph.inspect(teacher)
        inspect_s = time.perf_counter() - start
        identity = timed(lambda t=teacher: graph.rebuild(t, Architecture()), args.repeats)
        arch = random_arch(spec, 0)
        student = timed(lambda t=teacher, a=arch: graph.rebuild(t, a), args.repeats)
        baseline = timed(lambda t=teacher: clone(t), args.repeats)
        print(
            f"{name:10} {inspect_s:8.2f}s {identity:8.2f}s {student:8.2f}s {baseline:8.2f}s "
            f"{identity / baseline:5.2f}x"
        )


if __name__ == "__main__":
    main()
