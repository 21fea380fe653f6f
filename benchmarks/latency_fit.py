"""How well ``--target-latency``'s model predicts the latency of the students a search
samples: the line ``ms = a + b * MACs`` fitted on the teacher and its uniform-width
students (``n2n_tf.search.latency``), against the measured TFLite float latency of
students as the search samples them (layers removed, widths per layer), each
projected onto the latency target as the wall does.

Printed: the fit (``intercept_ms``, ``ms_per_mmac``), the seconds the fit took
(``fit_s``), the mean and worst relative error of the prediction on the sampled
students (``mean_abs_error``, ``max_abs_error``), and the share of projected students
whose measured latency meets the target (``met_share``; the wall holds their MACs
exactly, so this is the latency model's own accuracy).

    python benchmarks/latency_fit.py --arch resnet20 --width 0.5 --students 12 --target 3x
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from distill_throughput import sample_architectures


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--arch", default="resnet20")
    p.add_argument("--width", type=float, default=0.5)
    p.add_argument("--students", type=int, default=12)
    p.add_argument("--target", default="3x", help="the latency target (ms or a ratio)")
    p.add_argument("--runs", type=int, default=100, help="timed invocations per model")
    p.add_argument("--teacher", help="a .keras teacher (default: the zoo arch, untrained)")
    args = p.parse_args(argv)

    import keras

    from n2n_tf import graph, models
    from n2n_tf.search.latency import fit_latency, latency_flops, parse_latency, time_tflite
    from n2n_tf.search.target import Target, project

    keras.utils.set_random_seed(0)
    if args.teacher:
        teacher = keras.models.load_model(args.teacher, compile=False)
        name = args.teacher
    else:
        teacher = models.build(args.arch, (32, 32, 3), 10, width=args.width)
        name = f"{args.arch} x{args.width} (untrained, 32x32x3)"
    spec = graph.inspect(teacher)
    start = time.perf_counter()
    fit = fit_latency(teacher, spec, {"round_to": 1}, args.runs)
    fit_s = time.perf_counter() - start
    target_ms = parse_latency(args.target, fit.teacher_ms)
    wall = Target(flops=latency_flops(args.target, fit, spec.flops))
    half = args.students // 2
    archs = sample_architectures(spec, half, args.students - half, teacher, seed=1)
    errors, met = [], []
    print(f"teacher {name}: {spec.flops / 1e6:.2f} M MACs, {fit.teacher_ms:.3f} ms")
    for arch in archs:
        projected = project(teacher, spec, arch, wall)
        student = graph.rebuild(teacher, projected)
        flops = graph.count_flops(student)
        measured = time_tflite(student, args.runs)
        predicted = fit.predict(flops)
        errors.append(abs(predicted - measured) / measured)
        met.append(measured <= target_ms)
        print(
            f"  {len(arch.removed)} removed, {len(arch.factors)} narrowed: "
            f"{flops / 1e6:.2f} M MACs, predicted {predicted:.3f} ms, measured {measured:.3f} ms"
        )
    print(f"intercept_ms={fit.intercept_ms:.4f}")
    print(f"ms_per_mmac={fit.ms_per_mmac:.4f}")
    print(f"fit_s={fit_s:.1f}")
    print(f"target_ms={target_ms:.4f}")
    print(f"mean_abs_error={np.mean(errors):.3f}")
    print(f"max_abs_error={np.max(errors):.3f}")
    print(f"met_share={np.mean(met):.3f}")


if __name__ == "__main__":
    main()
