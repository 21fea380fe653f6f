"""LeNet-5 (LeCun et al., 1998) in its common modern form: ReLU, max pooling, logits out."""

from __future__ import annotations

from collections.abc import Sequence

import keras

from n2n_tf.models.registry import register, scaled


@register("lenet5")
def lenet5(input_shape: Sequence[int], num_classes: int, width: float = 1.0) -> keras.Model:
    """Builds LeNet-5.

    ``conv1`` (6 filters, 5x5, same) -> ``pool1`` -> ``conv2`` (16 filters, 5x5) -> ``pool2``
    -> ``flatten`` -> ``fc1`` (120) -> ``fc2`` (84) -> ``logits``. ``conv2`` uses ``valid``
    padding, as in the original, when the feature map after ``pool1`` is at least 10x10;
    on smaller inputs (e.g. 8x8 digits) it uses ``same`` padding so the model still builds.
    On 28x28x1 inputs with 10 classes it has 61,706 trainable parameters.

    Args:
        input_shape: ``(height, width, channels)`` of one example.
        num_classes: Number of classes; size of the ``logits`` layer.
        width: Multiplier of every hidden width (6, 16, 120, 84).

    Returns:
        A Keras functional model named ``lenet5`` that outputs logits.
    """
    inputs = keras.Input(shape=tuple(input_shape), name="input")
    x = keras.layers.Conv2D(scaled(6, width), 5, padding="same", activation="relu", name="conv1")(
        inputs
    )
    x = keras.layers.MaxPooling2D(2, padding="same", name="pool1")(x)
    small = min(x.shape[1], x.shape[2]) < 10
    x = keras.layers.Conv2D(
        scaled(16, width),
        5,
        padding="same" if small else "valid",
        activation="relu",
        name="conv2",
    )(x)
    x = keras.layers.MaxPooling2D(2, padding="same", name="pool2")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(scaled(120, width), activation="relu", name="fc1")(x)
    x = keras.layers.Dense(scaled(84, width), activation="relu", name="fc2")(x)
    outputs = keras.layers.Dense(num_classes, name="logits")(x)
    return keras.Model(inputs, outputs, name="lenet5")
