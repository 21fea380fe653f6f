"""tf.data pipelines: normalisation, augmentation, batching, cache, prefetch."""

from __future__ import annotations

from typing import NamedTuple

import tensorflow as tf

from n2n_tf.data.info import DatasetInfo

AUTOTUNE = tf.data.AUTOTUNE


class Datasets(NamedTuple):
    """The batched splits of one dataset and its description.

    ``train`` is shuffled and augmented; ``train_plain`` is the same examples
    in a fixed order without augmentation (for teacher-logit caches and
    representative data); ``val`` and ``test`` are never shuffled.
    """

    train: tf.data.Dataset
    val: tf.data.Dataset
    test: tf.data.Dataset
    info: DatasetInfo
    train_plain: tf.data.Dataset
    batch_size: int


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


def normaliser(info: DatasetInfo):
    """Returns ``fn(image_uint8, label) -> (float32 normalised image, label)``."""
    mean = tf.constant(info.mean, tf.float32)
    std = tf.constant(info.std, tf.float32)

    def fn(image, label):
        image = tf.cast(image, tf.float32) / 255.0
        return (image - mean) / std, tf.cast(label, tf.int32)

    return fn


def build(
    train: tf.data.Dataset,
    val: tf.data.Dataset,
    test: tf.data.Dataset,
    info: DatasetInfo,
    batch_size: int,
    seed: int,
    cache: bool = True,
) -> Datasets:
    """Turns unbatched ``(uint8 image, label)`` splits into training-ready pipelines."""
    norm = normaliser(info)
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
    )
