"""Input preprocessing: every mode as a pipeline function and as Keras layers, ``auto``
finding how a teacher was trained, the teacher check, and exports that take raw pixels."""

import dataclasses

import keras
import numpy as np
import pytest
import tensorflow as tf

from n2n_tf import data
from n2n_tf.config import load_config
from n2n_tf.data.preprocess import MODES, Preprocessing
from n2n_tf.jobs.preamble import prepare
from n2n_tf.predictions import accuracy


@pytest.fixture(scope="module")
def mnist():
    return data.load("mnist5k", batch_size=64, preprocess="raw")


@pytest.fixture(scope="module")
def digits():
    return data.load("digits", batch_size=64, preprocess="raw")


def train(model, ds, epochs, loss=None):
    keras.utils.set_random_seed(0)
    model.compile(
        keras.optimizers.Adam(3e-3),
        loss or keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    model.fit(ds.train, epochs=epochs, verbose=0)
    return model


def tanh_mlp(shape, layers=()):
    """Saturating units make the model sensitive to the scale and offset of its inputs."""
    keras.utils.set_random_seed(0)  # the same initial weights whatever ran before
    return keras.Sequential(
        [
            keras.Input(shape),
            *layers,
            keras.layers.Flatten(),
            keras.layers.Dense(32, activation="tanh"),
            keras.layers.Dense(10),
        ]
    )


@pytest.mark.parametrize("mode", MODES)
def test_layers_do_what_the_pipeline_does(mode):
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (3, 8, 8, 3)).astype("float32")
    prep = Preprocessing(mode, (0.4, 0.5, 0.6), (0.2, 0.25, 0.3), rng.random((8, 8, 3)))
    expected = prep(tf.constant(pixels)).numpy()
    as_layers = keras.Sequential([keras.Input((8, 8, 3)), *prep.layers()])
    np.testing.assert_allclose(as_layers(pixels), expected, rtol=1e-5, atol=1e-4)
    if mode in ("caffe", "torch"):
        reference = keras.applications.imagenet_utils.preprocess_input(pixels.copy(), mode=mode)
        np.testing.assert_allclose(expected, reference, rtol=1e-5, atol=1e-4)


def test_rgb_modes_are_refused_for_grey_images():
    with pytest.raises(ValueError, match="RGB"):
        Preprocessing("caffe", (0.5,), (0.2,))
    assert "caffe" not in data.candidates(1) and "caffe" in data.candidates(3)


@pytest.mark.parametrize("mode", ["unit", "symmetric", "pixel_mean", "standardize"])
def test_auto_finds_how_the_teacher_was_trained(mnist, mode):
    teacher = train(tanh_mlp((28, 28, 1)), data.with_preprocess(mnist, mode), epochs=4)
    prepared = prepare(teacher, mnist, load_config(None))
    assert prepared.check.preprocess == mode, prepared.check.candidates
    assert prepared.config.data.preprocess == mode
    assert prepared.data.preprocessing.mode == mode
    assert set(prepared.check.candidates) == set(data.candidates(1))


def test_a_teacher_with_its_own_rescaling_wins_with_raw(mnist):
    layers = [keras.layers.Rescaling(1 / 255.0)]
    teacher = train(tanh_mlp((28, 28, 1), layers), data.with_preprocess(mnist, "raw"), epochs=4)
    assert prepare(teacher, mnist, load_config(None)).check.preprocess == "raw"


@pytest.fixture(scope="module")
def raw_only_teacher(digits):
    """Trained on raw pixels, with BatchNorm: any other scaling puts it at chance."""
    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(16, 3, padding="same"),
            keras.layers.BatchNormalization(momentum=0.5),
            keras.layers.ReLU(),
            keras.layers.Flatten(),
            keras.layers.Dense(10),
        ]
    )
    return train(model, digits, epochs=5)


def test_teacher_below_the_floor_stops_unless_forced(digits, raw_only_teacher):
    config = load_config(None, ["data.preprocess=unit"])
    with pytest.raises(ValueError) as err:
        prepare(raw_only_teacher, digits, config)
    message = str(err.value)
    assert "\n" not in message and "--preprocess" in message and "--force" in message
    assert "below the floor of 20.0%" in message
    forced = prepare(raw_only_teacher, digits, config, force=True)
    assert not forced.check.passed and forced.check.val_accuracy < 0.2
    auto = prepare(raw_only_teacher, digits, load_config(None))
    assert auto.check.preprocess == "raw" and auto.check.val_accuracy > 0.9
    assert all(a < 0.2 for m, a in auto.check.candidates.items() if m != "raw")


def test_classes_select_and_order_labels():
    from n2n_tf.data.arrays import select_classes

    source = data.load_source("digits")
    swapped = select_classes(source, ("1", "0"))
    assert swapped.class_names == ("1", "0")
    np.testing.assert_array_equal(swapped.x[swapped.y == 0], source.x[source.y == 1])
    np.testing.assert_array_equal(swapped.x[swapped.y == 1], source.x[source.y == 0])
    ds = data.load("digits", batch_size=2000, classes=("1", "0"))
    assert ds.info.class_names == ("1", "0") and ds.info.num_classes == 2
    assert sum(ds.info.split_sizes.values()) == len(swapped.y)
    with pytest.raises(ValueError, match="data.classes"):
        data.load("digits", classes=("1", "eleven"))


def test_one_unit_sigmoid_teacher_on_two_classes(tmp_path):
    from n2n_tf.distill import Trainer
    from n2n_tf.io import load_teacher

    ds = data.load("digits", batch_size=64, classes=("3", "8"), preprocess="unit")
    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Flatten(),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    train(model, ds, epochs=15, loss=keras.losses.BinaryCrossentropy())
    model.save(tmp_path / "binary.keras")
    teacher = load_teacher(str(tmp_path / "binary.keras"))
    assert teacher.layers[-1].get_config()["activation"] == "linear"
    prepared = prepare(teacher, ds, load_config(None))
    assert prepared.check.val_accuracy > 0.9
    student = keras.Sequential(
        [keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(1)]
    )
    config = load_config(None, ["distill.epochs=10", "distill.learning_rate=0.01"])
    result = Trainer(prepared.teacher, config.distill, config.runtime).fit([student], prepared.data)
    assert result[0].val_accuracy > 0.85
    assert accuracy(student, prepared.data.val) == pytest.approx(result[0].val_accuracy)


def test_exported_tflite_takes_raw_pixels(tmp_path, mnist):
    from n2n_tf.io import export, run_tflite
    from n2n_tf.io.export import representative

    ds = data.with_preprocess(mnist, "standardize")
    student = train(tanh_mlp((28, 28, 1)), ds, epochs=2)
    report = export(
        student,
        tmp_path,
        ["keras", "tflite", "tflite-int8"],
        representative=representative(ds, raw=True),
        validation=ds.raw_batches("val"),
        preprocessing=ds.preprocessing,
        latency_runs=5,
    )
    raw_x = np.concatenate([x.numpy() for x, _ in ds.raw_batches("val")])
    assert raw_x.max() > 200  # what a deployment feeds
    tflite_out, _ = run_tflite(tmp_path / "model.tflite", raw_x, runs=5)
    keras_out = student.predict(ds.val, verbose=0)
    agreement = np.mean(tflite_out.argmax(-1) == keras_out.argmax(-1))
    assert agreement >= 0.99 and report["tflite"]["agreement"] >= 0.99
    assert report["tflite-int8"]["accuracy_delta"] > -0.05
    deployed = keras.saving.load_model(tmp_path / "model.keras")
    assert deployed.layers[1].name == "n2n_preprocess_standardize"
    np.testing.assert_allclose(deployed.predict(raw_x, verbose=0), keras_out, atol=1e-4)


def test_with_preprocess_keeps_splits(mnist):
    unit = data.with_preprocess(mnist, "unit")
    x_raw = next(iter(mnist.val))[0].numpy()
    x_unit = next(iter(unit.val))[0].numpy()
    np.testing.assert_allclose(x_unit, x_raw / 255.0, atol=1e-6)
    assert dataclasses.replace(unit.info, preprocess="raw") == mnist.info


def test_python_api_takes_the_same_preprocess_argument(digits, raw_only_teacher):
    import n2n_tf

    assert callable(n2n_tf.load_teacher) and callable(n2n_tf.load_model)
    report = n2n_tf.inspect(raw_only_teacher, "digits", preprocess="unit")
    assert report["preprocess"]["chosen"] == "unit"
    assert report["accuracy"]["val"] < 0.2 and report["preprocess"]["candidates"]["raw"] > 0.9
    auto = n2n_tf.inspect(raw_only_teacher, "digits")
    assert auto["preprocess"]["chosen"] == "raw" and auto["accuracy"]["val"] > 0.9
    assert auto["params"] == sum(int(np.prod(w.shape)) for w in raw_only_teacher.trainable_weights)


def test_a_teacher_with_nan_weights_is_refused_naming_the_layer(digits, raw_only_teacher):
    broken = keras.models.clone_model(raw_only_teacher)
    broken.set_weights(raw_only_teacher.get_weights())
    conv = broken.layers[0]
    kernel = conv.get_weights()
    kernel[0][0, 0, 0, 3] = np.nan
    conv.set_weights(kernel)
    with pytest.raises(ValueError) as err:
        prepare(broken, digits, load_config(None), force=True)  # --force cannot help it
    message = str(err.value)
    assert "\n" not in message and "not finite" in message and f"`{conv.name}`" in message
    assert "--preprocess" not in message


def test_finite_weights_with_non_finite_outputs_name_the_first_such_layer(digits):
    # A BatchNormalization whose moving variance is negative: sqrt gives NaN from there on.
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(4, 3, name="conv")(inputs)
    x = keras.layers.BatchNormalization(name="bad_bn")(x)
    x = keras.layers.Flatten()(x)
    teacher = keras.Model(inputs, keras.layers.Dense(10, name="logits")(x))
    bn = teacher.get_layer("bad_bn")
    gamma, beta, mean, variance = bn.get_weights()
    bn.set_weights([gamma, beta, mean, -np.ones_like(variance) * 4])
    with pytest.raises(ValueError, match="outputs are not finite: layer `bad_bn`"):
        prepare(teacher, digits, load_config(None))
