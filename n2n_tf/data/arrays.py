"""In-memory image sources and their seeded splits."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class ArraySource:
    """Images as uint8 NHWC arrays with integer labels, before splitting.

    ``x_test``/``y_test`` are None when the source has no test split of its
    own; :func:`split` then carves one.
    """

    x: np.ndarray
    y: np.ndarray
    class_names: tuple[str, ...]
    x_test: np.ndarray | None = None
    y_test: np.ndarray | None = None


def carve(n: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Splits ``range(n)`` into (kept, carved) index arrays with a seeded permutation.

    The carved part has ``round(n * fraction)`` elements (at least one when
    ``fraction > 0`` and ``n > 1``). Both parts keep their original order.
    """
    count = int(round(n * fraction))
    if fraction > 0 and n > 1:
        count = min(max(count, 1), n - 1)
    order = np.random.default_rng(seed).permutation(n)
    return np.sort(order[count:]), np.sort(order[:count])


def split(
    source: ArraySource, val_fraction: float, test_fraction: float, split_seed: int
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Returns ``{"train", "val", "test"}`` -> (x, y), disjoint by construction.

    The test split is carved first (when the source has none), then validation
    from what remains, each with its own seed derived from ``split_seed``.
    """
    x, y = source.x, source.y
    if source.x_test is None:
        keep, test = carve(len(x), test_fraction, split_seed)
        x_test, y_test = x[test], y[test]
        x, y = x[keep], y[keep]
    else:
        x_test, y_test = source.x_test, source.y_test
    keep, val = carve(len(x), val_fraction, split_seed + 1)
    return {
        "train": (x[keep], y[keep]),
        "val": (x[val], y[val]),
        "test": (x_test, y_test),
    }


def channel_stats(x: np.ndarray, limit: int = 10000) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std of uint8 images on the 0..1 scale (first ``limit``)."""
    sample = x[:limit].astype(np.float32) / 255.0
    mean = sample.mean(axis=(0, 1, 2))
    std = np.maximum(sample.std(axis=(0, 1, 2)), 1e-3)
    return tuple(float(v) for v in mean), tuple(float(v) for v in std)


def pixel_mean(x: np.ndarray, limit: int = 10000) -> np.ndarray:
    """The mean image (H, W, C) of uint8 images on the 0..1 scale (first ``limit``)."""
    return (x[:limit].astype(np.float64).mean(axis=0) / 255.0).astype(np.float32)


def select_classes(source: ArraySource, classes: tuple[str, ...] | None) -> ArraySource:
    """Keeps the named classes only, relabelled in the order given.

    Raises:
        ValueError: for a name the source does not have, or a repeated name.
    """
    if not classes:
        return source
    index = check_classes(source.class_names, classes)
    table = np.full(len(source.class_names), -1, np.int64)
    table[index] = np.arange(len(index))

    def pick(x, y):
        if x is None:
            return None, None
        keep = table[y] >= 0
        return x[keep], table[y[keep]]

    x, y = pick(source.x, source.y)
    x_test, y_test = pick(source.x_test, source.y_test)
    return ArraySource(x, y, tuple(classes), x_test, y_test)


def check_classes(names: tuple[str, ...], classes: tuple[str, ...]) -> list[int]:
    """Indices of ``classes`` among ``names``, or a ValueError listing what exists."""
    missing = [c for c in classes if c not in names]
    if missing or len(set(classes)) != len(classes) or len(classes) < 2:
        raise ValueError(
            "`data.classes` must name at least two distinct classes of the dataset "
            f"(it has: {', '.join(names[:50])}). Received: classes={list(classes)}"
        )
    return [names.index(c) for c in classes]
