"""The local executor against Ray workers on a demo-sized search, in one run.

Both searches run the same plan and seed on the same teacher (a LeNet-5, width 2,
trained briefly on the bundled mnist5k; the demo config's search with fewer
updates and no random baseline). Measured:

- wall time per update, local and on ``--workers`` Ray workers (the ratio);
- whether both wrote the same history (``same_history``);
- the actors' start (import, teacher, data, cached views: ``actor_start_s``);
- shipping: the round trip of a call with no jobs and of one with an update's jobs
  (``call_overhead_s``, ``ship_per_student_s``);
- tracing: a worker's first distillation against its later ones (``trace_s``);
- the overhead per update: Ray's wall time of its calls minus the slowest worker's
  compute (``overhead_per_update_s``), and the driver's own time per update
  (policy, checkpoint, history: ``driver_per_update_s``).

From those it projects the time per update on N workers as driver + overhead +
calls * (c0 + c1 * ceil(students / N)), with c0 and c1 fitted to the workers' measured
distillations (students in a call against its seconds), and prints the speed-up
over the measured local update. On a machine with fewer cores than workers plus a
driver the workers share cores, which the measured ratio includes and the
projection (one worker's measured compute per share) does not.

    python benchmarks/executor.py --workers 2 --updates 5,10
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import tempfile
import time
from pathlib import Path

import keras
import numpy as np

from n2n_tf import models
from n2n_tf.config import load_config
from n2n_tf.jobs.preamble import begin, load_data
from n2n_tf.search.environment import Environment
from n2n_tf.search.executor import Job
from n2n_tf.search.loop import Search
from n2n_tf.types import Architecture


def teacher_for(config) -> keras.Model:
    data = load_data(config)
    keras.utils.set_random_seed(0)
    model = models.build("lenet5", data.info.input_shape, data.info.num_classes, width=2.0)
    model.compile(
        keras.optimizers.Adam(2e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    model.fit(data.train, epochs=2, verbose=0)
    return model


def run_search(teacher, config, run_dir: Path):
    """``(per-update seconds, history rows, env)`` of one search."""
    seconds = []
    env = Environment(teacher, load_data(config), config)
    search = Search(
        None, None, config, run_dir, env=env, on_update=lambda i: seconds.append(i["seconds"])
    )
    try:
        search.run()
        rows = [json.loads(line) for line in (run_dir / "history.jsonl").read_text().splitlines()]
        for row in rows:
            row.pop("seconds")
        extra = measure_ray(env) if env.executor.name == "ray" else {}
    finally:
        env.close()
    return seconds, rows, env, extra


def measure_ray(env, repeats: int = 20) -> dict:
    """Shipping costs of the live actors: round trips with no jobs and with an update's."""
    import ray

    worker = env.executor.workers[0]
    arch = Architecture(factors={"fc1": 0.5})
    jobs = [Job(arch.key(), arch.to_dict())] * env.config.search.rollouts

    def round_trip(payload) -> float:
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            ray.get(worker.echo.remote(payload))
            times.append(time.perf_counter() - start)
        return statistics.median(times)

    empty, full = round_trip([]), round_trip(jobs)
    return {"call_overhead_s": empty, "ship_per_student_s": max(0.0, full - empty) / len(jobs)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--updates", default="5,10", help="removal,shrink updates")
    parser.add_argument("--config", default="configs/demo.yaml")
    args = parser.parse_args()
    removal, shrink = (int(v) for v in args.updates.split(","))
    common = [
        f"search.removal_updates={removal}",
        f"search.shrink_updates={shrink}",
        "search.random_baseline=false",
        "data.preprocess=unit",
    ]
    config = load_config(args.config, common)
    begin(config, fused=True)
    teacher = teacher_for(config)
    ray_config = load_config(
        args.config, [*common, "runtime.executor=ray", f"runtime.workers={args.workers}"]
    )
    with tempfile.TemporaryDirectory() as tmp:
        local_s, local_rows, local_env, _ = run_search(teacher, config, Path(tmp) / "local")
        ray_s, ray_rows, ray_env, shipping = run_search(teacher, ray_config, Path(tmp) / "ray")
    ex = ray_env.executor
    distills = [c for c in ex.calls if c["method"] == "distill"]
    local_calls = [c for c in local_env.executor.calls if c["method"] == "distill"]
    updates = len(ray_s)
    # Per update: Ray's call walls minus the slowest worker's compute in each call.
    overhead = sum(c["seconds"] - max(c["worker_seconds"]) for c in ex.calls) / updates
    driver_local = (sum(local_s) - sum(c["seconds"] for c in local_env.executor.calls)) / updates
    # The actors' start (inside the first update) is not the driver's per-update time.
    driver_ray = (sum(ray_s) - ex.start_s - sum(c["seconds"] for c in ex.calls)) / updates
    # Compute per call on one worker: seconds against the students of its share.
    points = []
    for c in distills[1:]:
        share = math.ceil(c["jobs"] / max(len(c["worker_seconds"]), 1))
        points.append((share, max(c["worker_seconds"])))
    ks, ts = np.array([p[0] for p in points], float), np.array([p[1] for p in points])
    if len(set(ks)) > 1:
        c1, c0 = np.polyfit(ks, ts, 1)
    else:
        c0, c1 = 0.0, float(np.mean(ts / ks))
    # The first distillation of each worker traces the step and fills the teacher's cache.
    first = distills[0]
    share = math.ceil(first["jobs"] / len(first["worker_seconds"]))
    trace = max(first["worker_seconds"]) - (c0 + c1 * share)
    students = statistics.mean(c["jobs"] for c in local_calls) if local_calls else 0.0
    calls = len(local_calls) / updates  # updates whose students were all cached make no call
    local_update = statistics.mean(local_s[1:])  # the first update traces
    ray_update = statistics.mean(ray_s[1:])
    print(
        f"updates={updates} distill_calls_per_update={calls:.2f} students_per_call={students:.2f}"
    )
    print(f"workers={args.workers}")
    same = next(
        (i for i, (a, b) in enumerate(zip(local_rows, ray_rows, strict=False)) if a != b), None
    )
    print(f"same_history={str(local_rows == ray_rows).lower()}")
    if same is not None:
        a, b = local_rows[same], ray_rows[same]
        fields = {k: (a[k], b.get(k)) for k in a if a[k] != b.get(k)}
        print(f"rows_equal_before_divergence={same} of {len(local_rows)}")
        print(f"first_difference (local, ray): {fields}")
    print(f"local_update_s={local_update:.3f} ray_update_s={ray_update:.3f}")
    print(f"ratio_ray_vs_local={local_update / ray_update:.3f}")
    print(f"actor_start_s={ex.start_s:.2f} trace_s={trace:.2f}")
    print(
        f"call_overhead_s={shipping['call_overhead_s']:.4f} "
        f"ship_per_student_s={shipping['ship_per_student_s']:.5f}"
    )
    per_student = overhead / max(calls * students, 1e-9)
    print(f"overhead_per_update_s={overhead:.3f} overhead_per_student_s={per_student:.3f}")
    print(f"driver_per_update_s={driver_ray:.3f} (local executor: {driver_local:.3f})")
    print(f"worker_fit_c0_s={c0:.3f} worker_fit_c1_s={c1:.3f}")
    for n in (1, 2, 4, 8, 16):
        projected = driver_ray + overhead + calls * (c0 + c1 * math.ceil(students / n))
        speedup = local_update / projected
        print(f"projected_update_s_{n}={projected:.3f} projected_speedup_{n}={speedup:.3f}")


if __name__ == "__main__":
    main()
