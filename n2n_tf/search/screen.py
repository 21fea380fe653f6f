"""The zero-step screen: a student's validation accuracy with the weights it inherited,
after its BatchNorm statistics are re-estimated on a few training batches.

A narrowed or shortened student no longer matches the BatchNorm statistics it
inherited, so without the re-estimate its accuracy says little about the
architecture ("adaptive BN", EagleEye, ECCV 2020; AMC screens the same way).
The screen costs a few forward passes per student against a short
distillation's hundreds of training steps, so a search can screen many
rollouts and distil only the best of them (``search.screen_top_k``).
"""

from __future__ import annotations

import keras

from n2n_tf.data import Datasets
from n2n_tf.predictions import accuracies


def batchnorm_layers(model: keras.Model) -> list:
    """Every BatchNormalization layer of ``model``, nested models included."""
    return [
        layer
        for layer in model._flatten_layers(include_self=False, recursive=True)
        if isinstance(layer, keras.layers.BatchNormalization)
    ]


def refresh_batchnorm(model: keras.Model, batches) -> keras.Model:
    """Sets every BatchNorm layer's moving mean and variance to the average of its batch
    statistics over ``batches`` (images; training-mode forward passes, outputs dropped).

    The ``i``-th batch is folded in with momentum ``i / (i + 1)``: a running average
    in which the inherited statistics have no weight. Returns ``model``.
    """
    layers = batchnorm_layers(model)
    if not layers:
        return model
    momenta = [layer.momentum for layer in layers]
    try:
        for i, images in enumerate(batches):
            for layer in layers:
                layer.momentum = i / (i + 1)
            model(images, training=True)
    finally:
        for layer, momentum in zip(layers, momenta, strict=True):
            layer.momentum = momentum
    return model


class Screen:
    """Screens students of one dataset: fixed BatchNorm batches and a fixed validation
    subset, the same for every student of a search.

    Args:
        data: the search's splits (BatchNorm batches from ``train_plain``: the
            training share students are scored on, unaugmented, in a fixed order).
        batches: training batches the statistics are re-estimated on.
        images: validation images the accuracy is measured on (the first ones).
    """

    def __init__(self, data: Datasets, batches: int = 8, images: int = 1024):
        self.batches = [x for x, _ in data.train_plain.take(max(1, batches))]
        self.val = data.val.unbatch().take(max(1, images)).batch(data.batch_size).cache()

    def refresh(self, students: list[keras.Model]) -> list[keras.Model]:
        """Re-estimates every student's BatchNorm statistics on the screen's batches (the
        state a screen leaves a student in, without its validation pass)."""
        for student in students:
            refresh_batchnorm(student, self.batches)
        return students

    def __call__(self, students: list[keras.Model]) -> list[float]:
        """The screen accuracy of each student (its BatchNorm statistics are replaced)."""
        if not students:
            return []
        return accuracies(self.refresh(students), self.val)


__all__ = ["Screen", "batchnorm_layers", "refresh_batchnorm"]
