"""Teacher-logit cache: the teacher runs once per training example (or view), not per student.

Without random augmentation the teacher's logits are computed once per
training example. With crop+flip augmentation, ``views`` (K) seeded augmented
views of every training image are drawn once; the teacher's logits for each
are computed once, and every later training pass picks, per example and per
epoch, one of its K views at random (a view is a crop offset and a flip bit,
applied to the uint8 image when a batch is read). So the teacher's cost is
paid once per search, not on every batch of every student. ``views=0`` keeps
per-batch augmentation (the teacher then runs on every batch, once per batch
for all students).

The images are kept as the uint8 arrays they came in (not as float32 copies),
and a training stream gathers its batches by index from them: building the
stream for a new ``fit`` copies nothing. Disk caches (``mode="disk"``, or
``auto`` above 2 GiB) live in files removed by ``close`` or, at the latest,
when the cache is garbage collected or the interpreter exits.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import weakref
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

logger = logging.getLogger(__name__)

DISK_THRESHOLD_BYTES = 2 * 1024**3  # "auto" keeps larger caches on disk
VIEWABLE = ("crop_flip",)  # augmentations whose views can be cached


def crop_pad(input_shape) -> int:
    """The zero padding of crop+flip for images of ``input_shape`` (as ``data.build``)."""
    return max(1, min(input_shape[:2]) // 8)


def sample_views(n: int, views: int, pad: int, seed: int) -> np.ndarray:
    """``[n, views, 3]`` int32 crop+flip parameters: row offset, column offset, flip."""
    rng = np.random.default_rng(seed)
    out = np.empty((n, views, 3), np.int32)
    out[..., :2] = rng.integers(0, 2 * pad + 1, size=(n, views, 2))
    out[..., 2] = rng.integers(0, 2, size=(n, views))
    return out


def apply_views(x: tf.Tensor, params: tf.Tensor, pad: int) -> tf.Tensor:
    """Crops and flips a batch ``[b, h, w, c]`` by per-example ``params`` ``[b, 3]``.

    The same transformation as ``data.pipeline.crop_flip`` (zero padding of the
    preprocessed image, a crop of the original size, a horizontal flip), with
    the offsets and flips given instead of drawn.
    """
    h, w = x.shape[1], x.shape[2]
    padded = tf.pad(x, [[0, 0], [pad, pad], [pad, pad], [0, 0]])
    rows = params[:, :1] + tf.range(h)[None]  # [b, h]
    cols = params[:, 1:2] + tf.range(w)[None]  # [b, w]
    flip = tf.cast(params[:, 2:3], tf.bool)
    cols = tf.where(flip, tf.reverse(cols, axis=[1]), cols)
    out = tf.gather(padded, rows, axis=1, batch_dims=1)  # [b, h, W+2p, c]
    return tf.gather(out, cols, axis=2, batch_dims=1)  # [b, h, w, c]


@dataclass
class CachedSplit:
    """The cached training split: uint8 images, labels, teacher logits per view."""

    images: np.ndarray  # [n, h, w, c] uint8
    labels: np.ndarray  # [n] int32
    logits: np.ndarray  # [n, views, classes] float32 (views = 1 without augmentation)
    views: np.ndarray | None = None  # [n, views, 3] int32 crop+flip parameters, or None
    pad: int = 0

    @property
    def num_views(self) -> int:
        return self.logits.shape[1]


def _remove(paths: list[str]) -> None:
    for path in paths:
        if os.path.isdir(path):
            shutil.rmtree(path, ignore_errors=True)
        elif os.path.exists(path):
            os.remove(path)


class TeacherCache:
    """Holds the training split's images, labels and teacher logits (per view).

    Args:
        logits_fn: maps a batch of preprocessed images to teacher logits.
        mode: ``auto``, ``memory``, ``disk`` or ``off``.
        directory: where disk caches go (default: a new temporary directory).
        views: K augmented views per image when the data is augmented (0:
            augment every batch anew and run the teacher on it).
        seed: seed of the views.
    """

    def __init__(
        self,
        logits_fn: Callable,
        mode: str = "auto",
        directory: str | None = None,
        views: int = 0,
        seed: int = 0,
    ):
        self.logits_fn = logits_fn
        self.mode = mode
        self.directory = directory
        self.views = views
        self.seed = seed
        self._splits: dict[int, CachedSplit] = {}
        self._created: list[str] = []  # files and directories to remove
        self._finalizer = weakref.finalize(self, _remove, self._created)
        self.teacher_batches = 0  # how many batches the teacher has run (for tests)

    def enabled(self, data) -> bool:
        if self.mode == "off":
            return False
        augment = data.info.augment
        if augment == "none":
            return True
        if augment in VIEWABLE and self.views > 0:
            return True
        if self.mode in ("memory", "disk"):
            logger.warning(
                "Teacher-logit cache disabled: the training data is augmented (%s) and "
                "distill.teacher_views is %d, so logits are computed once per batch and "
                "shared by all students.",
                augment,
                self.views,
            )
        return False

    def split(self, data) -> CachedSplit:
        """Computes (once per dataset) the cached training split."""
        key = id(data.train_plain)
        if key in self._splits:
            return self._splits[key]
        n = data.info.split_sizes["train"]
        shape = tuple(data.info.input_shape)
        augmented = data.info.augment != "none"
        k = self.views if augmented else 1
        nbytes = n * (int(np.prod(shape)) + k * 4 * (data.info.num_classes + 3))
        on_disk = self.mode == "disk" or (self.mode == "auto" and nbytes > DISK_THRESHOLD_BYTES)
        images = labels = None
        offset = 0
        for x, y in data.raw[0].batch(4096):
            if images is None:
                images = self._alloc((n, *x.shape[1:]), np.uint8, on_disk, "images")
                labels = self._alloc((n,), np.int32, on_disk, "labels")
            b = len(y)
            images[offset : offset + b] = x.numpy()
            labels[offset : offset + b] = y.numpy()
            offset += b
        if images is None or offset != n:
            raise RuntimeError(f"Internal error: cached {offset} of {n} training examples")
        pad = crop_pad(shape) if augmented else 0
        views = sample_views(n, k, pad, self.seed) if augmented else None
        logits = None
        preprocess = _preprocess_fn(data)
        for view in range(k):
            for start in range(0, n, data.batch_size):
                stop = min(n, start + data.batch_size)
                x = preprocess(images[start:stop])
                if views is not None:
                    x = apply_views(x, tf.constant(views[start:stop, view]), pad)
                t = self.logits_fn(x).numpy()
                self.teacher_batches += 1
                if logits is None:
                    logits = self._alloc((n, k, t.shape[-1]), np.float32, on_disk, "logits")
                logits[start:stop, view] = t
        cached = CachedSplit(images, labels, logits, views, pad)
        logger.info(
            "Cached teacher logits for %d training examples x %d view(s) (%s)",
            n,
            k,
            "disk" if on_disk else "memory",
        )
        self._splits[key] = cached
        return cached

    def _alloc(self, shape, dtype, on_disk: bool, name: str) -> np.ndarray:
        if not on_disk:
            return np.empty(shape, dtype)
        if self.directory is None:
            self.directory = tempfile.mkdtemp(prefix="n2n-cache-")
            self._created.append(self.directory)
        os.makedirs(self.directory, exist_ok=True)
        path = os.path.join(self.directory, f"{name}-{len(self._created)}.npy")
        self._created.append(path)
        return np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=shape)

    def close(self) -> None:
        """Drops the cached arrays and removes the files (and directory) this cache created."""
        self._splits.clear()
        _remove(list(reversed(self._created)))
        self._created.clear()

    def dataset(self, data, seed: int = 0) -> tf.data.Dataset | None:
        """A shuffled, batched ``(x, y, logits)`` stream, or None when caching is off.

        Every epoch reshuffles and, with views, picks one of each image's views
        at random (seeded). Batches are gathered by index from the cached
        arrays: nothing is copied when the stream is built.
        """
        if not self.enabled(data):
            return None
        cached = self.split(data)
        n, k = len(cached.labels), cached.num_views
        images, labels, logits, views = cached.images, cached.labels, cached.logits, cached.views
        disk = isinstance(images, np.memmap)
        image_shape = images.shape[1:]

        def gather(idx, view):
            if disk:  # sorted reads from memory-mapped files
                order = np.argsort(idx)
                idx, view = idx[order], view[order]
            params = views[idx, view] if views is not None else np.zeros((len(idx), 3), np.int32)
            return images[idx], labels[idx], logits[idx, view], params

        preprocess = _preprocess_fn(data)
        pad = cached.pad

        def load(idx, view):
            x, y, t, params = tf.numpy_function(
                gather, [idx, view], [tf.uint8, tf.int32, tf.float32, tf.int32]
            )
            x.set_shape((None, *image_shape))
            y.set_shape((None,))
            t.set_shape((None, logits.shape[-1]))
            params.set_shape((None, 3))
            x = preprocess(x)
            if views is not None:
                x = apply_views(x, params, pad)
            return x, y, t

        index = tf.data.Dataset.range(n).shuffle(n, seed=seed, reshuffle_each_iteration=True)
        if k > 1:
            choice = tf.data.Dataset.random(seed=seed + 1, rerandomize_each_iteration=True)
            index = tf.data.Dataset.zip((index, choice.map(lambda r: r % k)))
        else:
            index = index.map(lambda i: (i, tf.zeros_like(i)))
        ds = index.batch(data.batch_size).map(load, num_parallel_calls=tf.data.AUTOTUNE)
        return ds.prefetch(tf.data.AUTOTUNE)


def _preprocess_fn(data) -> Callable:
    """uint8 images -> the model inputs the data pipeline yields (``data.preprocessing``)."""
    preprocessing = data.preprocessing

    def fn(x):
        x = tf.cast(x, tf.float32)
        return preprocessing(x) if preprocessing is not None else x

    return fn
