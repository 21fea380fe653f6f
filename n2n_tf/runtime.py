"""Process-wide runtime: seeds and the tf.distribute strategy.

The strategy is chosen automatically: ``MultiWorkerMirroredStrategy`` when
``TF_CONFIG`` describes a cluster, ``MirroredStrategy`` on several GPUs, the
default strategy otherwise (CPU or one GPU). Config can force one.
"""

from __future__ import annotations

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


def set_mixed_precision(enabled: bool) -> None:
    """Turns on ``mixed_float16`` when asked and a GPU is present (no-op on CPU)."""
    import keras

    if enabled and tf.config.list_logical_devices("GPU"):
        keras.mixed_precision.set_global_policy("mixed_float16")
    elif enabled:
        logger.warning("Mixed precision asked for but no GPU is present; using float32.")
