"""The CLI against stubbed jobs: options become config values, errors become one line.

Nothing here trains or loads a model: each command's job is replaced by a stub
that records what it was called with (as kedro tests its CLI), so these checks
run in well under a second each and the e2e tests keep only what needs a real run.
"""

from pathlib import Path

import pytest
from click.testing import CliRunner

from n2n_tf.cli.main import _verbose, cli


@pytest.fixture
def stub_compress(monkeypatch):
    calls = []

    def run(request):
        calls.append(request)
        teacher = request.teacher
        if teacher == "broken.keras":
            raise ValueError("Cannot load teacher `broken.keras`: the file is corrupt.\nmore")
        # Stop here: what the command prints from a real result is the e2e tests' business.
        raise KeyboardInterrupt if teacher == "interrupt.keras" else SystemExit(0)

    monkeypatch.setattr("n2n_tf.jobs.compress.run", run)
    return calls


def invoke(*args):
    return CliRunner().invoke(cli, list(args))


def test_compress_options_become_config_values(stub_compress, tmp_path):
    result = invoke(
        "compress", "--teacher", "t.keras", "--dataset", "digits", "--seed", "3",
        "--max-params", "1e5", "--budget", "30m", "--students", "40", "--preprocess", "unit",
        "--set", "search.rollouts=7", "--no-export", "--out", str(tmp_path / "run"),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    (call,) = stub_compress
    c = call.config
    assert (c.data.dataset, c.runtime.seed, c.search.max_params) == ("digits", 3, 1e5)
    assert (c.search.budget, c.search.students, c.search.rollouts) == ("30m", 40, 7)
    assert c.data.preprocess == "unit" and call.formats == () and call.resume is False
    assert Path(call.out) == tmp_path / "run" and call.safe_mode is True


def test_compress_errors_are_one_line_and_usage_errors_exit_2(stub_compress):
    result = invoke("compress", "--teacher", "broken.keras", "--dataset", "digits")
    assert result.exit_code == 1
    assert (
        result.output.strip() == "Error: Cannot load teacher `broken.keras`: the file is corrupt."
    )
    assert invoke("compress", "--dataset", "digits").exit_code == 2  # no --teacher
    unknown = invoke("compress", "--teacher", "t.keras", "--set", "search.nope=1")
    assert unknown.exit_code == 1 and "nope" in unknown.output and not stub_compress[1:]
    assert invoke("compress", "--resume", "/nonexistent/run").exit_code == 2


def test_ctrl_c_in_a_job_exits_130_saying_nothing_was_left_half_written(stub_compress):
    result = invoke("compress", "--teacher", "interrupt.keras", "--dataset", "digits")
    assert result.exit_code == 130 and "nothing half-written" in result.output


def test_only_the_groups_verbose_flag_turns_native_logs_back_on():
    assert _verbose(["--verbose", "compress"]) and _verbose(["-v", "export", "m.keras"])
    assert not _verbose(["compress", "--teacher", "t.keras"])
    assert not _verbose(["compress", "-v"])  # after the command's name: not the group's


def test_compress_method_becomes_the_config_value(stub_compress):
    assert invoke("compress", "--teacher", "t.keras", "--method", "l1").exit_code == 0
    assert stub_compress[0].config.search.method == "l1"


def test_compress_targets_and_compare_become_config_values(stub_compress):
    args = ["--target-params", "4x", "--target-flops", "1e6", "--compare", "l1, uniform"]
    assert invoke("compress", "--teacher", "t.keras", *args).exit_code == 0
    s = stub_compress[0].config.search
    assert (s.target_params, s.target_flops, s.compare) == ("4x", "1e6", ("l1", "uniform"))


def test_compress_executor_flags_become_runtime_values(stub_compress):
    args = ["--executor", "ray", "--address", "auto", "--workers", "3"]
    assert invoke("compress", "--teacher", "t.keras", *args).exit_code == 0
    r = stub_compress[0].config.runtime
    assert (r.executor, r.address, r.workers) == ("ray", "auto", 3)
    assert invoke("compress", "--teacher", "t.keras").exit_code == 0
    assert stub_compress[1].config.runtime.executor == "local"
    assert (
        invoke("compress", "--teacher", "t.keras", "--policies", "runs/a/policies").exit_code == 0
    )
    assert stub_compress[2].policies == "runs/a/policies"
    bad = invoke("compress", "--teacher", "t.keras", "--executor", "spark")
    assert bad.exit_code == 2 and "spark" in bad.output


def test_compress_asks_for_the_cpu_plan_only_when_no_config_file_was_given(stub_compress):
    assert invoke("compress", "--teacher", "t.keras").exit_code == 0
    assert (
        invoke("compress", "--teacher", "t.keras", "--config", "configs/demo.yaml").exit_code == 0
    )
    assert [call.cpu_budget for call in stub_compress] == [True, False]


def _stub_run(monkeypatch, job: str):
    """Replaces ``n2n_tf.jobs.<job>.run`` by a stub that records its request and stops."""
    calls = []

    def run(request):
        calls.append(request)
        raise SystemExit(0)

    monkeypatch.setattr(f"n2n_tf.jobs.{job}.run", run)
    return calls


def test_every_other_command_calls_its_job_once_with_a_typed_request(monkeypatch, tmp_path):
    from n2n_tf.jobs.distill import DistillRequest
    from n2n_tf.jobs.export import ExportRequest
    from n2n_tf.jobs.inspect import InspectRequest
    from n2n_tf.jobs.report import ReportRequest
    from n2n_tf.jobs.train_teacher import TeacherRequest

    distill = ["distill", "--teacher", "t.keras", "--student", "s.keras", "--out", "o.keras"]
    commands = {
        "distill": (DistillRequest, [*distill, "--epochs", "2"]),
        "export": (ExportRequest, ["export", "m.keras", "--format", "keras, tflite"]),
        "inspect": (InspectRequest, ["inspect", "zoo:resnet20", "--preprocess", "unit"]),
        "train_teacher": (TeacherRequest, ["train-teacher", "--epochs", "3"]),
        "report": (ReportRequest, ["report", str(tmp_path)]),
    }
    requests = {}
    for job, (kind, args) in commands.items():
        calls = _stub_run(monkeypatch, job)
        result = invoke(*args)
        assert result.exit_code == 0, (job, result.output)
        assert len(calls) == 1 and isinstance(calls[0], kind), job
        requests[job] = calls[0]
    # What the options became, one per command.
    assert (requests["distill"].student, requests["distill"].config.distill.epochs) == (
        "s.keras",
        2,
    )
    assert requests["export"].formats == ("keras", "tflite")
    assert requests["inspect"].preprocess == "unit"
    assert requests["train_teacher"].config.teacher.epochs == 3
    assert str(requests["report"].run_dir) == str(tmp_path)
