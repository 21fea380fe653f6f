import numpy as np
import pytest
import tiny_models

from n2n_tf import graph, models
from n2n_tf.graph import SurgeryError
from n2n_tf.search.features import FEATURE_NAMES, features
from n2n_tf.types import Architecture

ZOO_SHAPES = {"lenet5": (28, 28, 1)}


def zoo(name, width=0.25):
    shape = ZOO_SHAPES.get(name, (32, 32, 3))
    return models.build(name, shape, 10, width=1.0 if name == "lenet5" else width)


def sample(model, n=2, seed=0):
    shape = model.inputs[0].shape[1:]
    return np.random.default_rng(seed).normal(size=(n, *shape)).astype("float32")


def weights_by_name(model):
    return {w.path: np.array(w) for w in model.weights}


@pytest.mark.parametrize("name", models.available())
def test_identity_reproduces_every_zoo_model(name):
    teacher = zoo(name)
    student = graph.rebuild(teacher, Architecture.identity())
    x = sample(teacher)
    assert np.abs(np.array(teacher(x)) - np.array(student(x))).max() < 1e-5
    assert graph.count_params(student) == graph.count_params(teacher)


@pytest.mark.parametrize(
    "factory", [tiny_models.branchy, tiny_models.separable, tiny_models.nested]
)
def test_identity_reproduces_tiny_models(factory):
    teacher = factory()
    student = graph.rebuild(teacher, Architecture())
    x = sample(teacher)
    np.testing.assert_allclose(np.array(teacher(x)), np.array(student(x)), atol=1e-5)


def test_inspect_lists_weight_layers_with_features_and_permissions():
    spec = graph.inspect(zoo("vgg11"))
    assert spec.names[0] == "block1_conv1" and spec.names[-1] == "logits"
    assert features(spec.layers).shape == (1, len(spec.layers), len(FEATURE_NAMES))
    first, last = spec.layers[0], spec.layers[-1]
    assert not first.removable and not last.removable and not last.shrinkable
    assert spec.layer("block3_conv2").removable and spec.layer("block3_conv2").shrinkable
    assert spec.params == graph.count_params(zoo("vgg11"))
    assert spec.flops > 0 and spec.num_outputs == 10


def test_inspect_resnet_blocks_and_tied_groups():
    spec = graph.inspect(zoo("resnet18"))
    # A block is removed through its first conv; the rest of the block follows it.
    assert spec.layer("stage1_block2_conv1").removable
    assert not spec.layer("stage1_block2_conv2").removable
    assert not spec.layer("stage2_block1_shortcut_conv").removable
    assert spec.layer("stage2_block1_conv1").removable  # collapses to the projection
    # Channels joined by Add shrink together: one leader per group.
    tied = spec.layer("stage2_block1_conv2")
    assert tied.tied_to == "stage2_block1_conv2" or tied.tied_to is None or not tied.shrinkable
    group = spec.groups[spec.layer("stage2_block1_shortcut_conv").group]
    assert {"stage2_block1_conv2", "stage2_block1_shortcut_conv", "stage2_block2_conv2"} <= set(
        group
    )
    assert sum(spec.layer(n).shrinkable for n in group) == 1
    index = spec.names.index("stage1_block1_conv1")
    row = dict(zip(FEATURE_NAMES, features(spec.layers)[0, index], strict=True))
    assert row["skip_start"] == 1.0 and row["is_conv"] == 1.0


def test_shrinking_one_layer_leaves_untouched_layers_bit_identical():
    teacher = zoo("vgg11", width=0.5)
    before = weights_by_name(teacher)
    student = graph.rebuild(teacher, Architecture(factors={"block2_conv1": 0.5}))
    after = weights_by_name(student)
    touched = {"block2_conv1", "block2_bn1", "block3_conv1"}
    for path, value in after.items():
        layer = path.split("/")[0]
        if layer not in touched:
            assert np.array_equal(value, before[path]), path
    kernel = before["block2_conv1/kernel"]
    kept = np.sort(np.argsort(-np.abs(kernel).sum(axis=(0, 1, 2)), kind="stable")[:32])
    np.testing.assert_array_equal(after["block2_conv1/kernel"], kernel[..., kept])
    np.testing.assert_array_equal(
        after["block2_bn1/moving_mean"], before["block2_bn1/moving_mean"][kept]
    )
    np.testing.assert_array_equal(
        after["block3_conv1/kernel"], before["block3_conv1/kernel"][:, :, kept]
    )
    assert weights_by_name(teacher).keys() == before.keys()  # the teacher is untouched
    for path, value in weights_by_name(teacher).items():
        assert np.array_equal(value, before[path])


def test_removing_a_conv_gives_expected_shapes_and_params():
    teacher = zoo("vgg11", width=0.5)
    arch = Architecture(removed=frozenset({"block3_conv2"}))
    student = graph.rebuild(teacher, arch)
    names = {layer.name for layer in student.layers}
    assert {"block3_conv2", "block3_bn2", "block3_relu2"}.isdisjoint(names)
    k = teacher.get_layer("block3_conv2").kernel.shape  # 3x3x128x128 + bias + BN(2x128)
    removed = int(np.prod(k)) + k[-1] + 2 * k[-1]
    assert graph.count_params(student) == graph.count_params(teacher) - removed
    assert student(sample(teacher)).shape == (2, 10)
    assert graph.estimate(teacher, arch)[0] == graph.count_params(student)


def test_removing_a_residual_block_collapses_it_to_its_shortcut():
    teacher = zoo("resnet20", width=0.5)
    identity_block = Architecture(removed=frozenset({"stage1_block2_conv1"}))
    student = graph.rebuild(teacher, identity_block)
    names = {layer.name for layer in student.layers}
    assert not any(n.startswith("stage1_block2_") and n != "stage1_block2_out" for n in names)
    block = sum(
        graph.count_params(teacher.get_layer(n))
        for n in (
            "stage1_block2_conv1",
            "stage1_block2_bn1",
            "stage1_block2_conv2",
            "stage1_block2_bn2",
        )
    )
    assert graph.count_params(student) == graph.count_params(teacher) - block
    projection = Architecture(removed=frozenset({"stage2_block1_conv1"}))
    student = graph.rebuild(teacher, projection)
    assert "stage2_block1_shortcut_conv" in {layer.name for layer in student.layers}
    assert student(sample(teacher)).shape == (2, 10)


def test_add_groups_and_concatenate_shrink_consistently():
    teacher = tiny_models.branchy()
    spec = graph.inspect(teacher)
    assert spec.layer("stem").shrinkable and not spec.layer("res_conv2").shrinkable
    assert spec.layer("res_conv2").tied_to == "stem"
    arch = Architecture(factors={"stem": 0.5, "left": 0.4, "right": 0.5})
    student = graph.rebuild(teacher, arch)
    assert student.get_layer("stem").filters == 4 and student.get_layer("res_conv2").filters == 4
    assert student.get_layer("cat").output.shape[-1] == 2 + 4
    assert student.get_layer("down").kernel.shape[2] == 6
    assert graph.estimate(teacher, arch)[0] == graph.count_params(student)
    with pytest.raises(SurgeryError, match="cannot be shrunk"):
        graph.rebuild(teacher, Architecture(factors={"res_conv2": 0.5}))


def test_depthwise_and_separable_follow_their_inputs():
    teacher = tiny_models.separable()
    student = graph.rebuild(teacher, Architecture(factors={"stem": 0.5, "sep": 0.5}))
    assert student.get_layer("dw").kernel.shape[2] == 4
    assert student.get_layer("dw_bn").gamma.shape == (4,)
    assert student.get_layer("sep").pointwise_kernel.shape[2:] == (4, 6)
    np.testing.assert_array_equal(
        np.array(student.get_layer("pw").kernel),
        np.array(teacher.get_layer("pw").kernel)[
            :,
            :,
            [
                int(i)
                for i in np.sort(
                    np.argsort(
                        -np.abs(np.array(teacher.get_layer("sep").pointwise_kernel)).sum(
                            axis=(0, 1, 2)
                        ),
                        kind="stable",
                    )[:6]
                )
            ],
        ],
    )


def test_nested_models_are_flattened():
    teacher = tiny_models.nested()
    spec = graph.inspect(teacher)
    assert "inner_conv" in spec.names
    student = graph.rebuild(teacher, Architecture(factors={"inner_conv": 0.5}))
    assert student.get_layer("inner_conv").filters == 4
    assert student(sample(teacher)).shape == (2, 4)


def test_unknown_layers_are_kept_when_their_input_fits():
    teacher = tiny_models.with_custom()
    spec = graph.inspect(teacher)
    assert not spec.layer("c1").shrinkable  # feeds a layer surgery does not know
    student = graph.rebuild(teacher, Architecture(factors={"c2": 0.5}))
    assert student.get_layer("scale").__class__.__name__ == "Scale"
    x = sample(teacher)
    same = graph.rebuild(teacher, Architecture())
    np.testing.assert_allclose(np.array(teacher(x)), np.array(same(x)), atol=1e-5)
    with pytest.raises(SurgeryError, match="cannot be shrunk"):
        graph.rebuild(teacher, Architecture(factors={"c1": 0.5}))


def test_unknown_layer_whose_input_changes_is_named_in_the_error():
    import keras

    layers = keras.layers
    x = inputs = keras.Input((8, 8, 3))
    x = layers.Conv2D(8, 3, padding="same", name="c1")(x)
    x = layers.Conv2D(4, 1, name="c2")(x)  # removable: 8 -> 4 channels
    x = tiny_models.Scale(name="scale")(x)
    x = layers.Conv2D(4, 3, padding="same", name="c3")(x)
    x = layers.Flatten(name="flat")(x)
    teacher = keras.Model(inputs, layers.Dense(3, name="logits")(x))
    with pytest.raises(SurgeryError, match=r"`scale` \(Scale\) is not supported.*Conv2D"):
        graph.rebuild(teacher, Architecture(removed=frozenset({"c2"})))


def test_invalid_architectures_are_rejected_before_building():
    teacher = zoo("vgg11")
    for arch, pattern in [
        (Architecture(removed=frozenset({"block1_conv1"})), "may not be removed"),
        (Architecture(removed=frozenset({"logits"})), "may not be removed"),
        (Architecture(removed=frozenset({"nope"})), "does not have"),
        (Architecture(factors={"block2_conv1": 0.0}), r"must be in \(0, 1\]"),
        (Architecture(factors={"logits": 0.5}), "cannot be shrunk"),
    ]:
        with pytest.raises(SurgeryError, match=pattern):
            graph.rebuild(teacher, arch)


def test_lenet_removal_that_changes_spatial_size_reinitialises_the_head():
    teacher = zoo("lenet5")
    student = graph.rebuild(teacher, Architecture(removed=frozenset({"conv2"})))
    assert student.get_layer("fc1").kernel.shape[0] == 14 * 14 * 6 // 4  # 7x7x6 after pools
    assert student(sample(teacher)).shape == (2, 10)


def test_subclassed_models_get_a_clear_error():
    model = tiny_models.Subclassed()
    model(np.zeros((1, 4), "float32"))
    with pytest.raises(ValueError, match="Build the model functionally"):
        graph.inspect(model)


def test_inheritance_switch_off_gives_fresh_weights():
    teacher = zoo("vgg11")
    student = graph.rebuild(teacher, Architecture(), inherit=False)
    assert not np.array_equal(
        np.array(student.get_layer("block1_conv1").kernel),
        np.array(teacher.get_layer("block1_conv1").kernel),
    )
