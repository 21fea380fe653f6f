"""Tests of the teacher zoo (``n2n_tf.models``): exact sizes, shapes, names and errors."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from n2n_tf import models
from n2n_tf.models import registry

ALL_ARCHS = [
    "lenet5",
    "plain_cnn",
    "resnet18",
    "resnet20",
    "resnet34",
    "resnet56",
    "vgg11",
    "vgg13",
    "vgg16",
    "vgg19",
]


def n_trainable(model: keras.Model) -> int:
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


# Expected trainable parameter counts, 10 classes.
#
# LeNet-5 on 28x28x1: conv1 5*5*1*6+6 = 156; conv2 (valid, 14x14 -> 10x10) 5*5*6*16+16 = 2,416;
# pool2 -> 5*5*16 = 400 features; fc1 400*120+120 = 48,120; fc2 120*84+84 = 10,164;
# logits 84*10+10 = 850. Total 61,706.
#
# VGG (conv with bias + BN gamma/beta = 9*cin*cout + 3*cout per conv; logits 512*10+10 = 5,130):
#   3->64: 1,920      64->64: 37,056     64->128: 74,112     128->128: 147,840
#   128->256: 295,680 256->256: 590,592  256->512: 1,181,184 512->512: 2,360,832
# VGG-11 = 1,920 + 74,112 + 295,680 + 590,592 + 1,181,184 + 3*2,360,832 + 5,130 = 9,231,114
# VGG-13 = 1,920 + 37,056 + 74,112 + 147,840 + 295,680 + 590,592 + 1,181,184
#          + 3*2,360,832 + 5,130 = 9,416,010
# VGG-16 = 556,608 (first four convs + 128->256) + 2*590,592 + 1,181,184 + 5*2,360,832
#          + 5,130 = 14,728,266
# VGG-19 = 556,608 + 3*590,592 + 1,181,184 + 7*2,360,832 + 5,130 = 20,040,522
#
# He et al. CIFAR ResNets with projection shortcuts (convs without bias; BN = 2*c):
#   stem 3*3*3*16 + 32 = 464
#   16->16 block: 2*(9*16*16) + 2*32 = 4,672
#   first 32 block: 9*16*32 + 9*32*32 + 16*32 (proj) + 3*64 = 14,528; other 32 blocks 18,560
#   first 64 block: 9*32*64 + 9*64*64 + 32*64 (proj) + 3*128 = 57,728; other 64 blocks 73,984
#   logits 64*10+10 = 650
# ResNet-20 (n=3) = 464 + 3*4,672 + 14,528 + 2*18,560 + 57,728 + 2*73,984 + 650 = 272,474
# ResNet-56 (n=9) = 464 + 9*4,672 + 14,528 + 8*18,560 + 57,728 + 8*73,984 + 650 = 855,770
#
# ResNet-18 / ResNet-34 match kuangliu/pytorch-cifar: 11,173,962 / 21,282,122.
#
# plain_cnn (convs without bias; BN = 2*c): 3->32 928, 32->32 9,280, 32->64 18,560,
#   64->64 36,992, 64->128 73,984, 128->128 147,712; fc 4*4*128*512+512 = 1,049,088;
#   logits 5,130. Total 1,341,674.
EXPECTED_PARAMS = {
    ("lenet5", (28, 28, 1)): 61_706,
    ("plain_cnn", (32, 32, 3)): 1_341_674,
    ("vgg11", (32, 32, 3)): 9_231_114,
    ("vgg13", (32, 32, 3)): 9_416_010,
    ("vgg16", (32, 32, 3)): 14_728_266,
    ("vgg19", (32, 32, 3)): 20_040_522,
    ("resnet18", (32, 32, 3)): 11_173_962,
    ("resnet34", (32, 32, 3)): 21_282_122,
    ("resnet20", (32, 32, 3)): 272_474,
    ("resnet56", (32, 32, 3)): 855_770,
}


def test_available_lists_the_zoo_sorted():
    names = models.available()
    assert names == sorted(names)
    assert set(ALL_ARCHS) <= set(names)


@pytest.mark.parametrize(("arch", "shape"), list(EXPECTED_PARAMS), ids=lambda v: str(v))
def test_exact_trainable_params(arch, shape):
    model = models.build(arch, shape, 10)
    assert n_trainable(model) == EXPECTED_PARAMS[(arch, shape)]
    assert model.name == arch
    assert model.output_shape == (None, 10)


@pytest.mark.parametrize("arch", ALL_ARCHS)
@pytest.mark.parametrize("shape", [(28, 28, 1), (8, 8, 1)], ids=["28x28x1", "8x8x1"])
def test_builds_on_small_inputs_with_unique_names_and_logits(arch, shape):
    model = models.build(arch, shape, 7, width=0.25)
    assert model.input_shape == (None, *shape)
    assert model.output_shape == (None, 7)
    names = [layer.name for layer in model.layers]
    assert len(names) == len(set(names))
    # Output is logits: a Dense with linear activation, no softmax anywhere.
    last = model.layers[-1]
    assert last.name == "logits"
    assert isinstance(last, keras.layers.Dense)
    assert last.activation is keras.activations.linear
    assert last.units == 7
    assert not any(isinstance(layer, keras.layers.Softmax) for layer in model.layers)


@pytest.mark.parametrize("arch", ["lenet5", "vgg11", "resnet20"])
def test_forward_pass_gives_finite_logits(arch):
    model = models.build(arch, (8, 8, 1), 3, width=0.25)
    x = np.random.default_rng(0).normal(size=(2, 8, 8, 1)).astype("float32")
    y = keras.ops.convert_to_numpy(model(x, training=False))
    assert y.shape == (2, 3)
    assert np.all(np.isfinite(y))


@pytest.mark.parametrize("arch", ALL_ARCHS)
def test_width_half_reduces_params(arch):
    shape = (28, 28, 1) if arch == "lenet5" else (8, 8, 3)
    full = n_trainable(models.build(arch, shape, 10, width=1.0))
    half = n_trainable(models.build(arch, shape, 10, width=0.5))
    assert half < full


def test_width_scales_hidden_layers_but_not_logits():
    model = models.build("lenet5", (28, 28, 1), 10, width=0.5)
    assert model.get_layer("conv1").filters == 3
    assert model.get_layer("conv2").filters == 8
    assert model.get_layer("fc1").units == 60
    assert model.get_layer("fc2").units == 42
    assert model.get_layer("logits").units == 10


def test_tiny_width_keeps_at_least_one_unit():
    model = models.build("vgg11", (8, 8, 1), 4, width=1e-3)
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert convs and all(layer.filters == 1 for layer in convs)
    assert model.output_shape == (None, 4)


def _names(arch: str, shape=(8, 8, 1)) -> set[str]:
    return {layer.name for layer in models.build(arch, shape, 10, width=0.25).layers}


def test_lenet_layer_names_and_padding():
    model = models.build("lenet5", (28, 28, 1), 10)
    names = [layer.name for layer in model.layers]
    assert names[1:] == ["conv1", "pool1", "conv2", "pool2", "flatten", "fc1", "fc2", "logits"]
    assert model.get_layer("conv2").padding == "valid"
    small = models.build("lenet5", (8, 8, 1), 10)
    assert small.get_layer("conv2").padding == "same"


def test_vgg_layer_names():
    names = _names("vgg11")
    expected = {"block1_conv1", "block1_bn1", "block1_relu1", "block1_pool", "flatten", "logits"}
    assert expected <= names
    assert {"block3_conv2", "block5_conv2", "block5_pool"} <= names
    assert "block3_conv3" not in names
    assert {"block3_conv4", "block5_conv4"} <= _names("vgg19")


def test_vgg_on_32x32_reduces_to_1x1():
    model = models.build("vgg16", (32, 32, 3), 10, width=0.25)
    assert model.get_layer("block5_pool").output.shape[1:3] == (1, 1)
    assert model.get_layer("flatten").output.shape[-1] == 128


def test_resnet_layer_names_and_shortcuts():
    names = _names("resnet18")
    expected = {
        "stem_conv",
        "stem_bn",
        "stem_relu",
        "stage2_block1_conv1",
        "stage2_block1_bn1",
        "stage2_block1_relu1",
        "stage2_block1_conv2",
        "stage2_block1_bn2",
        "stage2_block1_shortcut_conv",
        "stage2_block1_shortcut_bn",
        "stage2_block1_add",
        "stage2_block1_out",
        "pool",
        "logits",
    }
    assert expected <= names
    # Identity shortcuts where shapes match.
    assert "stage1_block1_shortcut_conv" not in names
    assert "stage2_block2_shortcut_conv" not in names
    assert "stage4_block2_out" in names and "stage5_block1_conv1" not in names


def test_resnet_cifar_structure():
    names20 = _names("resnet20")
    assert "stage3_block3_out" in names20 and "stage3_block4_conv1" not in names20
    assert "stage4_block1_conv1" not in names20
    assert {"stage2_block1_shortcut_conv", "stage3_block1_shortcut_conv"} <= names20
    names56 = _names("resnet56")
    assert "stage3_block9_out" in names56 and "stage3_block10_conv1" not in names56
    names34 = _names("resnet34")
    assert "stage3_block6_out" in names34 and "stage3_block7_conv1" not in names34


def test_resnet_convs_have_no_bias():
    model = models.build("resnet20", (8, 8, 1), 10, width=0.25)
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert convs and not any(layer.use_bias for layer in convs)


def test_unknown_arch_suggests_close_match():
    with pytest.raises(ValueError, match="Unknown architecture `resnet19`") as info:
        models.build("resnet19", (32, 32, 3), 10)
    message = str(info.value)
    assert "Did you mean `resnet" in message
    assert "Available: lenet5, plain_cnn, resnet18" in message
    assert message.endswith("Received: arch='resnet19'")


def test_unknown_arch_without_close_match():
    with pytest.raises(ValueError, match="Unknown architecture") as info:
        models.build("transformer", (32, 32, 3), 10)
    assert "Did you mean" not in str(info.value)
    assert "Received: arch='transformer'" in str(info.value)


def test_name_lookup_is_forgiving_about_case_and_dashes():
    model = models.build("LeNet-5", (28, 28, 1), 10)
    assert model.name == "lenet5"


@pytest.mark.parametrize("width", [0, -1.0, 0.0, float("nan"), "wide", True])
def test_bad_width_raises(width):
    with pytest.raises(ValueError, match=r"Expected `width`.*Received: width="):
        models.build("lenet5", (28, 28, 1), 10, width=width)


@pytest.mark.parametrize("num_classes", [1, 0, -3, 2.5, True])
def test_bad_num_classes_raises(num_classes):
    with pytest.raises(ValueError, match=r"Expected `num_classes`.*Received: num_classes="):
        models.build("lenet5", (28, 28, 1), num_classes)


@pytest.mark.parametrize("shape", [(28, 28), (1, 28, 28, 1), (28, 0, 1), (28, None, 1), "abc"])
def test_bad_input_shape_raises(shape):
    with pytest.raises(ValueError, match=r"Expected `input_shape`.*Received: input_shape="):
        models.build("lenet5", shape, 10)


def test_unexpected_kwargs_raise_type_error():
    with pytest.raises(TypeError, match="does not accept"):
        models.build("lenet5", (28, 28, 1), 10, dropout=0.5)


def test_register_adds_and_rejects_duplicates(monkeypatch):
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))

    @models.register("TinyNet")
    def tiny(input_shape, num_classes, width=1.0, hidden=4):
        inputs = keras.Input(shape=input_shape)
        x = keras.layers.Flatten()(inputs)
        x = keras.layers.Dense(max(1, round(hidden * width)), activation="relu")(x)
        return keras.Model(inputs, keras.layers.Dense(num_classes)(x), name="tiny")

    assert "tinynet" in models.available()
    model = models.build("tinynet", (4, 4, 1), 3, hidden=6)
    assert n_trainable(model) == (16 * 6 + 6) + (6 * 3 + 3)
    with pytest.raises(ValueError, match="already registered"):
        models.register("tinynet")(lambda *a, **k: None)
    with pytest.raises(ValueError, match="non-empty string"):
        models.register("")
