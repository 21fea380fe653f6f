import os
import signal
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from n2n_tf import __version__
from n2n_tf.cli.main import cli

# Runs the CLI in a child process whose sockets cannot connect, so these tests
# behave the same with or without a network.
OFFLINE_CLI = (
    "import socket\n"
    "def refuse(*a, **k):\n"
    "    raise OSError('network disabled by the test')\n"
    "socket.socket.connect = refuse\n"
    "from n2n_tf.cli.main import main\n"
    "main()\n"
)


# Child processes (the tfds download) get a proxy on a closed local port.
OFFLINE_ENV = {
    "TF_CPP_MIN_LOG_LEVEL": "3",
    "HTTPS_PROXY": "http://127.0.0.1:9",
    "HTTP_PROXY": "http://127.0.0.1:9",
}


def run_cli(*args, timeout=300):
    env = {**os.environ, **OFFLINE_ENV}
    return subprocess.run(
        [sys.executable, "-c", OFFLINE_CLI, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def test_help_and_version():
    runner = CliRunner()
    result = runner.invoke(cli, ["--help"])
    assert result.exit_code == 0 and "train-teacher" in result.output
    result = runner.invoke(cli, ["--version"])
    assert result.exit_code == 0 and __version__ in result.output


def test_train_teacher_on_digits_writes_model_and_config(tmp_path):
    out = tmp_path / "t" / "teacher.keras"
    result = CliRunner().invoke(
        cli,
        [
            "train-teacher",
            "--dataset",
            "digits",
            "--epochs",
            "3",
            "--out",
            str(out),
            "--set",
            "data.batch_size=64",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "Test accuracy:" in result.output and "Validation accuracy:" in result.output
    accuracy = float(result.output.split("Test accuracy:")[1].split("%")[0])
    assert accuracy > 50.0  # far above chance (10%) after three epochs
    assert out.is_file()
    config = (tmp_path / "t" / "teacher.config.yaml").read_text()
    assert "dataset: digits" in config and "epochs: 3" in config
    assert "preprocess: standardize" in config  # what it trained with, not auto
    assert [p.name for p in out.parent.iterdir() if p.name.startswith(".")] == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--arch", "resnet19"], "Did you mean `resnet18`"),
        (["--set", "teacher.epoch=2"], "Unknown config key `teacher.epoch`"),
        (["--epochs", "0"], "`teacher.epochs` must be in [1, 10000]"),
        (["--dataset", "folder:/does/not/exist"], "Image folder not found"),
        (["--out", "teacher.h5"], "saved as a .keras file"),
    ],
)
def test_expected_errors_are_one_line_with_exit_code_1(args, message, tmp_path):
    result = CliRunner().invoke(cli, ["train-teacher", "--dataset", "digits", *args])
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output


def test_usage_errors_exit_2():
    result = CliRunner().invoke(cli, ["train-teacher", "--no-such-flag"])
    assert result.exit_code == 2


def test_verbose_shows_the_traceback():
    result = run_cli("--verbose", "train-teacher", "--dataset", "digits", "--arch", "nope")
    assert result.returncode == 1
    assert "Traceback" in result.stderr and "Unknown architecture" in result.stderr


def test_missing_tfds_data_without_network_fails_fast_and_readably(tmp_path):
    start = time.monotonic()
    result = run_cli(
        "train-teacher",
        "--dataset",
        "cifar10",
        "--arch",
        "vgg11",
        "--data-dir",
        str(tmp_path),
        "--set",
        "data.network_timeout_s=5",
    )
    assert time.monotonic() - start < 30
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "--data-dir" in errors[0]
    assert "Traceback" not in result.stderr


def test_ctrl_c_leaves_nothing_half_written(tmp_path):
    out = tmp_path / "teacher.keras"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            OFFLINE_CLI,
            "train-teacher",
            "--dataset",
            "mnist5k",
            "--epochs",
            "200",
            "--out",
            str(out),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **OFFLINE_ENV},
    )
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if line.startswith("Training lenet5"):  # printed just before fit starts
            time.sleep(3)  # inside fit by then
            proc.send_signal(signal.SIGINT)
            break
    output = "".join(lines) + proc.communicate(timeout=120)[0]
    assert proc.returncode == 130, output
    assert "Interrupted" in output
    assert list(tmp_path.iterdir()) == []
