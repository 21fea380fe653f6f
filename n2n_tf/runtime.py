"""Process-wide runtime: seeds and the tf.distribute strategy.

The strategy is chosen automatically: ``MultiWorkerMirroredStrategy`` when
``TF_CONFIG`` describes a cluster, ``MirroredStrategy`` on several GPUs, the
default strategy otherwise (CPU or one GPU). Config can force one.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import random

import numpy as np
import tensorflow as tf

logger = logging.getLogger(__name__)

STRATEGIES = ("auto", "default", "mirrored", "multi_worker")


def set_seed(seed: int) -> None:
    """Seeds Python, NumPy, TensorFlow and Keras."""
    import keras

    random.seed(seed)
    np.random.seed(seed)
    tf.random.set_seed(seed)
    keras.utils.set_random_seed(seed)


def _cluster_size() -> int:
    try:
        cluster = json.loads(os.environ.get("TF_CONFIG", "{}")).get("cluster", {})
    except json.JSONDecodeError as err:
        raise ValueError(
            f"TF_CONFIG is not valid JSON ({err}). Received: TF_CONFIG={os.environ['TF_CONFIG']!r}"
        ) from err
    return sum(len(v) for v in cluster.values())


def make_strategy(name: str = "auto") -> tf.distribute.Strategy:
    """Returns the tf.distribute strategy for ``name`` (see module docstring).

    Raises:
        ValueError: for an unknown name.
    """
    if name not in STRATEGIES:
        raise ValueError(
            f"Unknown strategy. Expected one of {', '.join(STRATEGIES)}. "
            f"Received: strategy={name!r}"
        )
    if name == "auto":
        gpus = tf.config.list_logical_devices("GPU")
        if _cluster_size() > 1:
            name = "multi_worker"
        elif len(gpus) > 1:
            name = "mirrored"
        else:
            name = "default"
    if name == "multi_worker":
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
    elif name == "mirrored":
        strategy = tf.distribute.MirroredStrategy()
    else:
        strategy = tf.distribute.get_strategy()
    logger.info(
        "Strategy: %s with %d replica(s)", type(strategy).__name__, strategy.num_replicas_in_sync
    )
    return strategy


def configure_threads(intra: int = -1, inter: int = 0, fused: bool = False) -> bool:
    """Sets TensorFlow's thread pools; they can only be set before TensorFlow starts.

    Args:
        intra: threads per op; -1 (auto) and 0: TensorFlow's default.
        inter: ops run at once; 0: TensorFlow's default.
        fused: several students will train in one graph (the search); kept
            for callers, the auto setting no longer depends on it.

    Returns:
        True when the pools are as asked (set now, or already so), False when
        TensorFlow had started with other settings (logged; nothing changes).
    """
    if intra == -1:
        # TensorFlow's default: one thread per op (chosen in issue 4 on LeNet-5) tied
        # on LeNet-5 and was 1.4x slower for ResNet-20 students (RESULTS.md, issue 13).
        intra = 0
    wanted = {"intra": intra, "inter": inter}
    threading = tf.config.threading
    current = {
        "intra": threading.get_intra_op_parallelism_threads(),
        "inter": threading.get_inter_op_parallelism_threads(),
    }
    setters = {
        "intra": threading.set_intra_op_parallelism_threads,
        "inter": threading.set_inter_op_parallelism_threads,
    }
    ok = True
    for key, value in wanted.items():
        if not value or current[key] == value:
            continue
        try:
            setters[key](value)
        except RuntimeError:
            ok = False
            logger.info(
                "TensorFlow has already started; %s-op threads stay at %s (asked: %s). "
                "Call n2n_tf.runtime.configure_threads before building models to change them.",
                key,
                current[key] or "default",
                value,
            )
    if ok and any(wanted.values()):
        logger.info("Threads: intra-op %s, inter-op %s", intra or "default", inter or "default")
    return ok


def gpu_present() -> bool:
    """Whether TensorFlow sees a GPU."""
    return bool(tf.config.list_physical_devices("GPU"))


def use_mixed_precision(setting: bool | None, gpu: bool | None = None) -> bool:
    """``runtime.mixed_precision``: None (auto) is on exactly when a GPU is present."""
    gpu = gpu_present() if gpu is None else gpu
    return gpu if setting is None else bool(setting)


def use_xla(setting: bool | None, gpu: bool | None = None) -> bool:
    """``runtime.jit_compile``: None (auto) is on exactly when a GPU is present."""
    gpu = gpu_present() if gpu is None else gpu
    return gpu if setting is None else bool(setting)


def width_multiple(round_to: int, gpu: bool | None = None) -> int:
    """``search.round_to``: 0 (auto) is 8 on a GPU (tensor-core widths), 1 on a CPU."""
    if round_to:
        return int(round_to)
    gpu = gpu_present() if gpu is None else gpu
    return 8 if gpu else 1


def resolve_device_defaults(config, gpu: bool | None = None):
    """The config with its ``auto`` device settings resolved for this machine.

    With a GPU: mixed precision, XLA and widths rounded to 8, unless set
    explicitly; without: all three off. The resolved values are what a run
    saves in its ``config.yaml``.
    """
    gpu = gpu_present() if gpu is None else gpu
    runtime = dataclasses.replace(
        config.runtime,
        mixed_precision=use_mixed_precision(config.runtime.mixed_precision, gpu),
        jit_compile=use_xla(config.runtime.jit_compile, gpu),
    )
    search = dataclasses.replace(
        config.search, round_to=width_multiple(config.search.round_to, gpu)
    )
    return dataclasses.replace(config, runtime=runtime, search=search)
