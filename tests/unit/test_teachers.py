"""Teachers as other people save them: every head, Sequential and functional, Keras 3
and tf_keras, .keras / .h5 / tf.keras SavedModel, old Keras 2 configs, files without a
suffix, weights-only files with their JSON, and subclassed models."""

import json

import h5py
import keras
import numpy as np
import pytest
import tf_keras

from n2n_tf.io import load_teacher

X = np.random.default_rng(0).normal(size=(5, 6)).astype("float32")
HEADS = ("dense_softmax", "activation_softmax", "softmax_layer", "sigmoid")


def build(lib, style, head):
    """A small classifier built with ``lib`` (keras or tf_keras) ending in ``head``."""
    layers = lib.layers
    units = 1 if head == "sigmoid" else 3
    body = [layers.Dense(5, activation="relu", name="hidden"), layers.BatchNormalization(name="bn")]
    if head == "dense_softmax":
        top = [layers.Dense(units, activation="softmax", name="out")]
    elif head == "activation_softmax":
        top = [layers.Dense(units, name="out"), layers.Activation("softmax", name="act")]
    elif head == "softmax_layer":
        top = [layers.Dense(units, name="out"), layers.Softmax(name="act")]
    else:
        top = [layers.Dense(units, activation="sigmoid", name="out")]
    if style == "sequential":
        model = lib.Sequential([lib.Input((6,)), *body, *top])
    else:
        x = i = lib.Input((6,))
        for layer in body + top:
            x = layer(x)
        model = lib.Model(i, x)
    # Non-trivial BN statistics, so that a lost weight shows.
    bn = model.get_layer("bn")
    bn.set_weights([w + np.linspace(0.1, 0.5, w.shape[0]) for w in bn.get_weights()])
    return model


def expected_logits(lib, model):
    """The pre-softmax / pre-sigmoid output of ``model``, computed from its own layers."""
    out = model.get_layer("out")
    features = lib.Model(model.inputs, out.input)(X)
    kernel, bias = out.get_weights()
    return np.asarray(features) @ kernel + bias


def save(lib, model, path, fmt):
    if lib is keras:
        model.save(path)
    else:
        model.save(path, save_format="tf" if fmt == "savedmodel" else "h5")


CASES = [
    (lib, style, head, fmt)
    for lib, formats in ((keras, ("keras", "h5")), (tf_keras, ("h5", "savedmodel")))
    for style in ("sequential", "functional")
    for head in HEADS
    for fmt in formats
]


@pytest.mark.parametrize(
    ("lib", "style", "head", "fmt"),
    CASES,
    ids=[f"{lib.__name__}-{s}-{h}-{f}" for lib, s, h, f in CASES],
)
def test_every_head_style_and_format_loads_as_logits(tmp_path, lib, style, head, fmt):
    model = build(lib, style, head)
    path = tmp_path / ("m" if fmt == "savedmodel" else f"m.{fmt}")
    save(lib, model, path, fmt)
    loaded = load_teacher(str(path))
    assert isinstance(loaded, keras.Model)
    assert [type(layer).__name__ for layer in loaded.layers][-1] == "Dense"
    np.testing.assert_allclose(np.asarray(loaded(X)), expected_logits(lib, model), atol=1e-5)


def _keras2_style_h5(path):
    """A Keras-2.3-like file: no InputLayer, ``batch_input_shape`` on the first layer,
    initializers carrying ``dtype``."""
    model = tf_keras.Sequential(
        [
            tf_keras.layers.Dense(4, activation="relu", input_shape=(6,), name="d1"),
            tf_keras.layers.Dense(3, activation="softmax", name="d2"),
        ]
    )
    model.save(path, save_format="h5")
    with h5py.File(path, "r+") as f:
        config = json.loads(f.attrs["model_config"])
        layers = [
            entry for entry in config["config"]["layers"] if entry["class_name"] != "InputLayer"
        ]
        layers[0]["config"]["batch_input_shape"] = [None, 6]
        for entry in layers:
            entry["config"]["kernel_initializer"]["config"]["dtype"] = "float32"
        config["config"]["layers"] = layers
        f.attrs["model_config"] = json.dumps(config)
        f.attrs["keras_version"] = "2.3.1"
    return model


def test_keras2_sequential_without_input_layer_is_converted(tmp_path):
    model = _keras2_style_h5(tmp_path / "old.h5")
    with pytest.raises(Exception):  # noqa: B017 - Keras 3 alone cannot read it
        keras.saving.load_model(tmp_path / "old.h5", compile=False)
    loaded = load_teacher(str(tmp_path / "old.h5"))
    probs = keras.ops.convert_to_numpy(keras.ops.softmax(loaded(X)))
    np.testing.assert_allclose(probs, model(X).numpy(), atol=1e-5)


def test_keras2_h5_without_extension_goes_through_tf_keras(tmp_path):
    # Keras 3 refuses its config, so the same extension-less file is tried by tf_keras next
    # (both readers once made a ``model.h5`` link in one folder: FileExistsError).
    model = _keras2_style_h5(tmp_path / "old.h5")
    (tmp_path / "old.h5").rename(tmp_path / "published_teacher")
    loaded = load_teacher(str(tmp_path / "published_teacher"))
    probs = keras.ops.convert_to_numpy(keras.ops.softmax(loaded(X)))
    np.testing.assert_allclose(probs, model(X).numpy(), atol=1e-5)


def test_h5_without_extension_is_recognised_by_content(tmp_path):
    model = build(tf_keras, "functional", "dense_softmax")
    model.save(tmp_path / "m.h5", save_format="h5")
    (tmp_path / "m.h5").rename(tmp_path / "my_teacher")
    loaded = load_teacher(str(tmp_path / "my_teacher"))
    np.testing.assert_allclose(np.asarray(loaded(X)), expected_logits(tf_keras, model), atol=1e-5)


@pytest.mark.parametrize("lib", [tf_keras, keras], ids=["tf_keras", "keras3"])
def test_weights_only_h5_with_its_json(tmp_path, lib):
    model = build(lib, "functional", "dense_softmax")
    weights = tmp_path / ("w.h5" if lib is tf_keras else "w.weights.h5")
    model.save_weights(weights)
    with pytest.raises(ValueError, match="--architecture"):
        load_teacher(str(weights))
    (tmp_path / "arch_elsewhere.json").write_text(model.to_json())
    given = load_teacher(str(weights), architecture=str(tmp_path / "arch_elsewhere.json"))
    (tmp_path / "w.json").write_text(model.to_json())
    beside = load_teacher(str(weights))
    for loaded in (given, beside):
        np.testing.assert_allclose(np.asarray(loaded(X)), expected_logits(lib, model), atol=1e-5)


@keras.saving.register_keras_serializable(package="n2n_test")
class MyClassifier(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(3)

    def call(self, x):
        return self.dense(x)


def test_subclassed_model_is_refused_naming_its_class(tmp_path):
    model = MyClassifier()
    model(X)
    model.save(tmp_path / "sub.keras")
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(ValueError, match="MyClassifier.*functional.*Sequential"):
        load_teacher(str(tmp_path / "sub.keras"))
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_flat_and_channelless_inputs_get_a_reshape():
    from n2n_tf.io.adapt import adapt_input

    images = np.random.default_rng(1).random((4, 28, 28, 1)).astype("float32")
    flat = keras.Sequential([keras.Input((784,)), keras.layers.Dense(10, name="fc")])
    plain = keras.Sequential(
        [keras.Input((28, 28)), keras.layers.Flatten(), keras.layers.Dense(10)]
    )
    for model, view in ((flat, images.reshape(4, 784)), (plain, images[..., 0])):
        adapted = adapt_input(model, (28, 28, 1))
        assert adapted.input_shape == (None, 28, 28, 1)
        assert "n2n_reshape" in [layer.name for layer in adapted.layers]
        np.testing.assert_allclose(np.asarray(adapted(images)), np.asarray(model(view)), atol=1e-6)
    with pytest.raises(ValueError, match=r"\(784,\).*\(32, 32, 3\)"):
        adapt_input(flat, (32, 32, 3))


def test_tf_keras_application_h5_with_keys_keras3_dropped(tmp_path):
    """tf.keras MobileNetV2 writes ``groups`` into DepthwiseConv2D configs, which Keras 3
    refuses; the conversion drops such keys and keeps the outputs."""
    model = tf_keras.applications.MobileNetV2(
        input_shape=(32, 32, 3), weights=None, classes=10, alpha=0.35
    )
    model.save(tmp_path / "mnv2.h5", save_format="h5")
    loaded = load_teacher(str(tmp_path / "mnv2.h5"))
    images = np.random.default_rng(2).random((2, 32, 32, 3)).astype("float32")
    probs = keras.ops.convert_to_numpy(keras.ops.softmax(loaded(images)))
    np.testing.assert_allclose(probs, model(images).numpy(), atol=1e-5)
