"""tf.data pipelines: preprocessing, augmentation, batching, cache, prefetch."""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import numpy as np
import tensorflow as tf

from n2n_tf.data.info import DatasetInfo
from n2n_tf.data.preprocess import Preprocessing

AUTOTUNE = tf.data.AUTOTUNE


class Datasets(NamedTuple):
    """The batched splits of one dataset and its description.

    ``train`` is shuffled and augmented; ``train_plain`` is the same examples
    in a fixed order without augmentation (for teacher-logit caches and
    representative data); ``val`` and ``test`` are never shuffled. All of them
    yield preprocessed float32 images (``preprocessing``); ``raw`` holds the
    unbatched uint8 ``(train, val, test)`` splits they were made from (for
    another preprocessing, see ``with_preprocess``, and for ``raw_batches``).
    """

    train: tf.data.Dataset
    val: tf.data.Dataset
    test: tf.data.Dataset
    info: DatasetInfo
    train_plain: tf.data.Dataset
    batch_size: int
    preprocessing: Preprocessing | None = None
    raw: tuple | None = None
    seed: int = 0
    cache: bool = True

    def raw_batches(self, split: str = "val") -> tf.data.Dataset:
        """Batched ``(float32 pixels 0..255, label)`` of a split: what a deployment feeds."""
        index = ("train", "val", "test").index(split)
        return (
            self.raw[index]
            .map(lambda x, y: (tf.cast(x, tf.float32), tf.cast(y, tf.int32)))
            .batch(self.batch_size)
        )


def resolve_augment(augment: str, input_shape: tuple[int, int, int]) -> str:
    """``auto`` means crop+flip for CIFAR-like colour images, nothing for digits."""
    if augment != "auto":
        return augment
    height, width, channels = input_shape
    return "crop_flip" if channels == 3 and min(height, width) >= 24 else "none"


def crop_flip(image: tf.Tensor, pad: int = 4) -> tf.Tensor:
    """Random crop after zero padding by ``pad`` pixels, then a random horizontal flip."""
    shape = tf.shape(image)
    padded = tf.pad(image, [[pad, pad], [pad, pad], [0, 0]])
    image = tf.image.random_crop(padded, shape)
    return tf.image.random_flip_left_right(image)


def normaliser(preprocessing: Preprocessing):
    """Returns ``fn(image_uint8, label) -> (float32 preprocessed image, int32 label)``."""

    def fn(image, label):
        return preprocessing(tf.cast(image, tf.float32)), tf.cast(label, tf.int32)

    return fn


def build(
    train: tf.data.Dataset,
    val: tf.data.Dataset,
    test: tf.data.Dataset,
    info: DatasetInfo,
    batch_size: int,
    seed: int,
    cache: bool = True,
    preprocessing: Preprocessing | None = None,
) -> Datasets:
    """Turns unbatched ``(uint8 image, label)`` splits into training-ready pipelines.

    ``preprocessing`` defaults to per-channel standardisation with ``info``'s statistics.
    """
    if preprocessing is None:
        preprocessing = Preprocessing("standardize", info.mean, info.std)
    norm = normaliser(preprocessing)
    pad = max(1, min(info.input_shape[:2]) // 8)

    def prepare(ds: tf.data.Dataset) -> tf.data.Dataset:
        ds = ds.map(norm, num_parallel_calls=AUTOTUNE)
        return ds.cache() if cache else ds

    train_n, val_n, test_n = (prepare(d) for d in (train, val, test))
    shuffled = train_n.shuffle(
        min(info.split_sizes.get("train", 10000), 50000), seed=seed, reshuffle_each_iteration=True
    )
    if info.augment == "crop_flip":
        shuffled = shuffled.map(lambda x, y: (crop_flip(x, pad), y), num_parallel_calls=AUTOTUNE)

    def batched(ds: tf.data.Dataset) -> tf.data.Dataset:
        return ds.batch(batch_size).prefetch(AUTOTUNE)

    return Datasets(
        train=batched(shuffled),
        val=batched(val_n),
        test=batched(test_n),
        info=info,
        train_plain=batched(train_n),
        batch_size=batch_size,
        preprocessing=preprocessing,
        raw=(train, val, test),
        seed=seed,
        cache=cache,
    )


def with_preprocess(data: Datasets, mode: str) -> Datasets:
    """The same splits under another preprocessing mode (``data.preprocessing`` stats)."""
    if data.preprocessing is not None and data.preprocessing.mode == mode:
        return data
    preprocessing = dataclasses.replace(data.preprocessing, mode=mode)
    return build(
        *data.raw,
        info=dataclasses.replace(data.info, preprocess=mode),
        batch_size=data.batch_size,
        seed=data.seed,
        cache=data.cache,
        preprocessing=preprocessing,
    )


def subset_train(data: Datasets, fraction: float, seed: int = 0) -> Datasets:
    """The same splits with a seeded ``fraction`` of the training examples (1.0: ``data``).

    The subset is the same for a given seed whatever the run does before (a
    fixed permutation of the training indices), and keeps at least one batch.
    """
    if fraction >= 1.0:
        return data
    n = data.info.split_sizes["train"]
    keep_n = min(n, max(data.batch_size, int(round(n * fraction))))
    order = np.random.default_rng(seed).permutation(n)
    keep = np.zeros(n, bool)
    keep[order[:keep_n]] = True
    mask = tf.constant(keep)
    train = (
        data.raw[0]
        .enumerate()
        .filter(lambda i, example: tf.gather(mask, i))
        .map(lambda i, example: example)
    )
    sizes = {**data.info.split_sizes, "train": keep_n}
    return build(
        train,
        *data.raw[1:],
        info=dataclasses.replace(data.info, split_sizes=sizes),
        batch_size=data.batch_size,
        seed=data.seed,
        cache=data.cache,
        preprocessing=data.preprocessing,
    )
