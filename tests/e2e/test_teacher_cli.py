"""Bring-your-own-teacher at the command line: inspect, the teacher check, refusals."""

import json
import os
import subprocess
import sys

import keras
import pytest

from n2n_tf import data

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
TINY = [
    "search.rollouts=2",
    "search.removal_updates=1",
    "search.shrink_updates=1",
    "search.hidden=8",
    "search.random_baseline=false",
    "distill.epochs=1",
    "distill.finetune_epochs=1",
]


def run_cli(*args):
    cmd = [sys.executable, "-m", "n2n_tf.cli.main", *args]
    return subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=600)


def sets(*items):
    return [arg for item in items for arg in ("--set", item)]


def error_lines(result):
    return [line for line in result.stderr.splitlines() if line.startswith("Error:")]


@pytest.fixture(scope="module")
def flat_mlp(tmp_path_factory):
    """An MNIST MLP on flat 784-vectors trained on x/255, ending in a softmax (Sequential)."""
    keras.utils.set_random_seed(0)
    ds = data.load("mnist5k", batch_size=64, preprocess="unit")
    flat = ds.train.map(lambda x, y: (keras.ops.reshape(x, (-1, 784)), y))
    model = keras.Sequential(
        [
            keras.Input((784,)),
            keras.layers.Dense(32, activation="tanh"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy")
    model.fit(flat, epochs=4, verbose=0)
    path = tmp_path_factory.mktemp("teachers") / "mlp.h5"
    model.save(path)
    return path


@pytest.fixture(scope="module")
def raw_only(tmp_path_factory):
    """Trained on raw digits with BatchNorm: at chance under any other preprocessing."""
    keras.utils.set_random_seed(0)
    ds = data.load("digits", batch_size=64, preprocess="raw")
    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(16, 3, padding="same", name="conv"),
            keras.layers.BatchNormalization(momentum=0.5),
            keras.layers.ReLU(),
            keras.layers.Flatten(),
            keras.layers.Dense(10, name="logits"),
        ]
    )
    model.compile(
        keras.optimizers.Adam(3e-3),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    model.fit(ds.train, epochs=5, verbose=0)
    path = tmp_path_factory.mktemp("teachers") / "raw.keras"
    model.save(path)
    return path


def test_inspect_zoo_prints_the_table():
    result = run_cli("inspect", "zoo:resnet18")
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert lines[0].split()[:4] == ["layer", "type", "output", "params"]
    assert any(line.startswith("stem_conv ") and "Conv2D" in line for line in lines)
    assert "11,173,962 trainable parameters" in result.stdout


def test_inspect_json_with_a_dataset(flat_mlp):
    result = run_cli("inspect", str(flat_mlp), "--dataset", "mnist5k", "--json")
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout)  # exactly one JSON object on stdout
    assert {"params", "flops", "layers", "preprocess", "accuracy"} <= set(report)
    assert report["preprocess"]["chosen"] == "unit"
    candidates = report["preprocess"]["candidates"]
    assert set(candidates) == set(data.candidates(1))
    assert max(candidates.values()) == candidates["unit"]
    assert 0.8 < report["accuracy"]["val"] <= 1 and 0.8 < report["accuracy"]["test"] <= 1
    assert report["params"] == 784 * 32 + 32 + 33 * 10
    names = [layer["name"] for layer in report["layers"]]
    assert len(names) == 2 and all(0 <= c <= 1 for c in candidates.values())


def test_wrong_preprocessing_stops_compress_in_one_line(tmp_path, raw_only):
    out = tmp_path / "run"
    args = ["compress", "--teacher", str(raw_only), "--dataset", "digits", "--out", str(out)]
    stopped = run_cli(*args, "--preprocess", "unit", *sets(*TINY))
    assert stopped.returncode == 1
    (line,) = error_lines(stopped)
    assert "below the floor" in line and "--preprocess" in line and "--force" in line
    assert not out.exists()
    forced = run_cli(*args, "--preprocess", "unit", "--force", *sets(*TINY))
    assert forced.returncode == 0, forced.stderr[-2000:]
    assert "preprocessing `unit`" in forced.stdout
    assert "preprocess: unit" in (out / "config.yaml").read_text()
    deployed = keras.saving.load_model(out / "final" / "model.keras")
    assert deployed.layers[1].name == "n2n_preprocess_unit"


def test_auto_picks_raw_and_exports_take_raw_pixels(tmp_path, raw_only):
    out = tmp_path / "auto"
    result = run_cli(
        "compress", "--teacher", str(raw_only), "--dataset", "digits", "--out", str(out),
        "--no-export", *sets(*TINY),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads((out / "report.json").read_text())
    assert report["preprocess"] == "raw" and report["teacher_check"]["val_accuracy"] > 0.9
    assert "auto; candidates:" in result.stdout


def test_subclassed_teacher_is_refused_in_one_line(tmp_path):
    @keras.saving.register_keras_serializable(package="n2n_cli_test")
    class Sub(keras.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.d = keras.layers.Dense(10)

        def call(self, x):
            return self.d(keras.ops.reshape(x, (-1, 64)))

    model = Sub()
    model(keras.ops.zeros((1, 8, 8, 1)))
    model.save(tmp_path / "sub.keras")
    out = tmp_path / "run"
    result = run_cli("compress", "--teacher", str(tmp_path / "sub.keras"), "--dataset", "digits",
                     "--out", str(out))  # fmt: skip
    assert result.returncode == 1
    (line,) = error_lines(result)
    assert "`Sub`" in line and "functional" in line
    assert not out.exists()
