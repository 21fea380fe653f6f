"""The search end to end on the bundled 8x8 digits: cache, resume after SIGKILL, transfer."""

import json
import os
import signal
import subprocess
import sys
import time

import keras
import pytest

from n2n_tf import data, graph, models
from n2n_tf.config import load_config
from n2n_tf.native_logs import NATIVE_LINE
from n2n_tf.search.environment import Environment
from n2n_tf.types import Architecture

TINY = [
    "data.dataset=digits",
    "data.batch_size=128",
    "search.rollouts=2",
    "search.removal_updates=2",
    "search.shrink_updates=3",
    "search.hidden=8",
    "search.random_baseline=false",
    "distill.epochs=1",
    "distill.finetune_epochs=1",
]
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}


def run_cli(*args, wait=True):
    cmd = [sys.executable, "-m", "n2n_tf.cli.main", *args]
    if not wait:
        return subprocess.Popen(cmd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=600)


def history(run_dir):
    rows = [json.loads(line) for line in (run_dir / "history.jsonl").read_text().splitlines()]
    for row in rows:
        row.pop("seconds")
    return rows


def sets(*items):
    return [arg for item in items for arg in ("--set", item)]


def lenet_compress(*args, extra_sets=()):
    """``compress`` of the zoo LeNet-5 with seed 3, a 20,000-parameter cap and the TINY
    plan (plus ``extra_sets``), then ``args``."""
    return [
        "compress",
        "--teacher",
        "zoo:lenet5",
        "--seed",
        "3",
        "--max-params",
        "20000",
        *args,
        *sets(*TINY, *extra_sets),
    ]


def test_scored_architectures_are_cached():
    keras.utils.set_random_seed(0)
    ds = data.load("digits", batch_size=128)
    teacher = models.build("lenet5", (8, 8, 1), 10)
    env = Environment(teacher, ds, load_config(None, ["distill.epochs=1"]))
    arch = Architecture(factors={"fc1": 0.5})
    first = env.score([arch, arch, Architecture()], update=0, seed=1)
    assert env.trained == 1
    assert [cached for _, cached in first] == [False, True, False]
    assert first[2][0].reward == -1.0 and "not smaller" in first[2][0].reason
    again = env.score([arch], update=1, seed=2)
    assert env.trained == 1 and again[0][1] is True
    assert again[0][0].val_accuracy == first[0][0].val_accuracy


def test_resume_after_sigkill_equals_an_uninterrupted_run(tmp_path):
    common = lenet_compress()
    full = run_cli(*common, "--out", str(tmp_path / "full"))
    assert full.returncode == 0, full.stderr[-2000:]
    assert "compression" in full.stdout and "test accuracy" in full.stdout
    assert "max_params: 20000.0" in (tmp_path / "full" / "config.yaml").read_text()
    killed_dir = tmp_path / "killed"
    proc = run_cli(*common, "--out", str(killed_dir), wait=False)
    hist = killed_dir / "history.jsonl"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if hist.exists() and len(hist.read_text().splitlines()) >= 4:
            break  # two updates done: the third is in flight
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    resumed = run_cli("compress", "--resume", str(killed_dir))
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert history(killed_dir) == history(tmp_path / "full")
    a = json.loads((tmp_path / "full" / "report.json").read_text())
    b = json.loads((killed_dir / "report.json").read_text())
    assert a["student"]["architecture"] == b["student"]["architecture"]
    # compress exports the final student and reports sizes, parity and latency.
    assert (tmp_path / "full" / "final" / "model_int8.tflite").is_file()
    assert a["export"]["tflite"]["agreement"] >= 0.99 and a["export"]["tflite"]["latency_ms"] > 0
    assert "tflite-int8" in full.stdout
    # A whole run (train, convert, export) on a CPU machine: no native log line.
    noisy = [line for line in full.stderr.splitlines() if NATIVE_LINE.match(line.encode())]
    assert not noisy and "cuInit" not in full.stderr and "absl" not in full.stderr, noisy[:3]


def test_policy_from_a_small_teacher_runs_on_a_deeper_one(tmp_path):
    from n2n_tf.jobs.compress import compress

    ds = data.load("digits", batch_size=128)
    config = load_config(
        None,
        [*TINY, "search.removal_updates=1", "search.shrink_updates=0", "distill.finetune_epochs=0"],
    )
    small = models.build("resnet20", (8, 8, 1), 10, width=0.25)
    # Untrained teachers: below the accuracy floor, so the check is forced past.
    compress(small, ds, config, out=tmp_path / "small", formats=(), force=True)
    policy = tmp_path / "small" / "policies" / "removal.weights.h5"
    assert policy.is_file()
    deep = models.build("resnet56", (8, 8, 1), 10, width=0.25)
    # --policies: every stage's policy from the small run; the report names that run.
    moved = compress(
        deep,
        ds,
        config,
        out=tmp_path / "moved",
        policies=tmp_path / "small" / "policies",
        formats=(),
        force=True,
    )
    rows = history(tmp_path / "moved")
    assert len(rows) == 2 and all(r["stage"] == "removal" for r in rows)
    assert moved.metrics["student"]["params"] <= moved.metrics["teacher"]["params"]
    source = moved.metrics["policies_from"]["removal"]
    assert source["run"] == str((tmp_path / "small").resolve())
    assert source["teacher_layers"] < len(graph.inspect(deep).layers)
    assert str((tmp_path / "small").resolve()) in (tmp_path / "moved" / "report.md").read_text()
    # A policy of other settings, or for stages the run did not search: one line each.
    other = load_config(
        None,
        [
            *TINY,
            "search.hidden=9",
            "search.removal_updates=1",
            "search.shrink_updates=0",
            "distill.finetune_epochs=0",
        ],
    )
    for cfg, says in ((other, "hidden 8 there, 9 here"), (joint(config), "no policy for stage")):
        with pytest.raises(ValueError, match=says) as err:
            compress(
                deep,
                ds,
                cfg,
                out=tmp_path / "refused",
                policies=tmp_path / "small",
                formats=(),
                force=True,
            )
        assert "\n" not in str(err.value)


def joint(config):
    import dataclasses

    return dataclasses.replace(config, search=dataclasses.replace(config.search, stages=("joint",)))


def test_resume_without_checkpoint_is_a_clear_error(tmp_path):
    result = run_cli("compress", "--resume", str(tmp_path))
    assert result.returncode == 2 and "config.yaml" in result.stderr


def test_a_budget_prints_its_plan_and_the_job_keeps_to_it(tmp_path):
    out = tmp_path / "budget"
    result = run_cli(
        "compress",
        "--teacher",
        "zoo:lenet5",
        "--budget",
        "75s",
        "--no-export",
        "--out",
        str(out),
        *sets(
            "data.dataset=digits",
            "data.batch_size=128",
            "search.rollouts=2",
            "search.hidden=8",
            "search.random_baseline=false",
        ),
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Plan for a budget of 1.2 min" in result.stderr
    assert "distillation steps per student" in result.stderr
    report = json.loads((out / "report.json").read_text())
    assert report["plan"]["budget_s"] == 75
    assert report["job_seconds"] <= 75
    config = (out / "config.yaml").read_text()
    assert f"removal_updates: {report['plan']['updates']['removal']}" in config
    assert report["search"]["updates"]["removal"] <= report["plan"]["updates"]["removal"]


def test_a_budgeted_run_resumes_with_the_budget_it_had_left(tmp_path):
    out = tmp_path / "budget"
    args = ["--teacher", "zoo:lenet5", "--budget", "75s", "--no-export", "--out", str(out)]
    settings = sets(
        "data.dataset=digits",
        "data.batch_size=128",
        "search.rollouts=2",
        "search.hidden=8",
        "search.random_baseline=false",
    )
    proc = run_cli("compress", *args, *settings, wait=False)
    state = out / "checkpoint" / "state.json"

    def found_a_student():  # killed once a checkpoint holds a valid student to go on with
        try:
            return json.loads(state.read_text())["best"]["removal"]["score"] is not None
        except (OSError, ValueError):  # not written yet (or being replaced)
            return False

    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and not found_a_student():
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    saved = json.loads((out / "plan.json").read_text())
    assert saved["plan"]["budget_s"] == 75 and saved["costs"]["step_s"] > 0
    # As if the run had been killed with only the fine-tune's share of the budget left:
    # the resumed search must stop at its deadlines and the job keep to the budget's clock.
    checkpoint = json.loads(state.read_text())
    assert 0 < checkpoint["budget_left"] < 75
    left = saved["plan"]["finetune_s"] + 0.05 * 75
    checkpoint["budget_left"] = left
    state.write_text(json.dumps(checkpoint))
    resumed = run_cli("compress", "--resume", str(out))
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "Resuming within its budget of 1.2 min" in resumed.stderr
    report = json.loads((out / "report.json").read_text())
    assert report["plan"] == saved["plan"]
    assert report["search"]["stopped_at_deadline"], report["search"]
    assert report["job_seconds"] >= 75 - left
    assert (out / "final" / "student.keras").is_file()


def test_without_a_gpu_or_a_config_the_cpu_plan_is_announced(tmp_path):
    result = run_cli(
        "compress", "--teacher", str(tmp_path / "missing.keras"), "--dataset", "digits"
    )
    assert result.returncode == 1
    assert "No GPU found and no --budget, --students or --config given" in result.stderr
    assert "60m" in result.stderr
    # A plan given with --set (updates per stage) is the user's: no CPU plan.
    planned = run_cli(
        "compress",
        "--teacher",
        str(tmp_path / "missing.keras"),
        "--dataset",
        "digits",
        *sets("search.removal_updates=2"),
    )
    assert planned.returncode == 1 and "No GPU found" not in planned.stderr


def momenta(model) -> set:
    return {
        layer.momentum
        for layer in model.layers
        if isinstance(layer, keras.layers.BatchNormalization)
    }


def test_students_are_scored_with_fresh_batchnorm_statistics_and_rebuilt_plain():
    keras.utils.set_random_seed(0)
    ds = data.load("digits", batch_size=128)
    teacher = models.build("resnet20", (8, 8, 1), 10, width=0.25)
    arch = Architecture(factors={"stage1_block1_conv1": 0.5})
    env = Environment(teacher, ds, load_config(None, ["distill.epochs=1"]))
    assert momenta(env.build_for_scoring(arch)) == {0.9}
    assert momenta(env.build(arch)) == {0.99}  # what the fine-tune gets: the model's own
    off = Environment(teacher, ds, load_config(None, ["distill.score_bn_momentum=1.0"]))
    assert momenta(off.build_for_scoring(arch)) == {0.99}


def test_a_nan_weight_teacher_gets_one_line_naming_its_layer(tmp_path):
    import numpy as np

    teacher = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(4, 3, name="conv"),
            keras.layers.Flatten(),
            keras.layers.Dense(10, name="head"),
        ]
    )
    kernel, bias = teacher.get_layer("head").get_weights()
    kernel[0, 0] = np.nan
    teacher.get_layer("head").set_weights([kernel, bias])
    teacher.save(tmp_path / "nan.keras")
    result = run_cli(
        "compress",
        "--teacher",
        str(tmp_path / "nan.keras"),
        "--dataset",
        "digits",
        "--students",
        "4",
        "--out",
        str(tmp_path / "run"),
    )
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "weights are not finite" in errors[0], result.stderr
    assert "layer `head`" in errors[0] and "--preprocess" not in errors[0]
