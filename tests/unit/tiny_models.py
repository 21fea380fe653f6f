"""Tiny Keras models shared by the surgery tests."""

import keras

L = keras.layers


def branchy(input_shape=(8, 8, 3), classes=4):
    """Residual Add (identity shortcut), Concatenate, BN, pooling, Dense head."""
    x = inputs = keras.Input(input_shape, name="input")
    x = L.Conv2D(8, 3, padding="same", name="stem")(x)
    x = L.BatchNormalization(name="stem_bn")(x)
    stem = L.ReLU(name="stem_relu")(x)
    y = L.Conv2D(6, 3, padding="same", name="res_conv1")(stem)
    y = L.BatchNormalization(name="res_bn1")(y)
    y = L.ReLU(name="res_relu1")(y)
    y = L.Conv2D(8, 3, padding="same", name="res_conv2")(y)
    y = L.Add(name="res_add")([stem, y])
    a = L.Conv2D(5, 1, name="left")(y)
    b = L.Conv2D(7, 3, padding="same", name="right")(y)
    x = L.Concatenate(name="cat")([a, b])
    x = L.Conv2D(6, 3, strides=2, padding="same", name="down")(x)
    x = L.MaxPooling2D(name="pool")(x)
    x = L.Flatten(name="flatten")(x)
    x = L.Dense(10, activation="relu", name="fc")(x)
    outputs = L.Dense(classes, name="logits")(x)
    return keras.Model(inputs, outputs, name="branchy")


def separable(input_shape=(8, 8, 3), classes=4):
    """Depthwise and separable convolutions, ReLU6, ZeroPadding."""
    x = inputs = keras.Input(input_shape, name="input")
    x = L.Conv2D(8, 3, padding="same", name="stem")(x)
    x = L.ZeroPadding2D(1, name="pad")(x)
    x = L.DepthwiseConv2D(3, name="dw")(x)
    x = L.BatchNormalization(name="dw_bn")(x)
    x = L.ReLU(6.0, name="dw_relu")(x)
    x = L.SeparableConv2D(12, 3, padding="same", name="sep")(x)
    x = L.Conv2D(10, 1, name="pw")(x)
    x = L.GlobalAveragePooling2D(name="gap")(x)
    outputs = L.Dense(classes, name="logits")(x)
    return keras.Model(inputs, outputs, name="separable")


def nested(input_shape=(8, 8, 3), classes=4):
    """A Sequential block nested inside a functional model."""
    inner = keras.Sequential(
        [
            keras.Input((8, 8, 8)),
            L.Conv2D(8, 3, padding="same", name="inner_conv"),
            L.ReLU(name="inner_relu"),
        ],
        name="inner",
    )
    x = inputs = keras.Input(input_shape, name="input")
    x = L.Conv2D(8, 3, padding="same", name="stem")(x)
    x = inner(x)
    x = L.Conv2D(8, 3, padding="same", name="mid")(x)
    x = L.GlobalAveragePooling2D(name="gap")(x)
    outputs = L.Dense(classes, name="logits")(x)
    return keras.Model(inputs, outputs, name="nested")


@keras.saving.register_keras_serializable(package="n2n_tests")
class Scale(L.Layer):
    """A custom layer surgery does not know."""

    def call(self, x):
        return x * 2.0


def with_custom(input_shape=(8, 8, 3), classes=4):
    x = inputs = keras.Input(input_shape, name="input")
    x = L.Conv2D(8, 3, padding="same", name="c1")(x)
    x = Scale(name="scale")(x)
    x = L.Conv2D(8, 3, padding="same", name="c2")(x)
    x = L.Conv2D(8, 3, padding="same", name="c3")(x)
    x = L.GlobalAveragePooling2D(name="gap")(x)
    outputs = L.Dense(classes, name="logits")(x)
    return keras.Model(inputs, outputs, name="with_custom")


class Subclassed(keras.Model):
    def __init__(self):
        super().__init__()
        self.dense = L.Dense(3)

    def call(self, x):
        return self.dense(x)
