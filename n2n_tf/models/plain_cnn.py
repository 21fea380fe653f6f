"""A plain Sequential CIFAR-10 CNN: the kind most published Keras CIFAR-10 models are."""

from __future__ import annotations

from collections.abc import Sequence

import keras

from n2n_tf.models.registry import register, scaled


@register("plain_cnn")
def plain_cnn(input_shape: Sequence[int], num_classes: int, width: float = 1.0) -> keras.Model:
    """Builds a ``keras.Sequential`` Conv-BN-ReLU x2 + MaxPool stack with a large Dense head.

    Three blocks of 32, 64 and 128 filters (two 3x3 convolutions each, no bias, BatchNorm,
    ReLU), a 2x2 max pool after each block, then ``flatten`` -> ``fc`` (512, ReLU) ->
    ``dropout`` (0.3) -> ``logits``. On 32x32x3 inputs with 10 classes it has 1,341,674
    trainable parameters, most of them (1,049,088) in ``fc``.

    Args:
        input_shape: ``(height, width, channels)`` of one example.
        num_classes: Number of classes; size of the ``logits`` layer.
        width: Multiplier of every hidden width (filters and the Dense head).

    Returns:
        A Keras Sequential model named ``plain_cnn`` that outputs logits.
    """
    layers: list = [keras.Input(shape=tuple(input_shape), name="input")]
    for block, filters in enumerate((32, 64, 128), start=1):
        for conv in (1, 2):
            name = f"block{block}_conv{conv}"
            layers += [
                keras.layers.Conv2D(
                    scaled(filters, width), 3, padding="same", use_bias=False, name=name
                ),
                keras.layers.BatchNormalization(name=f"{name}_bn"),
                keras.layers.ReLU(name=f"{name}_relu"),
            ]
        layers.append(keras.layers.MaxPooling2D(2, padding="same", name=f"block{block}_pool"))
    layers += [
        keras.layers.Flatten(name="flatten"),
        keras.layers.Dense(scaled(512, width), activation="relu", name="fc"),
        keras.layers.Dropout(0.3, name="dropout"),
        keras.layers.Dense(num_classes, name="logits"),
    ]
    return keras.Sequential(layers, name="plain_cnn")
