"""Surgery beyond plain chains: grouped and multiplied depthwise convolutions, squeeze-excite
gates, dead channels removed losslessly, users' own rules, and teachers whose weights change."""

import keras
import numpy as np
import pytest
import tiny_models

from n2n_tf import graph, models
from n2n_tf.graph import SurgeryError
from n2n_tf.graph.rules import ChannelwiseRule
from n2n_tf.types import Architecture


def sample(model, n=2, seed=0):
    shape = model.inputs[0].shape[1:]
    return np.random.default_rng(seed).normal(size=(n, *shape)).astype("float32")


def outputs(model, x):
    return np.array(model(x, training=False))


@pytest.mark.parametrize(
    "factory",
    [
        tiny_models.flatten_chain,
        tiny_models.grouped,
        tiny_models.multiplier,
        tiny_models.squeeze_excite,
    ],
)
def test_identity_reproduces_grouped_multiplied_and_gated_models(factory):
    teacher = factory()
    student = graph.rebuild(teacher, Architecture())
    x = sample(teacher)
    assert np.abs(outputs(teacher, x) - outputs(student, x)).max() < 1e-5
    assert graph.count_params(student) == graph.count_params(teacher)


# ------------------------------------------------------------------ dead channels
def randomise(model, seed=0):
    """Non-trivial BN statistics and biases, so that only truly dead channels are lossless."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        values = []
        for w in layer.weights:
            leaf = w.path.split("/")[-1]
            array = np.array(w)
            if leaf in ("gamma", "moving_variance"):
                array = rng.uniform(0.5, 1.5, array.shape)
            elif leaf in ("beta", "moving_mean", "bias"):
                array = rng.normal(0, 0.2, array.shape)
            values.append(array.astype("float32"))
        layer.set_weights(values)


def zero(model, name, channels, axis=-1, outputs=None):
    """Zeroes channels of a layer's weights: the kernel's ``channels`` along ``axis``; the
    bias, or BatchNormalization's gamma, beta and moving mean (not the variance), at
    ``outputs`` (default: ``channels``)."""
    outputs = channels if outputs is None else outputs
    layer = model.get_layer(name)
    values = []
    for w in layer.weights:
        leaf, array = w.path.split("/")[-1], np.array(w)
        if leaf == "kernel":
            index = [slice(None)] * array.ndim
            index[axis] = channels
            array[tuple(index)] = 0.0
        elif leaf in ("bias", "gamma", "beta", "moving_mean"):
            array[outputs] = 0.0
        values.append(array)
    layer.set_weights(values)


def dead_channels(width, drop, blocks=1, seed=1):
    """``drop`` channels out of ``width``, equally many in each of ``blocks`` blocks."""
    rng = np.random.default_rng(seed)
    size = width // blocks
    return np.concatenate(
        [np.sort(rng.choice(size, drop // blocks, replace=False)) + b * size for b in range(blocks)]
    )


def apply_dead(teacher, case):
    """Zeroes the channels the L1 ranking will drop and returns the architecture that drops them."""
    name, width, factor, blocks, layers = case
    dead = dead_channels(width, width - int(round(width * factor)) // blocks * blocks, blocks)
    doubled = np.sort(np.concatenate([2 * dead, 2 * dead + 1]))
    for layer, kind in layers:
        if kind == "depthwise_x2":  # depth_multiplier=2: channel c feeds outputs 2c and 2c+1
            zero(teacher, layer, dead, axis=2, outputs=doubled)
        elif kind == "bn_x2":
            zero(teacher, layer, doubled)
        elif kind == "depthwise":  # kernel (k, k, in, m): zero the input channel
            zero(teacher, layer, dead, axis=2)
        else:
            zero(teacher, layer, dead)
    return Architecture(factors={name: factor})


def mobilenetv2():
    return keras.applications.MobileNetV2(
        weights=None, input_shape=(32, 32, 3), classes=10, alpha=0.35
    )


DEAD_CASES = {
    # teacher, (leader, width, factor, blocks, [(layer, how)])
    "flatten_dense": (
        tiny_models.flatten_chain,
        [
            ("c2", 6, 0.5, 1, [("c2", "conv")]),
            ("fc", 10, 0.4, 1, [("fc", "dense")]),
        ],
    ),
    "vgg_block_bn": (
        lambda: models.build("vgg11", (32, 32, 3), 10, width=0.25),
        [("block2_conv1", 32, 0.5, 1, [("block2_conv1", "conv"), ("block2_bn1", "bn")])],
    ),
    "resnet_add_group": (
        tiny_models.branchy,
        [("stem", 8, 0.5, 1, [("stem", "conv"), ("stem_bn", "bn"), ("res_conv2", "conv")])],
    ),
    "mobilenetv2_expand_depthwise_project": (
        mobilenetv2,
        [
            (
                "block_2_expand",
                48,
                0.5,
                1,
                [
                    ("block_2_expand", "conv"),
                    ("block_2_expand_BN", "bn"),
                    ("block_2_depthwise", "depthwise"),
                    ("block_2_depthwise_BN", "bn"),
                ],
            )
        ],
    ),
    "depth_multiplier_2": (
        tiny_models.multiplier,
        [
            (
                "stem",
                6,
                0.5,
                1,
                [("stem", "conv"), ("stem_bn", "bn"), ("dw", "depthwise_x2"), ("dw_bn", "bn_x2")],
            )
        ],
    ),
    "grouped_conv": (
        tiny_models.grouped,
        [("gconv", 12, 0.5, 3, [("gconv", "conv"), ("gconv_bn", "bn")])],
    ),
    "squeeze_excite": (
        tiny_models.squeeze_excite,
        [
            (
                "expand",
                12,
                0.5,
                1,
                [
                    ("expand", "conv"),
                    ("expand_bn", "bn"),
                    ("dw", "depthwise"),
                    ("dw_bn", "bn"),
                    ("se_expand", "conv"),
                ],
            )
        ],
    ),
}


@pytest.mark.parametrize("case", sorted(DEAD_CASES))
def test_dead_channels_are_removed_losslessly(case):
    factory, shrinks = DEAD_CASES[case]
    teacher = factory()
    randomise(teacher)
    x = sample(teacher, n=4)
    for shrink in shrinks:
        arch = apply_dead(teacher, shrink)
        expected = outputs(teacher, x)
        student = graph.rebuild(teacher, arch)
        got = outputs(student, x)
        scale = np.abs(expected).max()
        assert scale > 1e-3  # the teacher computes something
        assert np.abs(got - expected).max() / scale < 1e-4, shrink[0]
        assert graph.count_params(student) < graph.count_params(teacher)
        assert graph.estimate(teacher, arch)[0] == graph.count_params(student)


# --------------------------------------------------------------- layer types
def test_grouped_conv_keeps_equal_filters_per_group_and_fixes_its_input():
    teacher = tiny_models.grouped()
    spec = graph.inspect(teacher)
    stem = spec.layer("stem")
    assert not stem.shrinkable and "grouped convolution `gconv`" in stem.fixed_reason
    assert spec.layer("gconv").shrinkable
    student = graph.rebuild(teacher, Architecture(factors={"gconv": 0.6}))
    assert student.get_layer("gconv").filters == 6  # 7.2 -> a multiple of groups=3
    kernel_t = np.array(teacher.get_layer("gconv").kernel)
    kernel_s = np.array(student.get_layer("gconv").kernel)
    assert kernel_s.shape == (3, 3, 2, 6)
    # Two filters kept from each group of four, the largest by L1 norm, in order.
    norms = np.abs(kernel_t).sum(axis=(0, 1, 2)).reshape(3, 4)
    kept = [4 * g + i for g in range(3) for i in np.sort(np.argsort(-norms[g])[:2])]
    np.testing.assert_array_equal(kernel_s, kernel_t[..., kept])
    with pytest.raises(SurgeryError, match="grouped convolution"):
        graph.rebuild(teacher, Architecture(factors={"stem": 0.5}))


def test_depth_multiplier_outputs_follow_their_input_channel():
    teacher = tiny_models.multiplier()
    randomise(teacher)
    student = graph.rebuild(teacher, Architecture(factors={"stem": 0.5}))
    kernel = np.array(teacher.get_layer("stem").kernel)
    kept = np.sort(np.argsort(-np.abs(kernel).sum(axis=(0, 1, 2)), kind="stable")[:3])
    out = np.sort(np.concatenate([2 * kept, 2 * kept + 1]))
    dw_t, dw_s = teacher.get_layer("dw"), student.get_layer("dw")
    np.testing.assert_array_equal(np.array(dw_s.kernel), np.array(dw_t.kernel)[:, :, kept])
    np.testing.assert_array_equal(np.array(dw_s.bias), np.array(dw_t.bias)[out])
    bn_t, bn_s = teacher.get_layer("dw_bn"), student.get_layer("dw_bn")
    np.testing.assert_array_equal(np.array(bn_s.moving_mean), np.array(bn_t.moving_mean)[out])
    np.testing.assert_array_equal(
        np.array(student.get_layer("pw").kernel),
        np.array(teacher.get_layer("pw").kernel)[:, :, out],
    )


def test_squeeze_excite_gate_shrinks_with_its_feature_map_and_can_be_removed():
    teacher = tiny_models.squeeze_excite()
    spec = graph.inspect(teacher)
    assert spec.layer("se_expand").tied_to == "expand"
    assert spec.layer("se_reduce").removable and spec.layer("se_reduce").shrinkable
    student = graph.rebuild(teacher, Architecture(factors={"expand": 0.5, "se_reduce": 0.5}))
    assert student.get_layer("se_expand").filters == 6
    assert student.get_layer("se_reshape").target_shape == (1, 1, 6)
    assert student.get_layer("se_reduce").kernel.shape == (1, 1, 6, 2)
    no_gate = graph.rebuild(teacher, Architecture(removed=frozenset({"se_reduce"})))
    names = {layer.name for layer in no_gate.layers}
    assert not names & {"se_squeeze", "se_reshape", "se_reduce", "se_expand", "se_excite"}
    assert no_gate(sample(teacher)).shape == (2, 4)


def test_mobilenetv3_operations_are_inspected_and_kept():
    teacher = keras.applications.MobileNetV3Small(
        weights=None, input_shape=(32, 32, 3), classes=10, include_preprocessing=True
    )
    spec = graph.inspect(teacher)
    types = {layer.type for layer in spec.all_layers}
    assert {"Add", "Multiply", "Rescaling", "Activation"} <= types
    rescaling = next(layer for layer in spec.all_layers if layer.type == "Rescaling")
    assert "no surgery rule for Rescaling" in rescaling.fixed_reason
    assert sum(layer.shrinkable for layer in spec.layers) > 10
    assert spec.params == graph.count_params(teacher)


def test_inspect_reports_every_layer_with_totals_and_reasons():
    teacher = tiny_models.with_custom()
    spec = graph.inspect(teacher)
    assert [layer.name for layer in spec.all_layers][:3] == ["c1", "scale", "c2"]
    scale = spec.layer("scale")
    assert scale.type == "Scale" and scale.kind is None and not scale.removable
    assert "no surgery rule for Scale" in scale.fixed_reason
    c1 = spec.layer("c1")
    assert c1.output_shape == (8, 8, 8) and c1.params == 3 * 3 * 3 * 8 + 8
    assert c1.flops == 8 * 8 * 3 * 3 * 3 * 8
    assert "not removable: the first weight layer" in c1.fixed_reason
    assert spec.layer("c2").fixed_reason is None
    assert spec.params == sum(layer.params for layer in spec.all_layers)
    assert spec.flops == sum(layer.flops for layer in spec.all_layers)


# ------------------------------------------------------------------- rules
def test_register_rule_teaches_surgery_a_custom_layer():
    teacher = tiny_models.with_channel_scale()
    assert not graph.inspect(teacher).layer("c1").shrinkable
    with pytest.raises(SurgeryError, match=r"`cscale` \(ChannelScale\), which has no surgery rule"):
        graph.rebuild(teacher, Architecture(factors={"c1": 0.5}))
    graph.register_rule(tiny_models.ChannelScale, ChannelwiseRule())
    try:
        assert graph.inspect(teacher).layer("c1").shrinkable
        student = graph.rebuild(teacher, Architecture(factors={"c1": 0.5}))
        kernel = np.array(teacher.get_layer("c1").kernel)
        kept = np.sort(np.argsort(-np.abs(kernel).sum(axis=(0, 1, 2)), kind="stable")[:4])
        np.testing.assert_array_equal(
            np.array(student.get_layer("cscale").scale),
            np.array(teacher.get_layer("cscale").scale)[kept],
        )
        assert student(sample(teacher)).shape == (2, 4)
    finally:
        graph.unregister_rule(tiny_models.ChannelScale)
    assert not graph.inspect(teacher).layer("c1").shrinkable


def test_a_conv2d_subclass_is_treated_as_conv2d():
    teacher = tiny_models.with_subclass_conv()
    spec = graph.inspect(teacher)
    assert spec.layer("myconv").kind == "conv" and spec.layer("myconv").shrinkable
    student = graph.rebuild(teacher, Architecture(factors={"myconv": 0.5}))
    assert type(student.get_layer("myconv")) is tiny_models.MyConv
    assert student.get_layer("myconv").filters == 4
    assert student.get_layer("c3").kernel.shape == (3, 3, 4, 8)


def test_register_rule_rejects_non_classes_and_non_rules():
    with pytest.raises(ValueError, match="layer class"):
        graph.register_rule("Conv2D", ChannelwiseRule())
    with pytest.raises(ValueError, match="Rule instance"):
        graph.register_rule(tiny_models.ChannelScale, object())


# ------------------------------------------------------------------ caching
def test_changed_teacher_weights_change_the_kept_channels():
    teacher = tiny_models.flatten_chain()
    arch = Architecture(factors={"c1": 0.5})
    graph.inspect(teacher)
    first = np.array(graph.rebuild(teacher, arch).get_layer("c1").kernel)
    layer = teacher.get_layer("c1")
    kernel, bias = (np.array(w) for w in layer.weights)
    norms = np.abs(kernel).sum(axis=(0, 1, 2))
    order = np.argsort(norms)
    # Make the four weakest filters the four strongest.
    kernel[..., order[:4]] *= 100.0
    layer.set_weights([kernel, bias])
    second = np.array(graph.rebuild(teacher, arch).get_layer("c1").kernel)
    np.testing.assert_array_equal(second, kernel[..., np.sort(order[:4])])
    assert not np.array_equal(first, second)


def test_a_densenet_layer_is_removed_whole_and_its_concatenate_collapses():
    teacher = tiny_models.dense_block()
    spec = graph.inspect(teacher)
    assert spec.layer("l1_conv1").removable and not spec.layer("l1_conv2").removable
    assert spec.layer("l1_conv2").shrinkable  # removed with its block, but its width may change
    x = sample(teacher)
    same = graph.rebuild(teacher, Architecture())
    assert np.abs(outputs(teacher, x) - outputs(same, x)).max() < 1e-5
    arch = Architecture(removed=frozenset({"l1_conv1"}))
    student = graph.rebuild(teacher, arch)
    names = {layer.name for layer in student.layers}
    assert not names & {"l1_bn0", "l1_relu0", "l1_conv1", "l1_bn1", "l1_conv2", "l1_concat"}
    assert student.get_layer("l2_bn0").gamma.shape == (8,)  # the stem's 8 channels only
    assert student.get_layer("l2_concat").output.shape[-1] == 12
    assert graph.estimate(teacher, arch)[0] == graph.count_params(student)
    assert graph.count_params(student) < graph.count_params(teacher)
    # Shrinking the first layer's 3x3 conv slices every later reader of the concatenation.
    student = graph.rebuild(teacher, Architecture(factors={"l1_conv2": 0.5}))
    kernel = np.array(teacher.get_layer("l1_conv2").kernel)
    kept = np.sort(np.argsort(-np.abs(kernel).sum(axis=(0, 1, 2)), kind="stable")[:2])
    channels = np.concatenate([np.arange(8), 8 + kept])
    np.testing.assert_array_equal(
        np.array(student.get_layer("l2_bn0").gamma),
        np.array(teacher.get_layer("l2_bn0").gamma)[channels],
    )
    np.testing.assert_array_equal(
        np.array(student.get_layer("l2_conv1").kernel),
        np.array(teacher.get_layer("l2_conv1").kernel)[:, :, channels],
    )


def test_students_larger_than_the_teacher_are_rejected_before_building():
    teacher = keras.Sequential(
        [
            keras.Input((8, 8, 3)),
            keras.layers.Conv2D(16, 3, padding="same", name="c1"),
            keras.layers.Conv2D(2, 1, name="squeeze"),
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dense(4, name="logits"),
        ]
    )
    # Without the 1x1 squeeze, the Dense head reads 8*8*16 instead of 8*8*2 features.
    with pytest.raises(SurgeryError, match="more trainable parameters than the teacher"):
        graph.estimate(teacher, Architecture(removed=frozenset({"squeeze"})))


def test_removing_a_block_keeps_the_shortcut_of_the_next_block():
    teacher = tiny_models.residual_chain()
    randomise(teacher)
    student = graph.rebuild(teacher, Architecture(removed=frozenset({"b1_expand"})))
    add = student.get_layer("b2_add")
    assert [t._keras_history[0].name for t in add._inbound_nodes[0].input_tensors] == [
        "stem",
        "b2_project_bn",
    ]
    # Removing the first block is the same as adding nothing to the stem's output.
    zero(teacher, "b1_project_bn", np.arange(8))
    x = sample(teacher)
    np.testing.assert_allclose(outputs(student, x), outputs(teacher, x), rtol=1e-4, atol=1e-5)


def test_removals_with_factors_build_on_cells_whose_branches_meet_at_add():
    # Removing a branch's second convolution feeds the Add from the first one's channel
    # group: the two groups must then keep equal widths, whatever factors they were given.
    teacher = tiny_models.cell()
    spec = graph.inspect(teacher)
    removable = [layer.name for layer in spec.layers if layer.removable]
    shrinkable = [layer.name for layer in spec.layers if layer.shrinkable]
    assert {"cell0_b0_conv2", "cell1_b1_conv2"} <= set(removable)
    rng = np.random.default_rng(0)
    x = sample(teacher)
    built = 0
    for _ in range(12):
        removed = frozenset(n for n in removable if rng.random() < 0.4)
        factors = {n: float(rng.choice([0.25, 0.5, 0.75, 1.0])) for n in shrinkable}
        arch = Architecture(removed or frozenset(removable[:1]), factors)
        params, _ = graph.estimate(teacher, arch)
        student = graph.rebuild(teacher, arch)
        assert tuple(student(x).shape) == (len(x), 4)
        assert graph.count_params(student) == params
        built += 1
    assert built == 12
    # The case that failed: one branch loses its second layer (the merged group's leader,
    # whose factor the Add's other input follows), the two groups' factors differ.
    arch = Architecture(
        frozenset({"cell0_b0_conv2"}), {"cell0_b0_conv1": 0.25, "cell0_b0_conv2": 0.75}
    )
    student = graph.rebuild(teacher, arch)
    widths = {layer.name: layer.output.shape[-1] for layer in student.layers}
    assert widths["cell0_b0_relu"] == widths["cell0_b1_bn2"] == widths["cell0_add"]
