"""Student accuracy with K cached teacher views vs per-batch augmentation (distill.teacher_views).

Run: python benchmarks/teacher_views_accuracy.py [--views 0 1 2 4 8] [--epochs 2]

The CIFAR workload of distill_throughput.py (seeded subset of the JPEG training
images, crop+flip, ResNet-20 teacher trained here, the same 5 sampled students):
for each K the same students (same initial weights) are trained by
`distill.Trainer` with `teacher_views=K` (0: per-batch augmentation, the teacher
on every batch) for the same steps; prints mean validation accuracy, the
one-time cache seconds and the training seconds.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--views", type=int, nargs="+", default=[0, 1, 2, 4, 8])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--cifar", default="../shared/datasets/cifar10-jpeg/train")
    parser.add_argument("--per-class", type=int, default=400)
    parser.add_argument("--teacher-epochs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from n2n_tf.runtime import configure_threads

    configure_threads(-1, 0, fused=True)
    import distill_throughput as bench
    import keras
    import numpy as np
    from subsets import make_subset

    from n2n_tf import data, graph, models
    from n2n_tf.config import DistillConfig
    from n2n_tf.distill import Trainer

    with tempfile.TemporaryDirectory() as tmp:
        subset = os.path.join(tmp, "subset")
        make_subset(os.path.abspath(args.cifar), args.per_class, args.seed, subset)
        keras.utils.set_random_seed(0)
        ds = data.load(f"folder:{subset}", batch_size=128, augment="crop_flip")
        teacher = models.build("resnet20", ds.info.input_shape, ds.info.num_classes)
        teacher.compile(
            optimizer=keras.optimizers.AdamW(2e-3, weight_decay=5e-4),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        )
        teacher.fit(ds.train, epochs=args.teacher_epochs, verbose=0)
        print(f"teacher val accuracy {bench.accuracy(teacher, ds.val):.4f}")
        archs = bench.sample_architectures(graph.inspect(teacher), 2, 3, teacher, seed=args.seed)
        for k in args.views:
            cfg = DistillConfig(learning_rate=bench.LR, weight_decay=bench.WD, teacher_views=k)
            trainer = Trainer(teacher, cfg)
            start = time.perf_counter()
            trainer.cache.dataset(ds)
            cache_s = time.perf_counter() - start
            keras.utils.set_random_seed(1)
            students = [graph.rebuild(teacher, a) for a in archs]
            start = time.perf_counter()
            results = trainer.fit(students, ds, epochs=args.epochs)
            train_s = time.perf_counter() - start
            accs = [r.val_accuracy for r in results]
            print(
                f"teacher_views={k}: mean val acc {np.mean(accs):.4f}  per student "
                f"{[round(a, 3) for a in accs]}  cache {cache_s:.1f} s  train+eval {train_s:.1f} s",
                flush=True,
            )
            trainer.close()


if __name__ == "__main__":
    main()
