"""CIFAR-style residual networks built from BasicBlocks.

Two families are provided:

* ``resnet18`` / ``resnet34``: the ``kuangliu/pytorch-cifar`` ResNets. A 3x3, 64-filter,
  stride-1 stem (no max pool), four stages of ``[2, 2, 2, 2]`` / ``[3, 4, 6, 3]`` BasicBlocks
  with widths 64, 128, 256, 512 (stride 2 in the first block of stages 2-4), global average
  pooling and a Dense classifier. On 32x32x3 inputs with 10 classes they have 11,173,962 and
  21,282,122 trainable parameters.
* ``resnet20`` / ``resnet56``: the CIFAR ResNets of He et al. (2016), a 16-filter stem and
  three stages of ``n = 3`` / ``n = 9`` BasicBlocks with widths 16, 32, 64. The paper uses
  option A (parameter-free, zero-padded identity) shortcuts where the shape changes; here
  they are replaced by option B projection shortcuts (1x1 convolution + BatchNorm) so that
  every layer is a standard Keras layer. This adds a few thousand parameters (272,474 and
  855,770 trainable parameters for 10 classes instead of the paper's ~0.27M / ~0.85M).

A BasicBlock is ``conv3x3 - BN - ReLU - conv3x3 - BN``, added to the shortcut and followed
by ReLU; convolutions have no bias (BatchNorm provides the shift). The shortcut is the
identity unless the stride is not 1 or the channel count changes, in which case it is a
strided 1x1 convolution followed by BatchNorm.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras

from n2n_tf.models.registry import register, scaled


def _basic_block(x: keras.KerasTensor, filters: int, stride: int, prefix: str) -> keras.KerasTensor:
    """Applies one BasicBlock.

    Args:
        x: Input feature map (NHWC).
        filters: Output channels of the block.
        stride: Stride of the first convolution (and of the projection shortcut).
        prefix: Layer-name prefix, e.g. ``"stage2_block1"``.

    Returns:
        The block's output feature map.
    """
    in_channels = x.shape[-1]
    y = keras.layers.Conv2D(
        filters, 3, strides=stride, padding="same", use_bias=False, name=f"{prefix}_conv1"
    )(x)
    y = keras.layers.BatchNormalization(name=f"{prefix}_bn1")(y)
    y = keras.layers.ReLU(name=f"{prefix}_relu1")(y)
    y = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{prefix}_conv2")(y)
    y = keras.layers.BatchNormalization(name=f"{prefix}_bn2")(y)
    shortcut = x
    if stride != 1 or in_channels != filters:
        shortcut = keras.layers.Conv2D(
            filters, 1, strides=stride, use_bias=False, name=f"{prefix}_shortcut_conv"
        )(x)
        shortcut = keras.layers.BatchNormalization(name=f"{prefix}_shortcut_bn")(shortcut)
    y = keras.layers.Add(name=f"{prefix}_add")([y, shortcut])
    return keras.layers.ReLU(name=f"{prefix}_out")(y)


def _resnet(
    input_shape: Sequence[int],
    num_classes: int,
    width: float,
    stem_filters: int,
    stage_filters: Sequence[int],
    blocks_per_stage: Sequence[int],
    name: str,
) -> keras.Model:
    """Builds a CIFAR-style BasicBlock ResNet.

    Args:
        input_shape: ``(height, width, channels)`` of one example.
        num_classes: Number of classes; size of the ``logits`` layer.
        width: Multiplier of every conv width.
        stem_filters: Filters of the 3x3 stem convolution (before ``width``).
        stage_filters: Filters of each stage (before ``width``).
        blocks_per_stage: Number of BasicBlocks in each stage.
        name: Model name.

    Returns:
        The Keras functional model.
    """
    inputs = keras.Input(shape=tuple(input_shape), name="input")
    x = keras.layers.Conv2D(
        scaled(stem_filters, width), 3, padding="same", use_bias=False, name="stem_conv"
    )(inputs)
    x = keras.layers.BatchNormalization(name="stem_bn")(x)
    x = keras.layers.ReLU(name="stem_relu")(x)
    for stage, (filters, blocks) in enumerate(zip(stage_filters, blocks_per_stage, strict=True)):
        for block in range(blocks):
            stride = 2 if stage > 0 and block == 0 else 1
            x = _basic_block(
                x, scaled(filters, width), stride, prefix=f"stage{stage + 1}_block{block + 1}"
            )
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    outputs = keras.layers.Dense(num_classes, name="logits")(x)
    return keras.Model(inputs, outputs, name=name)


@register("resnet18")
def resnet18(input_shape: Sequence[int], num_classes: int, width: float = 1.0) -> keras.Model:
    """Builds the CIFAR ResNet-18 (``[2, 2, 2, 2]`` BasicBlocks, widths 64-512).

    Args:
        input_shape: ``(height, width, channels)`` of one example.
        num_classes: Number of classes; size of the ``logits`` layer.
        width: Multiplier of every conv width.

    Returns:
        A Keras functional model named ``resnet18`` that outputs logits.
    """
    return _resnet(
        input_shape, num_classes, width, 64, (64, 128, 256, 512), (2, 2, 2, 2), "resnet18"
    )


@register("resnet34")
def resnet34(input_shape: Sequence[int], num_classes: int, width: float = 1.0) -> keras.Model:
    """Builds the CIFAR ResNet-34 (``[3, 4, 6, 3]`` BasicBlocks, widths 64-512).

    Args:
        input_shape: ``(height, width, channels)`` of one example.
        num_classes: Number of classes; size of the ``logits`` layer.
        width: Multiplier of every conv width.

    Returns:
        A Keras functional model named ``resnet34`` that outputs logits.
    """
    return _resnet(
        input_shape, num_classes, width, 64, (64, 128, 256, 512), (3, 4, 6, 3), "resnet34"
    )


@register("resnet20")
def resnet20(input_shape: Sequence[int], num_classes: int, width: float = 1.0) -> keras.Model:
    """Builds He et al.'s CIFAR ResNet-20 (3 stages of 3 BasicBlocks, widths 16, 32, 64).

    Uses projection (option B) instead of zero-padding (option A) shortcuts; see the module
    docstring.

    Args:
        input_shape: ``(height, width, channels)`` of one example.
        num_classes: Number of classes; size of the ``logits`` layer.
        width: Multiplier of every conv width.

    Returns:
        A Keras functional model named ``resnet20`` that outputs logits.
    """
    return _resnet(input_shape, num_classes, width, 16, (16, 32, 64), (3, 3, 3), "resnet20")


@register("resnet56")
def resnet56(input_shape: Sequence[int], num_classes: int, width: float = 1.0) -> keras.Model:
    """Builds He et al.'s CIFAR ResNet-56 (3 stages of 9 BasicBlocks, widths 16, 32, 64).

    Uses projection (option B) instead of zero-padding (option A) shortcuts; see the module
    docstring.

    Args:
        input_shape: ``(height, width, channels)`` of one example.
        num_classes: Number of classes; size of the ``logits`` layer.
        width: Multiplier of every conv width.

    Returns:
        A Keras functional model named ``resnet56`` that outputs logits.
    """
    return _resnet(input_shape, num_classes, width, 16, (16, 32, 64), (9, 9, 9), "resnet56")
