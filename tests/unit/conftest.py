"""Fixtures shared by unit tests (a test module's own fixture of the same name wins)."""

import keras
import pytest

from n2n_tf import models


@pytest.fixture(scope="module")
def teacher():
    """An untrained CIFAR ResNet-20 at half width for 8x8 one-channel images."""
    keras.utils.set_random_seed(0)
    return models.build("resnet20", (8, 8, 1), 10, width=0.5)
