"""Random removals + width factors on keras.applications models: how many build.

For each model, ``--n`` random architectures (each removable layer removed with
probability 0.3, every shrinkable layer at a factor from {0.25, 0.5, 0.75, 1.0})
go through ``graph.estimate`` and ``graph.rebuild``; a built student must give
``(1, 10)`` outputs. Prints per model the built students, the size refusals (a
student larger than its teacher) and any other SurgeryError, with the first messages.

    python benchmarks/surgery_coverage.py [--n 10] [MODEL ...]
"""

from __future__ import annotations

import argparse
import collections
import random
import time

SHAPE = (32, 32, 3)
MODELS = {
    "nasnetmobile": ("NASNetMobile", {}),
    "mobilenetv2": ("MobileNetV2", {"alpha": 0.35}),
    "mobilenetv3small": ("MobileNetV3Small", {}),
    "mobilenetv3large": ("MobileNetV3Large", {}),
    "efficientnetb0": ("EfficientNetB0", {}),
    "densenet121": ("DenseNet121", {}),
    "resnet50": ("ResNet50", {}),
}


def coverage(name: str, n: int, seed: int = 0) -> tuple[collections.Counter, list[str]]:
    import keras
    import numpy as np

    from n2n_tf import graph
    from n2n_tf.graph import SurgeryError
    from n2n_tf.types import Architecture

    cls, kwargs = MODELS[name]
    model = getattr(keras.applications, cls)(weights=None, input_shape=SHAPE, classes=10, **kwargs)
    spec = graph.inspect(model)
    removable = [x.name for x in spec.layers if x.removable]
    shrinkable = [x.name for x in spec.layers if x.shrinkable]
    rng = random.Random(seed)
    counts, messages = collections.Counter(), []
    for _ in range(n):
        removed = frozenset(x for x in removable if rng.random() < 0.3)
        factors = {x: rng.choice([0.25, 0.5, 0.75, 1.0]) for x in shrinkable}
        try:
            graph.estimate(model, Architecture(removed, factors))
            student = graph.rebuild(model, Architecture(removed, factors))
        except SurgeryError as err:
            kind = "size" if "more trainable parameters" in str(err) else "other"
            counts[kind] += 1
            if kind == "other":
                messages.append(str(err)[:200])
            continue
        if tuple(student(np.zeros((1, *SHAPE), "float32")).shape) == (1, 10):
            counts["built"] += 1
        else:
            counts["wrong_shape"] += 1
    return counts, messages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("models", nargs="*", default=list(MODELS))
    parser.add_argument("--n", type=int, default=10)
    args = parser.parse_args()
    for name in args.models:
        start = time.perf_counter()
        counts, messages = coverage(name, args.n)
        print(
            f"{name:<17} built={counts['built']} size_refusals={counts['size']} "
            f"other_errors={counts['other']} wrong_shape={counts['wrong_shape']} "
            f"({time.perf_counter() - start:.1f} s)"
        )
        for message in messages[:3]:
            print("   ", message)


if __name__ == "__main__":
    main()
