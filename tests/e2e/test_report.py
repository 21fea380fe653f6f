"""The report, TensorBoard scalars and live progress of a small real compress run.

One tiny run on the bundled 8x8 digits is shared by the whole module.
"""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from n2n_tf import data, models
from n2n_tf.cli.main import cli
from n2n_tf.config import load_config
from n2n_tf.jobs.compress import compress
from n2n_tf.progress import Progress
from n2n_tf.report import write_report
from n2n_tf.report.tensorboard import SCALARS, read_scalars

TINY = [
    "data.dataset=digits",
    "data.batch_size=128",
    "search.rollouts=2",
    "search.removal_updates=2",
    "search.shrink_updates=2",
    "search.hidden=8",
    "search.random_baseline=true",
    "distill.epochs=1",
    "distill.finetune_epochs=1",
]


class Recorder(Progress):
    def __init__(self):
        self.events = []

    def start(self, label, total):
        self.events.append(("start", label, total))

    def advance(self, steps=1):
        self.events.append(("advance", steps))

    def stop(self):
        self.events.append(("stop",))

    def update(self, info):
        self.events.append(("update", dict(info)))


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "run"
    ds = data.load("digits", batch_size=128)
    teacher = models.build("lenet5", (8, 8, 1), 10)
    recorder = Recorder()
    result = compress(
        teacher,
        ds,
        load_config(None, TINY),
        out=out,
        formats=("tflite",),
        progress=recorder,
        force=True,  # an untrained teacher: below the accuracy floor
    )
    return result, recorder


def _text(path):
    return Path(path).read_text()


def test_compress_writes_the_three_report_files_with_the_summary_numbers(run):
    result, _ = run
    metrics, out = result.metrics, result.run_dir
    report = json.loads(_text(out / "report.json"))
    # compress's keys are all kept, with the same values.
    for key, value in metrics.items():
        assert report[key] == json.loads(json.dumps(value)), key
    figures = report["report"]
    assert figures["complete"] is True
    assert figures["preprocess"]
    assert [r["update"] for r in figures["updates"]["removal"]] == [1, 2]
    assert [r["update"] for r in figures["updates"]["shrink"]] == [1, 2]
    assert figures["random_students_scored"] >= 1
    assert all(p["source"] in ("policy", "random") for p in figures["students"])
    assert figures["pareto_params"], "a scored student is always on the front"
    widths = {r["layer"]: r for r in figures["widths"]}
    assert widths and all(r["teacher"] > 0 for r in widths.values())
    for name in metrics["student"]["architecture"]["removed"]:
        assert widths[name]["removed"] and widths[name]["student"] is None

    md, page = _text(out / "report.md"), _text(out / "report.html")
    s, t = metrics["student"], metrics["teacher"]
    for text in (md, page):
        assert f"{s['params']:,}" in text and f"{t['params']:,}" in text
        assert f"{s['flops']:,}" in text and f"{t['flops']:,}" in text
        assert f"{s['test_accuracy']:.2%}" in text and f"{t['val_accuracy']:.2%}" in text
        assert f"{metrics['compression_ratio']:.1f}x" in text
        assert f"{metrics['reward']:.3f}" in text
        assert f"{metrics['export']['tflite']['bytes'] / 1024:.1f} KiB" in text
        assert f"{metrics['export']['tflite']['latency_ms']:.3f} ms" in text
        assert f"{metrics['export']['tflite']['agreement']:.2%}" in text
        assert "preprocessing" in text and figures["preprocess"] in text
        assert "max_params" in text  # the resolved config
    # Self-contained: every plot is embedded, nothing is fetched.
    images = re.findall(r'<img [^>]*src="([^"]+)"', page)
    assert len(images) == 4 and all(src.startswith("data:image/png;base64,") for src in images)
    assert not re.search(r'(src|href)="(https?:)?//', page)
    for name in ("rewards", "accuracy_vs_params", "accuracy_vs_flops", "widths"):
        assert (out / "report_plots" / f"{name}.png").read_bytes()[:4] == b"\x89PNG"
        assert f"report_plots/{name}.png" in md


def test_report_command_rerenders_and_keeps_compress_keys(run, tmp_path):
    result, _ = run
    copy = tmp_path / "copy"
    shutil.copytree(result.run_dir, copy)
    (copy / "report.html").unlink()
    before = json.loads(_text(copy / "report.json"))
    out = CliRunner().invoke(cli, ["report", str(copy)])
    assert out.exit_code == 0, out.output
    assert str(copy / "report.html") in out.output
    after = json.loads(_text(copy / "report.json"))
    assert set(before) == set(after)
    assert {k: v for k, v in after.items() if k != "report"} == {
        k: v for k, v in before.items() if k != "report"
    }
    assert (copy / "report.html").is_file()


def test_tensorboard_scalars_are_written_per_update_and_read_back(run):
    result, _ = run
    scalars = read_scalars(result.run_dir / "tensorboard")
    for stage in ("removal", "shrink"):
        for name in SCALARS:
            steps = [step for step, _ in scalars[f"{stage}/{name}"]]
            if name.startswith("best_"):  # not written until a valid student is met
                assert steps in ([1, 2], [2]), (stage, name)
            else:
                assert steps == [1, 2], (stage, name)
    history = [json.loads(line) for line in _text(result.run_dir / "history.jsonl").splitlines()]
    removal = [r["reward"] for r in history if r["stage"] == "removal" and r["update"] == 0]
    mean = dict(scalars["removal/mean_reward"])[1]
    assert mean == pytest.approx(sum(removal) / len(removal), abs=1e-5)
    assert dict(scalars["removal/max_reward"])[1] == pytest.approx(max(removal), abs=1e-5)
    trained = [v for _, v in scalars["shrink/students_trained"]]
    assert trained == sorted(trained) and trained[-1] <= result.metrics["students_trained"]
    assert all(v > 0 for _, v in scalars["removal/seconds"])


def test_progress_sees_every_training_pass_and_every_update(run):
    _, recorder = run
    starts = [e for e in recorder.events if e[0] == "start"]
    labels = [label for _, label, _ in starts]
    # (an update trains nothing when all its students are cached or invalid)
    assert any(label.startswith("removal ") for label in labels)
    assert any(label.startswith("shrink 2/2") for label in labels)
    assert any(label.startswith("random search") for label in labels)
    assert any(label.startswith("fine-tune") for label in labels)
    # Steps advanced between a start and its stop add up to the pass's total.
    total, done = None, 0
    for event in recorder.events:
        if event[0] == "start":
            total, done = event[2], 0
        elif event[0] == "advance":
            done += event[1]
        elif event[0] == "stop":
            assert done == total
    every = [e[1] for e in recorder.events if e[0] == "update"]
    # Random search runs through the same loop, after the policy search, with its own lines.
    random = [(u["stage"], u["update"]) for u in every if u["stage"].startswith("random")]
    # At equal cost a random stage may stop before its last update.
    assert random[0] == ("random search removal", 1)
    assert set(random) <= {
        ("random search removal", 1),
        ("random search removal", 2),
        ("random search shrink", 1),
        ("random search shrink", 2),
    }
    assert random == sorted(random, key=lambda u: (u[0].endswith("shrink"), u[1]))
    updates = [u for u in every if not u["stage"].startswith("random")]
    assert [(u["stage"], u["update"]) for u in updates] == [
        ("removal", 1),
        ("removal", 2),
        ("shrink", 1),
        ("shrink", 2),
    ]
    assert [u["updates_left"] for u in updates] == [3, 2, 1, 0]
    assert updates[-1]["eta"] == 0 and updates[0]["eta"] > 0


def _killed_copy(run_dir: Path, dest: Path, keep: tuple[str, ...]) -> Path:
    dest.mkdir()
    for name in keep:
        src = run_dir / name
        if src.is_dir():
            shutil.copytree(src, dest / name)
        else:
            shutil.copy(src, dest / name)
    lines = _text(run_dir / "history.jsonl").splitlines(keepends=True)
    # Killed while appending the fifth row: three whole rows, half of the fourth.
    (dest / "history.jsonl").write_text("".join(lines[:3]) + lines[3][: len(lines[3]) // 2])
    return dest


def test_report_of_a_killed_run(run, tmp_path):
    result, _ = run
    killed = _killed_copy(
        result.run_dir, tmp_path / "killed", ("config.yaml", "teacher.keras", "checkpoint")
    )
    paths = write_report(killed)
    report = json.loads(_text(paths["json"]))
    figures = report["report"]
    assert figures["complete"] is False and "teacher" not in report
    assert figures["skipped_lines"] == 1 and figures["history_rows"] == 3
    assert [r["update"] for r in figures["updates"]["removal"]] == [1, 2]
    assert figures["updates_done"] == {"removal": 2} and figures["updates_planned"]["shrink"] == 2
    assert figures["teacher"]["params"] == result.metrics["teacher"]["params"]
    assert figures["widths"], "widths come from teacher.keras and the best architecture"
    page = _text(paths["html"])
    assert "incomplete" in page and f"{result.metrics['teacher']['params']:,}" in page
    assert "data:image/png;base64," in page
    assert "incomplete" in _text(paths["md"])


def test_report_of_a_run_with_only_a_truncated_history(run, tmp_path):
    result, _ = run
    bare = _killed_copy(result.run_dir, tmp_path / "bare", ())
    out = CliRunner().invoke(cli, ["report", str(bare)])
    assert out.exit_code == 0, out.output
    figures = json.loads(_text(bare / "report.json"))["report"]
    assert figures["preprocess"] == "standardize"  # nothing recorded: the old default
    assert figures["widths"] == [] and "no teacher.keras" in figures["widths_note"]
    assert figures["best_scored"] is not None
    assert "data:image/png;base64," in _text(bare / "report.html")


def test_report_of_a_run_from_an_earlier_version(run, tmp_path):
    """Older runs: no baseline in the history, no preprocess, no random.jsonl, no report key."""
    result, _ = run
    old = tmp_path / "old"
    shutil.copytree(result.run_dir, old, ignore=shutil.ignore_patterns("random.jsonl", "report*"))
    rows = [json.loads(line) for line in _text(result.run_dir / "history.jsonl").splitlines()]
    (old / "history.jsonl").write_text(
        "".join(json.dumps({k: v for k, v in r.items() if k != "baseline"}) + "\n" for r in rows)
    )
    (old / "report.json").write_text(json.dumps(result.metrics))
    write_report(old)
    new = json.loads(_text(result.run_dir / "report.json"))["report"]
    again = json.loads(_text(old / "report.json"))["report"]
    # The baseline is recomputed from the rewards: the same values as recorded.
    for stage in ("removal", "shrink"):
        assert [r["baseline"] for r in again["updates"][stage]] == pytest.approx(
            [r["baseline"] for r in new["updates"][stage]], abs=1e-5
        )
    assert again["random_students_scored"] == 0


def test_report_of_a_directory_that_is_no_run(tmp_path):
    out = CliRunner().invoke(cli, ["report", str(tmp_path)])
    assert out.exit_code == 1 and "Expected a run directory" in out.output


def _chromium():
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None


@pytest.mark.skipif(_chromium() is None, reason="Chromium is not installed (no chromium on PATH)")
def test_report_html_opens_in_headless_chromium(run, tmp_path):
    from PIL import Image

    result, _ = run
    page = tmp_path / "report.html"
    # A probe script checks, once the page has loaded, that every image decoded.
    probe = (
        "<script>window.addEventListener('load', () => {"
        "const bad = [...document.images].filter(i => !i.complete || i.naturalWidth === 0);"
        "if (bad.length) console.error('BROKEN ' + bad.length);"
        "console.log('PROBE images=' + document.images.length);"
        "document.body.dataset.images = document.images.length - bad.length;});</script>"
    )
    page.write_text(_text(result.run_dir / "report.html").replace("</body>", probe + "</body>"))
    shot = tmp_path / "report.png"
    base = [
        _chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--hide-scrollbars",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--enable-logging=stderr",
        "--v=0",
        "--virtual-time-budget=5000",
    ]
    dom = subprocess.run(
        [*base, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert 'data-images="4"' in dom.stdout
    console = [line for line in dom.stderr.splitlines() if "CONSOLE" in line]
    assert any("PROBE images=4" in line for line in console), dom.stderr[-2000:]
    errors = [line for line in console if "PROBE" not in line]
    assert errors == []
    snap = subprocess.run(
        [*base, "--window-size=1200,2400", f"--screenshot={shot}", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert snap.returncode == 0 and shot.is_file(), snap.stderr[-2000:]
    image = Image.open(shot).convert("RGB")
    assert image.size == (1200, 2400)
    colours = image.resize((300, 600)).getcolors(maxcolors=1_000_000)
    assert len(colours) > 50, "the screenshot shows more than a blank page"
    if os.environ.get("N2N_SCREENSHOT_DIR"):
        shutil.copy(shot, Path(os.environ["N2N_SCREENSHOT_DIR"]) / "report.png")


def test_progress_in_a_pipe_is_a_line_per_epoch_on_stderr_and_no_bars(tmp_path):
    """Bars are drawn only on a terminal; a pipe or a log file still gets the line per
    epoch, on stderr (stdout keeps only the job's own output)."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "n2n_tf.cli.main",
            "train-teacher",
            "--dataset",
            "digits",
            "--epochs",
            "2",
            "--out",
            str(tmp_path / "t.keras"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Validation accuracy" in proc.stdout
    epoch_lines = [line for line in proc.stderr.splitlines() if line.startswith("epoch ")]
    assert [line.split()[1] for line in epoch_lines] == ["1/2", "2/2"]
    assert "epoch 1/2" not in proc.stdout
    assert "\u2501" not in proc.stderr and "\r" not in proc.stderr  # no bar drawn
