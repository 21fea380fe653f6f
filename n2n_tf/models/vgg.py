"""CIFAR-style VGG-11/13/16/19 with batch normalization.

Follows the widely used ``kuangliu/pytorch-cifar`` VGG: every ``3x3`` convolution
(``same`` padding, with bias) is followed by BatchNormalization and ReLU, ``'M'`` is a
``2x2`` max pool, and a single Dense layer maps the flattened features to logits. Pools use
``same`` padding so that inputs that are not 32x32 (28x28, 8x8) still build; on 32x32 inputs
this is exactly the standard network (VGG-19: 20,040,522 trainable parameters for 10 classes).
"""

from __future__ import annotations

from collections.abc import Sequence

import keras

from n2n_tf.models.registry import register, scaled

# fmt: off
CONFIGS: dict[str, list[int | str]] = {
    "vgg11": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg13": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg16": [
        64, 64, "M", 128, 128, "M", 256, 256, 256, "M",
        512, 512, 512, "M", 512, 512, 512, "M",
    ],
    "vgg19": [
        64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M",
        512, 512, 512, 512, "M", 512, 512, 512, 512, "M",
    ],
}
# fmt: on


def _vgg(
    config: Sequence[int | str],
    input_shape: Sequence[int],
    num_classes: int,
    width: float,
    name: str,
) -> keras.Model:
    """Builds a VGG from a kuangliu-style config list.

    Args:
        config: Output channels of each conv, with ``"M"`` marking a max pool that closes a
            block.
        input_shape: ``(height, width, channels)`` of one example.
        num_classes: Number of classes; size of the ``logits`` layer.
        width: Multiplier of every conv width.
        name: Model name.

    Returns:
        The Keras functional model.
    """
    inputs = keras.Input(shape=tuple(input_shape), name="input")
    x = inputs
    block, conv = 1, 1
    for item in config:
        if item == "M":
            x = keras.layers.MaxPooling2D(2, padding="same", name=f"block{block}_pool")(x)
            block, conv = block + 1, 1
            continue
        prefix = f"block{block}"
        x = keras.layers.Conv2D(
            scaled(int(item), width), 3, padding="same", name=f"{prefix}_conv{conv}"
        )(x)
        x = keras.layers.BatchNormalization(name=f"{prefix}_bn{conv}")(x)
        x = keras.layers.ReLU(name=f"{prefix}_relu{conv}")(x)
        conv += 1
    x = keras.layers.Flatten(name="flatten")(x)
    outputs = keras.layers.Dense(num_classes, name="logits")(x)
    return keras.Model(inputs, outputs, name=name)


def _builder(name: str):
    convs = sum(1 for item in CONFIGS[name] if item != "M")

    def build(input_shape: Sequence[int], num_classes: int, width: float = 1.0) -> keras.Model:
        return _vgg(CONFIGS[name], input_shape, num_classes, width, name)

    build.__name__ = build.__qualname__ = name
    build.__doc__ = f"""Builds {name.upper()} with BatchNorm ({convs} conv layers).

    Args:
        input_shape: ``(height, width, channels)`` of one example.
        num_classes: Number of classes; size of the ``logits`` layer.
        width: Multiplier of every conv width.

    Returns:
        A Keras functional model named ``{name}`` that outputs logits.
    """
    return register(name)(build)


vgg11 = _builder("vgg11")
vgg13 = _builder("vgg13")
vgg16 = _builder("vgg16")
vgg19 = _builder("vgg19")
