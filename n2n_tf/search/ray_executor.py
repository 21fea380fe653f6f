"""Students scored on Ray actors: one flag from a laptop to a cluster.

The driver keeps the policies, the checkpoint and the history; every call of
the environment (a screen or a distillation of one update's students) is split
over the actors, round robin, and each actor scores its share as the local
executor does, with the same per-student seeds, so a run writes the same
history rows as a local one (within float nondeterminism: thread pools of
another size may sum in another order).

Each actor loads the prepared teacher, the dataset pipeline and the teacher's
cached views once and is given one GPU, or else a share of the CPUs, with
TensorFlow's thread pools sized to it. Actors get architectures (dicts) and
return numbers, never Keras objects. An actor that dies (its process killed, its
node lost) has its share scored again on another actor and is replaced, so the
update completes with nothing lost or counted twice.

What bites (Ray's and TensorFlow's trackers): TensorFlow must be imported inside
the actor (this module imports neither it nor Keras); Keras' global state grows
over repeated builds without ``keras.backend.clear_session()``; Ray Tune's
TensorFlow examples are broken for Keras 3 (ray #47464, #48910), so these are
Ray core actors.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import socket
import tempfile
import time
from pathlib import Path

logger = logging.getLogger(__name__)

RAY_REQUIREMENT = "ray==2.60.0"  # the version setup.py's ``ray`` extra pins
# Shares scored again after lost actors before the update gives up.
MAX_LOST = 8


def import_ray():
    """Ray, or a ValueError saying how to install it."""
    try:
        import ray
    except ImportError as err:
        raise ValueError(
            "--executor ray needs Ray, which is not installed: pip install -e '.[ray]' "
            f"(installs {RAY_REQUIREMENT}). Received: executor='ray'"
        ) from err
    return ray


class ScoringWorker:
    """The body of one Ray actor: an environment of its own and the local executor.

    Args:
        teacher: the prepared teacher as the bytes of a ``.keras`` file.
        config: the run's resolved config (its dataset is loaded here by name).
        threads: TensorFlow's intra- and inter-op threads (the actor's CPUs).
    """

    def __init__(self, teacher: bytes, config, threads: int):
        from n2n_tf import native_logs

        if "TF_CPP_MIN_LOG_LEVEL" not in os.environ:
            native_logs.quiet_environment(False)
        native_logs.filter_native_stderr()
        from n2n_tf import data as data_lib
        from n2n_tf.runtime import configure_threads, set_seed

        runtime = dataclasses.replace(
            config.runtime, executor="local", intra_op_threads=threads, inter_op_threads=threads
        )
        config = dataclasses.replace(config, runtime=runtime)
        configure_threads(threads, threads, fused=True)  # before TensorFlow starts work
        set_seed(config.runtime.seed)
        from n2n_tf.io import load_model
        from n2n_tf.search.environment import Environment
        from n2n_tf.search.executor import LocalExecutor

        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "teacher.keras"
            path.write_bytes(teacher)
            model = load_model(str(path), safe_mode=False)  # the driver's own file
        data = data_lib.from_config(config.data, seed=config.runtime.seed)
        self.env = Environment(model, data, config)
        self.local = LocalExecutor()

    def pid(self) -> int:
        return os.getpid()

    def ready(self) -> bool:
        return True

    def _use(self, inherit: bool, distill) -> None:
        """The calling environment's inheritance and distillation settings (a fork's)."""
        import keras

        keras.backend.clear_session(free_memory=False)  # Keras' global state, per call
        config = self.env.config
        if config.search.inherit != inherit:
            search = dataclasses.replace(config.search, inherit=inherit)
            self.env.config = dataclasses.replace(config, search=search)
        if self.env.trainer.config != distill:
            self.env.trainer.config = distill

    def screen(self, jobs, seed: int, inherit: bool, distill):
        """``(outcomes, seconds)``: the local executor's screen of ``jobs``, and its time."""
        self._use(inherit, distill)
        return self.local.screen(self.env, jobs, seed), self.local.calls[-1]["seconds"]

    def distill(self, jobs, seed: int, inherit: bool, distill):
        """``(outcomes, seconds)``: the local executor's distillation of ``jobs``."""
        self._use(inherit, distill)
        return self.local.distill(self.env, jobs, seed), self.local.calls[-1]["seconds"]

    def echo(self, jobs) -> int:
        """Nothing but the round trip of ``jobs`` (what shipping them costs)."""
        return len(jobs)


def check_address(address: str, timeout: float = 5.0) -> None:
    """Raises ValueError in one line naming ``address`` when nothing listens there
    (``auto`` and ``ray://`` addresses are left to Ray)."""
    if address == "auto" or "://" in address:
        return
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(
            f"--address takes HOST:PORT of a Ray head (or `auto`). Received: address={address!r}"
        )
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as err:
        raise ValueError(
            f"No Ray cluster answers at {address} ({err.strerror or err}); start one there "
            f"with `ray start --head`, or leave out --address to start one here. "
            f"Received: address={address!r}"
        ) from None


class RayExecutor:
    """Scores students on ``runtime.workers`` Ray actors (started on first use).

    Args:
        teacher: the prepared teacher (saved once and shipped to every actor).
        config: the run's resolved config (``runtime.address``, ``runtime.workers``).
    """

    name = "ray"

    def __init__(self, teacher, config):
        import_ray()  # before the search starts: a missing Ray or a wrong address fails now
        if config.runtime.address:
            check_address(config.runtime.address)
        self.teacher, self.config = teacher, config
        self.workers: list = []
        self.lost = 0  # actors lost (their shares scored again elsewhere)
        self.resubmitted = 0  # jobs scored again after their actor was lost
        self._started_ray = False
        self._teacher_ref = None
        self._options: dict = {}
        self._threads = 1
        self.start_s = None  # seconds the actors took to start and load (the last start)
        self.calls: list[dict] = []  # {"method", "jobs", "seconds", "worker_seconds"}

    # ------------------------------------------------------------ actors
    def start(self) -> None:
        """Connects to (or starts) Ray and starts the actors; waits until they have loaded."""
        ray = import_ray()
        runtime = self.config.runtime
        if not ray.is_initialized():
            self._connect(ray, runtime.address)
        resources = ray.cluster_resources()
        gpus, cpus = int(resources.get("GPU", 0)), int(resources.get("CPU", 1))
        workers = runtime.workers or (gpus if gpus else max(1, cpus // 2))
        share = max(1, cpus // workers)
        self._threads = share
        self._options = {"num_cpus": share, "num_gpus": 1 if gpus else 0}
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "teacher.keras"
            self.teacher.save(path)
            self._teacher_ref = ray.put(path.read_bytes())
        self._remote = ray.remote(max_restarts=0, max_task_retries=0)(ScoringWorker)
        started = time.perf_counter()
        self.workers = [self._new() for _ in range(workers)]
        logger.info("Ray: %d worker(s), each %s", workers, "1 GPU" if gpus else f"{share} CPU(s)")
        try:
            ray.get([w.ready.remote() for w in self.workers])
            self.start_s = time.perf_counter() - started
        except ray.exceptions.RayActorError as err:
            self.close()
            cause = str(err).strip().splitlines()[-1][:300]
            raise ValueError(
                f"A Ray worker could not load the teacher and the dataset: {cause}. Every "
                "node needs n2n-tf installed and the dataset reachable by its name. "
                f"Received: dataset={self.config.data.dataset!r}"
            ) from None

    def _connect(self, ray, address: str | None) -> None:
        quiet = {"log_to_driver": True, "logging_level": logging.WARNING}
        if address:
            check_address(address)
            try:
                ray.init(address=address, **quiet)
            except (ConnectionError, RuntimeError) as err:
                first = str(err).strip().splitlines()[0][:200] if str(err).strip() else ""
                raise ValueError(
                    f"Cannot join the Ray cluster at {address}: {first}. Start one with "
                    f"`ray start --head`, or leave out --address. Received: address={address!r}"
                ) from None
            return
        ray.init(include_dashboard=False, **quiet)
        self._started_ray = True

    def _new(self):
        return self._remote.options(**self._options).remote(
            self._teacher_ref, self.config, self._threads
        )

    def pids(self) -> list[int]:
        """The process ids of the actors (for tests and benchmarks)."""
        ray = import_ray()
        if not self.workers:
            self.start()
        return ray.get([w.pid.remote() for w in self.workers])

    def close(self) -> None:
        """Stops the actors, and the Ray instance when this executor started it."""
        if not self.workers and not self._started_ray:
            return
        ray = import_ray()
        for worker in self.workers:
            with contextlib.suppress(Exception):  # already gone
                ray.kill(worker)
        self.workers = []
        if self._started_ray:
            ray.shutdown()
            self._started_ray = False

    # ------------------------------------------------------------ scoring
    def screen(self, env, jobs, seed: int):
        return self._spread("screen", env, jobs, seed)

    def distill(self, env, jobs, seed: int):
        return self._spread("distill", env, jobs, seed)

    def _spread(self, method: str, env, jobs, seed: int):
        """Runs ``method`` on the jobs split round robin over the actors; an actor lost
        midway is replaced and its share submitted to the next actor."""
        if not jobs:
            return []
        if not self.workers:
            self.start()
        ray = import_ray()
        args = (seed, env.config.search.inherit, env.trainer.config)
        pending: dict = {}

        def submit(worker: int, share: list[int]) -> None:
            call = getattr(self.workers[worker], method)
            pending[call.remote([jobs[i] for i in share], *args)] = (worker, share)

        started = time.perf_counter()
        n = len(self.workers)
        for worker in range(n):
            share = list(range(worker, len(jobs), n))
            if share:
                submit(worker, share)
        out: list = [None] * len(jobs)
        worker_seconds: list[float] = []
        lost_here = 0
        while pending:
            (ref,), _ = ray.wait(list(pending), num_returns=1)
            worker, share = pending.pop(ref)
            try:
                results = ray.get(ref)
            except ray.exceptions.RayActorError as err:
                lost_here += 1
                if lost_here > MAX_LOST:
                    raise RuntimeError(
                        f"Ray workers were lost {lost_here} times in one update; giving up "
                        f"(last: {str(err).strip().splitlines()[0][:200]})"
                    ) from err
                self.lost += 1
                self.resubmitted += len(share)
                self.workers[worker] = self._new()
                other = (worker + 1) % n
                logger.warning(
                    "Ray worker %d was lost during a %s; its %d student(s) are scored again "
                    "on worker %d, and a new worker replaces it",
                    worker,
                    method,
                    len(share),
                    other,
                )
                submit(other, share)
                continue
            results, seconds = results
            worker_seconds.append(seconds)
            for i, result in zip(share, results, strict=True):
                out[i] = result
        wall = time.perf_counter() - started
        self.calls = [
            *self.calls[-999:],
            {
                "method": method,
                "jobs": len(jobs),
                "seconds": wall,
                "worker_seconds": worker_seconds,
            },
        ]
        return out


__all__ = ["RAY_REQUIREMENT", "RayExecutor", "ScoringWorker", "check_address", "import_ray"]
