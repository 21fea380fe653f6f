"""REINFORCE against random search on synthetic rewards, for choosing the search's settings.

No training: ``n2n_tf.search.synthetic.SyntheticEnvironment`` gives every
architecture of a real teacher's layer graph a fixed, seeded reward of the
paper's form with a known best. For each teacher, seed and setting the script
runs the real two-stage search loop, then random search with the same plan
(the same loop with ``RandomPolicy``), and prints per setting: how often the
policy's student beats random search's (teacher-relative reward), the mean
rewards, and the mean gap to the best architecture.

    python benchmarks/search_tuning.py --teachers vgg11,resnet20,resnet56 --seeds 10 \
        --setting "search.removal_lr=0.003,search.shrink_lr=0.1" \
        --setting "search.removal_lr=0.01,search.shrink_lr=0.02"

Every ``--setting`` is a comma-separated list of ``--set`` overrides on top of
``--base`` (the plan: rollouts and updates per stage).
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time

import keras
import numpy as np

from n2n_tf import graph, models
from n2n_tf.config import load_config
from n2n_tf.search.loop import Search, random_search
from n2n_tf.search.stages import STAGE_TYPES
from n2n_tf.search.synthetic import SyntheticEnvironment

BASE = "search.rollouts=5,search.removal_updates=10,search.shrink_updates=20"


def policies_for(config, pairs: dict):
    """Policies with the initial weights of new ones under the run's seed; the objects
    are reused across runs of the same shape (their traced functions with them)."""
    s = config.search
    keras.utils.set_random_seed(config.runtime.seed)
    new = tuple(STAGE_TYPES[name](config).policy for name in ("removal", "shrink"))
    for policy in new:
        policy.build_once()
    key = (s.hidden, s.layers, s.factors)
    if key not in pairs:
        pairs[key] = new
        return new
    for old, policy in zip(pairs[key], new, strict=True):
        old.set_weights(policy.get_weights())
    return pairs[key]


def run_one(spec, overrides: list[str], seed: int, noise: float, pairs: dict) -> dict:
    config = load_config(None, [*overrides, f"runtime.seed={seed}"])
    env = SyntheticEnvironment(spec, config.search.factors, seed=seed, noise=noise)
    with tempfile.TemporaryDirectory() as run_dir:
        policies = policies_for(config, pairs)
        search = Search(None, None, config, run_dir, env=env, policies=policies)
        search.run()
        policy = search.summary()
        random = random_search(search, equal_cost=False)
    return {
        "optimum": env.reward(env.best_architecture()),
        "policy": policy["best_reward"],
        "random": random["best_reward"],
        "policy_students": policy["students"],
        "random_students": random["students"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teachers", default="vgg11,resnet20,resnet56")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--noise", type=float, default=0.01, help="std of the accuracy noise")
    parser.add_argument("--base", default=BASE)
    parser.add_argument("--setting", action="append", default=None)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    settings = args.setting or [""]
    pairs: dict = {}
    specs = {
        name: graph.inspect(models.build(name, (32, 32, 3), 10, width=0.25))
        for name in args.teachers.split(",")
    }
    print(f"base plan: {args.base}; noise {args.noise}; {args.seeds} seeds per teacher")
    print("setting | teacher | wins | policy mean | random mean | optimum mean | seconds")
    for setting in settings:
        overrides = [o for o in (args.base + "," + setting).split(",") if o]
        all_wins, total = 0, 0
        for name, spec in specs.items():
            start = time.perf_counter()
            rows = [run_one(spec, overrides, seed, args.noise, pairs) for seed in range(args.seeds)]
            wins = sum(r["policy"] > r["random"] for r in rows)
            all_wins, total = all_wins + wins, total + len(rows)
            mean = {
                k: float(np.mean([r[k] for r in rows])) for k in ("policy", "random", "optimum")
            }
            print(
                f"{setting or '(defaults)'} | {name} | {wins}/{len(rows)} | {mean['policy']:.3f} "
                f"| {mean['random']:.3f} | {mean['optimum']:.3f} "
                f"| {time.perf_counter() - start:.0f}",
                flush=True,
            )
        print(f"{setting or '(defaults)'} | all | {all_wins}/{total}", flush=True)


if __name__ == "__main__":
    main()
