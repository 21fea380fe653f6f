"""Teacher zoo: LeNet-5, CIFAR VGG-11/13/16/19, CIFAR ResNet-18/20/34/56 and a plain CNN.

All architectures are Keras 3 models (functional; ``plain_cnn`` is Sequential) that output
logits, built through a small registry::

    from n2n_tf import models

    models.available()  # ['lenet5', 'resnet18', ...]
    model = models.build("resnet20", (32, 32, 3), num_classes=10, width=0.5)

New architectures are added with the :func:`register` decorator; their builders take
``(input_shape, num_classes, width=1.0)``.
"""

from __future__ import annotations

from n2n_tf.models import lenet, plain_cnn, resnet, vgg  # noqa: F401  (populate the registry)
from n2n_tf.models.registry import available, build, register

__all__ = ["available", "build", "register"]
