import keras
import numpy as np
import pytest
import tensorflow as tf
import tf_keras
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from n2n_tf.io import export, load_teacher, to_tflite

X = np.random.default_rng(0).normal(size=(4, 6)).astype("float32")


def listing(path):
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


def legacy_functional(softmax=False):
    i = tf_keras.Input((6,))
    x = tf_keras.layers.Dense(5, activation="relu", name="hidden")(i)
    x = tf_keras.layers.BatchNormalization(name="bn")(x)
    o = tf_keras.layers.Dense(3, activation="softmax" if softmax else None, name="out")(x)
    return tf_keras.Model(i, o)


def legacy_sequential():
    return tf_keras.Sequential(
        [tf_keras.layers.Dense(4, activation="relu", input_shape=(6,)), tf_keras.layers.Dense(3)]
    )


def keras3_model():
    i = keras.Input((6,))
    x = keras.layers.Dense(5, activation="relu")(i)
    return keras.Model(i, keras.layers.Dense(3)(x))


def test_keras_file_round_trip(tmp_path):
    model = keras3_model()
    model.save(tmp_path / "m.keras")
    loaded = load_teacher(str(tmp_path / "m.keras"))
    np.testing.assert_allclose(loaded(X), model(X), atol=1e-6)


@pytest.mark.parametrize("factory", [legacy_functional, legacy_sequential])
def test_legacy_h5_from_tf_keras(tmp_path, factory):
    model = factory()
    model.save(tmp_path / "m.h5", save_format="h5")
    loaded = load_teacher(str(tmp_path / "m.h5"))
    np.testing.assert_allclose(np.array(loaded(X)), model(X).numpy(), atol=1e-5)


@pytest.mark.parametrize("factory", [legacy_functional, legacy_sequential])
def test_tf_keras_savedmodel_is_converted(tmp_path, factory):
    model = factory()
    model.save(tmp_path / "sm", save_format="tf")
    assert (tmp_path / "sm" / "keras_metadata.pb").is_file()
    loaded = load_teacher(str(tmp_path / "sm"))
    assert isinstance(loaded, keras.Model)
    np.testing.assert_allclose(np.array(loaded(X)), model(X).numpy(), atol=1e-5)


def test_savedmodel_exported_by_n2n_tf_loads_back(tmp_path):
    model = keras3_model()
    export(model, tmp_path / "out", formats=["saved_model"])
    loaded = load_teacher(str(tmp_path / "out" / "saved_model"))
    np.testing.assert_allclose(loaded(X), model(X), atol=1e-6)


def test_softmax_teachers_are_turned_into_logits(tmp_path):
    model = legacy_functional(softmax=True)
    model.save(tmp_path / "m.h5", save_format="h5")
    logits = np.array(load_teacher(str(tmp_path / "m.h5"))(X))
    np.testing.assert_allclose(tf.nn.softmax(logits).numpy(), model(X).numpy(), atol=1e-5)
    assert not np.allclose(logits.sum(-1), 1.0)


def test_zoo_names():
    model = load_teacher("zoo:lenet5", input_shape=(28, 28, 1), num_classes=10)
    assert model.output_shape == (None, 10)
    with pytest.raises(ValueError, match="input shape"):
        load_teacher("zoo:lenet5")


def _serving_only(path):
    module = tf.Module()
    module.f = tf.function(lambda x: x * 2, input_signature=[tf.TensorSpec([None, 6])])
    tf.saved_model.save(module, str(path))


def _subclassed(path):
    class Sub(tf_keras.Model):
        def __init__(self):
            super().__init__()
            self.d = tf_keras.layers.Dense(3)

        def call(self, x):
            return self.d(x)

    model = Sub()
    model(X)
    model.save(str(path), save_format="tf")


@pytest.mark.parametrize(
    ("make", "pattern"),
    [
        (lambda p: p / "missing.keras", "Teacher not found"),
        (lambda p: (p / "empty").mkdir() or p / "empty", "holds no model"),
        (lambda p: _serving_only(p / "serving") or p / "serving", "without Keras metadata"),
        (lambda p: _subclassed(p / "sub") or p / "sub", "subclassed"),
        (lambda p: (p / "x.keras").write_bytes(b"not a zip") and p / "x.keras", "corrupt"),
        (lambda p: (p / "x.h5").write_bytes(b"\x89HDF\r\n") and p / "x.h5", "corrupt"),
        (lambda p: (p / "x.onnx").write_bytes(b"...") and p / "x.onnx", "unknown format"),
    ],
)
def test_rejected_inputs_get_one_clear_message_and_write_nothing(tmp_path, make, pattern):
    target = make(tmp_path)
    before = listing(tmp_path)
    with pytest.raises(ValueError, match=pattern) as err:
        load_teacher(str(target))
    assert "Supported" in str(err.value) or "Save it as a functional" in str(err.value)
    assert listing(tmp_path) == before


def test_truncated_keras_file(tmp_path):
    keras3_model().save(tmp_path / "m.keras")
    data = (tmp_path / "m.keras").read_bytes()
    (tmp_path / "cut.keras").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="corrupt, truncated"):
        load_teacher(str(tmp_path / "cut.keras"))


def test_lambda_with_side_effect_is_refused_unless_unsafe(tmp_path):
    marker = tmp_path / "ran.txt"
    fn = eval(f"lambda t: (open({str(marker)!r}, 'w').write('ran'), t)[1]")  # noqa: S307
    i = tf_keras.Input((6,))
    x = tf_keras.layers.Lambda(fn)(tf_keras.layers.Dense(3)(i))
    tf_keras.Model(i, x).save(tmp_path / "lam.h5", save_format="h5")
    marker.unlink(missing_ok=True)
    with pytest.raises(ValueError, match="--unsafe"):
        load_teacher(str(tmp_path / "lam.h5"))
    assert not marker.exists()  # refused without running the code
    model = load_teacher(str(tmp_path / "lam.h5"), safe_mode=False)
    assert marker.exists() and model.output_shape == (None, 3)


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    blob=st.binary(max_size=4096), suffix=st.sampled_from([".keras", ".h5"]), cut=st.floats(0, 0.95)
)
def test_fuzzed_files_end_in_the_clear_error(tmp_path_factory, blob, suffix, cut):
    folder = tmp_path_factory.mktemp("fuzz")
    valid = folder / f"valid{suffix}"
    if suffix == ".keras":
        keras3_model().save(valid)
    else:
        legacy_sequential().save(valid, save_format="h5")
    data = valid.read_bytes()
    for payload in (blob, data[: int(len(data) * cut)], data[:64] + blob):
        path = folder / f"fuzz{suffix}"
        path.write_bytes(payload)
        with pytest.raises(ValueError, match="Cannot load teacher"):
            load_teacher(str(path))


def test_export_all_formats_with_parity(tmp_path):
    from n2n_tf import data, models

    keras.utils.set_random_seed(0)
    ds = data.load("digits", batch_size=64)
    model = models.build("lenet5", (8, 8, 1), 10)
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(ds.train, epochs=5, verbose=0)
    rep = [x.numpy() for x, _ in ds.train_plain.take(4)]
    report = export(model, tmp_path, representative=rep, validation=ds.val, latency_runs=20)
    assert (tmp_path / "model.keras").is_file() and (tmp_path / "saved_model").is_dir()
    assert report["tflite"]["agreement"] >= 0.99 and report["tflite"]["max_abs_diff"] < 1e-3
    assert report["tflite-int8"]["bytes"] < report["tflite"]["bytes"] / 2
    assert report["tflite-int8"]["accuracy_delta"] > -0.05
    assert report["tflite"]["latency_ms"] > 0
    with pytest.raises(ValueError, match="Unknown export format"):
        export(model, tmp_path / "x", formats=["onnx"])
    with pytest.raises(ValueError, match="representative"):
        to_tflite(model, "int8")
