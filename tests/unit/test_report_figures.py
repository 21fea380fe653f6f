"""Report figures, run reading, TensorBoard writing and the live progress display."""

import io
import json
from unittest import mock

import pytest

from n2n_tf.progress import SILENT, Progress
from n2n_tf.report import load_run
from n2n_tf.report.summary import pareto, preprocess, students, updates
from n2n_tf.report.tensorboard import ScalarWriter, read_scalars


def _row(stage, update, reward, params=100, acc=0.5, **extra):
    return {
        "stage": stage,
        "update": update,
        "removed": extra.pop("removed", []),
        "factors": extra.pop("factors", {"fc1": reward}),
        "params": params,
        "flops": params * 10,
        "val_accuracy": acc,
        "reward": reward,
        "valid": True,
        "violated": [],
        "cached": False,
        **extra,
    }


def test_updates_recompute_the_moving_average_baseline_of_old_runs():
    history = [
        _row("removal", 0, 0.2),
        _row("removal", 0, 0.4),
        _row("removal", 1, 0.6),
        _row("removal", 1, 1.0),
        _row("shrink", 0, -1.0, valid=False),
    ]
    out = updates(history, decay=0.5)
    removal = out["removal"]
    assert [r["update"] for r in removal] == [1, 2]
    assert removal[0]["mean_reward"] == pytest.approx(0.3)
    assert removal[0]["max_reward"] == pytest.approx(0.4)
    assert removal[0]["baseline"] == pytest.approx(0.3)  # first update: its own mean
    assert removal[1]["baseline"] == pytest.approx(0.3)  # the baseline before update 2
    assert removal[1]["best_reward"] == pytest.approx(1.0)
    assert out["shrink"][0]["best_reward"] is None  # nothing valid yet


def test_updates_prefer_the_recorded_baseline():
    history = [_row("removal", 0, 0.2, baseline=0.7), _row("removal", 0, 0.4, baseline=0.7)]
    assert updates(history)["removal"][0]["baseline"] == pytest.approx(0.7)


def test_students_drop_invalid_rows_and_repeats():
    rows = [
        _row("removal", 0, 0.5, removed=["a"]),
        _row("removal", 1, 0.5, removed=["a"]),
        _row("removal", 1, -1.0, removed=["b"], valid=False),
    ]
    out = students(rows, "policy")
    assert len(out) == 1 and out[0]["source"] == "policy" and out[0]["removed"] == ["a"]


@pytest.mark.parametrize(
    ("points", "front"),
    [
        ([(10, 0.5), (20, 0.4), (30, 0.9)], [(10, 0.5), (30, 0.9)]),
        ([(10, 0.5), (10, 0.6), (5, 0.1)], [(5, 0.1), (10, 0.6)]),
        ([(50, 0.9), (40, 0.9)], [(40, 0.9)]),
        ([], []),
    ],
)
def test_pareto_front(points, front):
    dicts = [{"params": p, "val_accuracy": a} for p, a in points]
    assert [(p["params"], p["val_accuracy"]) for p in pareto(dicts)] == front


def test_load_run_is_lenient_with_partial_files(tmp_path):
    (tmp_path / "config.yaml").write_text("data:\n  dataset: digits\nsearch:\n  rollouts: 2\n")
    good = json.dumps(_row("removal", 0, 0.3))
    (tmp_path / "history.jsonl").write_text(f"{good}\n{good}\n{good[:20]}")
    (tmp_path / "report.json").write_text(json.dumps({"teacher": {"params": 5}, "report": {}}))
    run = load_run(tmp_path)
    assert len(run.history) == 2 and run.skipped_lines == 1
    assert run.metrics == {"teacher": {"params": 5}}  # the report's own key is set apart
    assert run.setting("search", "rollouts") == 2 and run.setting("search", "nope", 7) == 7
    assert not run.complete
    assert preprocess(run) == "standardize"


def test_preprocess_from_metrics_then_config(tmp_path):
    (tmp_path / "config.yaml").write_text("data:\n  preprocess: unit\n")
    run = load_run(tmp_path)
    assert preprocess(run) == "unit"
    run.metrics["preprocess"] = "imagenet"
    assert preprocess(run) == "imagenet"


def test_load_run_rejects_a_directory_that_is_no_run(tmp_path):
    with pytest.raises(ValueError, match="Expected a run directory"):
        load_run(tmp_path)


def test_scalar_writer_round_trip(tmp_path):
    writer = ScalarWriter(tmp_path / "tb")
    writer.write("removal", 1, {"mean_reward": 0.25, "best_params": None, "x": float("nan")})
    writer.write("removal", 2, {"mean_reward": 0.5})
    writer.close()
    scalars = read_scalars(tmp_path / "tb")
    assert scalars == {"removal/mean_reward": [(1, 0.25), (2, 0.5)]}


UPDATE = {
    "kind": "update",
    "stage": "shrink",
    "update": 3,
    "updates": 10,
    "mean_reward": 0.5,
    "max_reward": 0.75,
    "best_reward": 0.8,
    "best_params": 12345,
    "best_accuracy": 0.971,
    "students_trained": 14,
    "seconds": 4.2,
    "eta": 125.0,
    "updates_left": 7,
    "rollouts_left": 35,
}


def test_update_line_shows_best_eta_and_budget_left():
    from n2n_tf.cli.progress import format_update

    line = format_update(UPDATE)
    for part in ("shrink", "3/10", "0.500", "0.750", "12,345", "97.10%", "ETA 2:05", "7 updates"):
        assert part in line, part
    epoch = {"kind": "epoch", "epoch": 2, "epochs": 5, "loss": 0.1, "seconds": 1.0}
    assert format_update({**epoch, "eta": 3725, "epochs_left": 3}).startswith("epoch 2/5")
    assert "ETA 1:02:05" in format_update({**epoch, "eta": 3725, "epochs_left": 3})


def test_live_progress_draws_bars_and_lines_on_a_terminal():
    from rich.console import Console

    from n2n_tf.cli.progress import LiveProgress

    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=160)
    with LiveProgress(console) as live:
        labelled = live.labelled("removal 1/2")
        labelled.start("2 students", 10)
        labelled.advance(4)
        assert live.bars.tasks[0].description == "removal 1/2: 2 students"
        assert live.bars.tasks[0].completed == 4
        labelled.stop()
        assert live.bars.tasks == []
        live.update(UPDATE)
    assert "shrink    3/10" in buffer.getvalue()


def test_the_silent_progress_ignores_everything_and_labels_pass_through(capfd):
    progress = Progress().labelled("x")
    progress.start("y", 3)
    progress.advance(3)
    progress.stop()
    progress.update({"kind": "update", "stage": "removal"})
    assert capfd.readouterr() == ("", "")  # the default progress never prints

    inner = mock.Mock()  # labels reach the progress that draws, the last one winning
    labelled = Progress.labelled(inner, "removal 1/2").labelled("shrink 3/10")
    labelled.start("2 students", 10)
    labelled.advance(4)
    inner.start.assert_called_once_with("shrink 3/10: 2 students", 10)
    inner.advance.assert_called_once_with(4)


def test_live_progress_only_on_a_terminal_and_never_when_quiet():
    from n2n_tf.cli.progress import enabled

    class Stream:
        def __init__(self, tty):
            self.tty = tty

        def isatty(self):
            return self.tty

    assert enabled(False, Stream(True))
    assert not enabled(True, Stream(True))  # --quiet
    assert not enabled(False, Stream(False))  # a pipe or a CI log
    assert not enabled(False, io.StringIO())


def test_off_a_terminal_the_progress_is_a_line_per_update_without_bars(monkeypatch):
    """A job whose stderr is a log file or a pipe still says how far it is: the
    same line per update or epoch as on a terminal, and nothing for the bars."""
    from n2n_tf.cli.progress import LineProgress, live_progress

    stream = io.StringIO()  # not a terminal
    monkeypatch.setattr("sys.stderr", stream)
    with live_progress(False) as progress:
        assert isinstance(progress, LineProgress)
        progress.start("epoch 1/2", 10)
        progress.advance(10)
        progress.stop()
        progress.update(UPDATE)
        progress.update({"kind": "epoch", "epoch": 1, "epochs": 2, "accuracy": 0.5, "seconds": 3.0})
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("shrink    3/10") and lines[1].startswith("epoch 1/2")
    with live_progress(True) as progress:  # --quiet: nothing at all
        assert progress is SILENT
