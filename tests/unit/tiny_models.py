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


def flatten_chain(input_shape=(8, 8, 3), classes=4):
    """Conv -> Conv -> Flatten -> Dense -> Dense: Dense units follow flattened channels."""
    x = inputs = keras.Input(input_shape, name="input")
    x = L.Conv2D(8, 3, padding="same", activation="relu", name="c1")(x)
    x = L.Conv2D(6, 3, strides=2, padding="same", activation="relu", name="c2")(x)
    x = L.Flatten(name="flatten")(x)
    x = L.Dense(10, activation="relu", name="fc")(x)
    outputs = L.Dense(classes, name="logits")(x)
    return keras.Model(inputs, outputs, name="flatten_chain")


def grouped(input_shape=(8, 8, 3), classes=4):
    """A grouped convolution (groups=3) between ordinary ones."""
    x = inputs = keras.Input(input_shape, name="input")
    x = L.Conv2D(6, 3, padding="same", name="stem")(x)
    x = L.ReLU(name="stem_relu")(x)
    x = L.Conv2D(12, 3, padding="same", groups=3, name="gconv")(x)
    x = L.BatchNormalization(name="gconv_bn")(x)
    x = L.ReLU(name="gconv_relu")(x)
    x = L.Conv2D(8, 1, name="pw")(x)
    x = L.GlobalAveragePooling2D(name="gap")(x)
    outputs = L.Dense(classes, name="logits")(x)
    return keras.Model(inputs, outputs, name="grouped")


def multiplier(input_shape=(8, 8, 3), classes=4):
    """A depthwise convolution with depth_multiplier=2 (and a bias) after a shrinkable conv."""
    x = inputs = keras.Input(input_shape, name="input")
    x = L.Conv2D(6, 3, padding="same", name="stem")(x)
    x = L.BatchNormalization(name="stem_bn")(x)
    x = L.ReLU(name="stem_relu")(x)
    x = L.DepthwiseConv2D(3, depth_multiplier=2, padding="same", name="dw")(x)
    x = L.BatchNormalization(name="dw_bn")(x)
    x = L.ReLU(name="dw_relu")(x)
    x = L.Conv2D(8, 1, name="pw")(x)
    x = L.GlobalAveragePooling2D(name="gap")(x)
    outputs = L.Dense(classes, name="logits")(x)
    return keras.Model(inputs, outputs, name="multiplier")


def squeeze_excite(input_shape=(8, 8, 3), classes=4):
    """An inverted residual with an EfficientNet-style squeeze-excite gate (broadcast Multiply)."""
    x = inputs = keras.Input(input_shape, name="input")
    x = L.Conv2D(8, 3, padding="same", name="stem")(x)
    x = L.BatchNormalization(name="stem_bn")(x)
    stem = L.ReLU(name="stem_relu")(x)
    x = L.Conv2D(12, 1, name="expand")(stem)
    x = L.BatchNormalization(name="expand_bn")(x)
    x = L.ReLU(name="expand_relu")(x)
    x = L.DepthwiseConv2D(3, padding="same", name="dw")(x)
    x = L.BatchNormalization(name="dw_bn")(x)
    feature = L.ReLU(name="dw_relu")(x)
    se = L.GlobalAveragePooling2D(name="se_squeeze")(feature)
    se = L.Reshape((1, 1, 12), name="se_reshape")(se)
    se = L.Conv2D(4, 1, activation="relu", name="se_reduce")(se)
    se = L.Conv2D(12, 1, activation="sigmoid", name="se_expand")(se)
    x = L.Multiply(name="se_excite")([feature, se])
    x = L.Conv2D(8, 1, name="project")(x)
    x = L.BatchNormalization(name="project_bn")(x)
    x = L.Add(name="add")([stem, x])
    x = L.GlobalAveragePooling2D(name="gap")(x)
    outputs = L.Dense(classes, name="logits")(x)
    return keras.Model(inputs, outputs, name="squeeze_excite")


@keras.saving.register_keras_serializable(package="n2n_tests")
class ChannelScale(L.Layer):
    """A custom layer with one weight per channel (surgery needs a rule for it)."""

    def build(self, input_shape):
        self.scale = self.add_weight(
            shape=(input_shape[-1],), initializer="random_uniform", name="scale"
        )

    def call(self, x):
        return x * self.scale


def with_channel_scale(input_shape=(8, 8, 3), classes=4):
    x = inputs = keras.Input(input_shape, name="input")
    x = L.Conv2D(8, 3, padding="same", name="c1")(x)
    x = ChannelScale(name="cscale")(x)
    x = L.Conv2D(8, 3, padding="same", name="c2")(x)
    x = L.GlobalAveragePooling2D(name="gap")(x)
    outputs = L.Dense(classes, name="logits")(x)
    return keras.Model(inputs, outputs, name="with_channel_scale")


@keras.saving.register_keras_serializable(package="n2n_tests")
class MyConv(L.Conv2D):
    """A Conv2D subclass: surgery must treat it as a Conv2D."""


def with_subclass_conv(input_shape=(8, 8, 3), classes=4):
    x = inputs = keras.Input(input_shape, name="input")
    x = L.Conv2D(8, 3, padding="same", name="c1")(x)
    x = MyConv(8, 3, padding="same", name="myconv")(x)
    x = L.Conv2D(8, 3, padding="same", name="c3")(x)
    x = L.GlobalAveragePooling2D(name="gap")(x)
    outputs = L.Dense(classes, name="logits")(x)
    return keras.Model(inputs, outputs, name="with_subclass_conv")


def dense_block(input_shape=(8, 8, 3), classes=4):
    """Two DenseNet layers (BN-ReLU-Conv1x1-BN-ReLU-Conv3x3, concatenated to their input)."""
    x = inputs = keras.Input(input_shape, name="input")
    x = L.Conv2D(8, 3, padding="same", name="stem")(x)
    for i in (1, 2):
        y = L.BatchNormalization(name=f"l{i}_bn0")(x)
        y = L.ReLU(name=f"l{i}_relu0")(y)
        y = L.Conv2D(8, 1, name=f"l{i}_conv1")(y)
        y = L.BatchNormalization(name=f"l{i}_bn1")(y)
        y = L.ReLU(name=f"l{i}_relu1")(y)
        y = L.Conv2D(4, 3, padding="same", name=f"l{i}_conv2")(y)
        x = L.Concatenate(name=f"l{i}_concat")([x, y])
    x = L.BatchNormalization(name="bn")(x)
    x = L.GlobalAveragePooling2D(name="gap")(x)
    outputs = L.Dense(classes, name="logits")(x)
    return keras.Model(inputs, outputs, name="dense_block")


def residual_chain(input_shape=(8, 8, 3), classes=4):
    """Two inverted residual blocks in a row with no activation after their Add (MobileNetV2)."""
    x = inputs = keras.Input(input_shape, name="input")
    x = L.Conv2D(8, 3, padding="same", name="stem")(x)
    for i in (1, 2):
        y = L.Conv2D(16, 1, name=f"b{i}_expand")(x)
        y = L.ReLU(name=f"b{i}_relu")(y)
        y = L.Conv2D(8, 1, name=f"b{i}_project")(y)
        y = L.BatchNormalization(name=f"b{i}_project_bn")(y)
        x = L.Add(name=f"b{i}_add")([x, y])
    x = L.GlobalAveragePooling2D(name="gap")(x)
    outputs = L.Dense(classes, name="logits")(x)
    return keras.Model(inputs, outputs, name="residual_chain")


def cell(input_shape=(8, 8, 3), classes=4):
    """NASNet-style cells: two branches of two convolutions each meet at ``Add`` (no
    shortcut, so every branch layer is removable on its own), twice."""
    x = inputs = keras.Input(input_shape, name="input")
    x = L.Conv2D(8, 3, padding="same", name="stem")(x)
    for c in range(2):
        x = L.ReLU(name=f"cell{c}_relu")(x)
        branches = []
        for b, kernel in enumerate((3, 5)):
            y = L.Conv2D(8, kernel, padding="same", name=f"cell{c}_b{b}_conv1")(x)
            y = L.BatchNormalization(name=f"cell{c}_b{b}_bn1")(y)
            y = L.ReLU(name=f"cell{c}_b{b}_relu")(y)
            y = L.Conv2D(8, kernel, padding="same", name=f"cell{c}_b{b}_conv2")(y)
            branches.append(L.BatchNormalization(name=f"cell{c}_b{b}_bn2")(y))
        x = L.Add(name=f"cell{c}_add")(branches)
    x = L.GlobalAveragePooling2D(name="gap")(x)
    outputs = L.Dense(classes, name="logits")(x)
    return keras.Model(inputs, outputs, name="cell")
