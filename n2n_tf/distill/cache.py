"""Teacher-logit cache: the teacher runs once per training example, not once per student-epoch.

Used when the training pipeline has no random augmentation (with augmentation
every batch differs, so the fused trainer computes the teacher's logits once
per batch and shares them among the students instead).
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable

import numpy as np
import tensorflow as tf

logger = logging.getLogger(__name__)

DISK_THRESHOLD_BYTES = 2 * 1024**3  # "auto" keeps larger caches on disk


class TeacherCache:
    """Holds ``(x, y, teacher_logits)`` for a dataset's training split.

    Args:
        logits_fn: maps a batch of images to teacher logits.
        mode: ``auto``, ``memory``, ``disk`` or ``off``.
        directory: where disk caches go (default: a temporary directory).
    """

    def __init__(self, logits_fn: Callable, mode: str = "auto", directory: str | None = None):
        self.logits_fn = logits_fn
        self.mode = mode
        self.directory = directory
        self._arrays: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self.teacher_batches = 0  # how many batches the teacher has run (for tests)

    def enabled(self, data) -> bool:
        if self.mode == "off":
            return False
        if data.info.augment != "none":
            if self.mode in ("memory", "disk"):
                logger.warning(
                    "Teacher-logit cache disabled: the training data is augmented (%s), so "
                    "logits are computed once per batch and shared by all students.",
                    data.info.augment,
                )
            return False
        return True

    def arrays(self, data) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Computes (once) the images, labels and teacher logits of the training split."""
        key = id(data.train_plain)
        if key in self._arrays:
            return self._arrays[key]
        n = data.info.split_sizes["train"]
        shape = data.info.input_shape
        nbytes = n * int(np.prod(shape)) * 4
        on_disk = self.mode == "disk" or (self.mode == "auto" and nbytes > DISK_THRESHOLD_BYTES)
        xs = ys = logits = None
        offset = 0
        for x, y in data.train_plain:
            t = self.logits_fn(x).numpy()
            self.teacher_batches += 1
            if xs is None:
                xs = self._alloc((n, *shape), np.float32, on_disk, "x")
                ys = self._alloc((n,), np.int32, on_disk, "y")
                logits = self._alloc((n, t.shape[-1]), np.float32, on_disk, "logits")
            b = len(y)
            xs[offset : offset + b] = x.numpy()
            ys[offset : offset + b] = y.numpy()
            logits[offset : offset + b] = t
            offset += b
        if xs is None or offset != n:
            raise RuntimeError(f"Internal error: cached {offset} of {n} training examples")
        logger.info(
            "Cached teacher logits for %d training examples (%s)",
            n,
            "disk" if on_disk else "memory",
        )
        self._arrays[key] = (xs, ys, logits)
        return self._arrays[key]

    def _alloc(self, shape, dtype, on_disk: bool, name: str) -> np.ndarray:
        if not on_disk:
            return np.empty(shape, dtype)
        directory = self.directory or tempfile.mkdtemp(prefix="n2n-cache-")
        os.makedirs(directory, exist_ok=True)
        path = os.path.join(directory, f"{name}.npy")
        return np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=shape)

    def dataset(self, data, seed: int = 0) -> tf.data.Dataset | None:
        """A shuffled, batched ``(x, y, logits)`` stream, or None when caching is off."""
        if not self.enabled(data):
            return None
        xs, ys, logits = self.arrays(data)
        n = len(ys)
        if isinstance(xs, np.memmap):

            def gather(idx):
                idx = np.sort(idx)
                return xs[idx], ys[idx], logits[idx]

            def load(idx):
                x, y, t = tf.numpy_function(gather, [idx], [tf.float32, tf.int32, tf.float32])
                x.set_shape((None, *xs.shape[1:]))
                y.set_shape((None,))
                t.set_shape((None, logits.shape[1]))
                return x, y, t

            ds = tf.data.Dataset.range(n).shuffle(n, seed=seed, reshuffle_each_iteration=True)
            ds = ds.batch(data.batch_size).map(load, num_parallel_calls=tf.data.AUTOTUNE)
        else:
            ds = tf.data.Dataset.from_tensor_slices((xs, ys, logits))
            ds = ds.shuffle(n, seed=seed, reshuffle_each_iteration=True).batch(data.batch_size)
        return ds.prefetch(tf.data.AUTOTUNE)
