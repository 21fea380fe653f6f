"""A latency target (``--target-latency``): parsing, the fit of measured TFLite latency
to multiply-adds, its one-line refusals, and the compress job holding it."""

import json

import keras
import pytest

from n2n_tf import data, graph, models
from n2n_tf.config import load_config
from n2n_tf.search import latency
from n2n_tf.search.latency import LatencyFit, latency_flops, parse_latency


@pytest.mark.parametrize("value, expected", [("4x", 0.5), ("0.3", 0.3), ("0.3ms", 0.3), (1, 1.0)])
def test_a_latency_target_is_milliseconds_or_a_ratio_to_the_teacher(value, expected):
    assert parse_latency(value, teacher_ms=2.0) == pytest.approx(expected)
    assert parse_latency(None, 2.0) is None


# 0.1 ms fixed, 0.2 ms per million multiply-adds; the teacher: 10 M MACs, 2.1 ms.
FIT = LatencyFit(0.1, 0.2, 2.1, ((10_000_000, 2.1), (2_500_000, 0.6)))


def test_the_target_becomes_the_multiply_adds_where_the_fitted_line_meets_it():
    assert latency_flops("1.1", FIT, 10_000_000) == pytest.approx(5_000_000, rel=1e-6)
    assert latency_flops("2.1x", FIT, 10_000_000) == pytest.approx(4_500_000, rel=1e-6)


@pytest.mark.parametrize(
    "value, fit, words",
    [
        ("fast", FIT, "milliseconds per image"),
        ("0x", FIT, "milliseconds per image"),
        ("3", FIT, "below the teacher's 2.100 ms"),
        ("0.1", FIT, "narrowest student"),
        ("1", LatencyFit(2.0, -0.01, 2.0, ((10**7, 1.9), (10**6, 2.0))), "does not grow"),
    ],
)
def test_a_latency_target_that_cannot_be_held_is_refused_in_one_line(value, fit, words):
    with pytest.raises(ValueError, match=words) as err:
        latency_flops(value, fit, 10_000_000)
    assert "\n" not in str(err.value) and "Received: target_latency=" in str(err.value)


def test_the_fit_is_measured_on_the_teacher_and_uniform_students_of_it():
    """Real TFLite timings (ai-edge-litert, one thread) of a CIFAR ResNet-20 at half
    width: a quarter-width student is far cheaper, so the line rises with MACs."""
    keras.utils.set_random_seed(0)
    teacher = models.build("resnet20", (32, 32, 3), 10, width=0.5)
    spec = graph.inspect(teacher)
    fit = latency.fit_latency(teacher, spec, {"round_to": 1}, runs=30)
    flops = [f for f, _ in fit.points]
    assert len(fit.points) == 1 + len(latency.PROBE_FACTORS)
    assert flops[0] == spec.flops and flops[0] > max(flops[1:])
    assert fit.ms_per_mmac > 0 and fit.teacher_ms > fit.points[1][1] > 0


def test_an_environment_refuses_a_latency_target_nobody_measured():
    from n2n_tf.search.environment import Environment

    teacher = models.build("lenet5", (8, 8, 1), 10)
    config = load_config(None, ["search.target_latency=2x"])
    with pytest.raises(ValueError, match="resolve_latency_target") as err:
        Environment(teacher, data.load("digits", batch_size=128), config)
    assert "\n" not in str(err.value)


def test_compress_holds_a_latency_target_and_reports_the_students_latency(tmp_path, monkeypatch):
    """The timings are a fixed line here (0.001 ms + 0.4 ms per M MACs), so the test
    checks the wiring: the target becomes a MACs wall every student is projected onto,
    the fit is kept with the run and read back instead of timing again, and the report
    gives the student's latency against the target."""
    from n2n_tf.jobs.compress import compress

    timed = []

    def line(model, runs=latency.RUNS):
        timed.append(graph.count_flops(model))
        return 0.001 + 0.4 * graph.count_flops(model) / 1e6

    monkeypatch.setattr(latency, "time_tflite", line)
    keras.utils.set_random_seed(0)
    ds = data.load("digits", batch_size=128)
    teacher = models.build("lenet5", (8, 8, 1), 10)
    sets = ["search.rollouts=2", "search.removal_updates=1", "search.shrink_updates=1"]
    sets += ["search.target_latency=3x", "search.hidden=8", "search.random_baseline=false"]
    config = load_config(None, [*sets, "distill.steps=3", "distill.finetune_epochs=0"])
    m = compress(teacher, ds, config, out=tmp_path, formats=(), force=True).metrics
    teacher_ms = 0.001 + 0.4 * graph.count_flops(teacher) / 1e6
    wall = m["latency"]["target_flops"]
    assert m["latency"]["target_ms"] == pytest.approx(teacher_ms / 3)
    assert wall == pytest.approx((teacher_ms / 3 - 0.001) / 0.4 * 1e6, rel=1e-3)
    assert m["target"]["flops"] == wall and m["student"]["flops"] <= wall
    assert m["latency"]["student_ms"] == pytest.approx(0.001 + 0.4 * m["student"]["flops"] / 1e6)
    assert m["latency"]["met"] is True
    rows = [json.loads(r) for r in (tmp_path / "history.jsonl").read_text().splitlines()]
    assert rows and all(r["flops"] <= wall for r in rows if r["valid"])
    assert "latency" in (tmp_path / "report.md").read_text()
    # Kept with the run: resolving again reads latency.json and times nothing.
    saved = json.loads((tmp_path / "latency.json").read_text())
    assert saved["teacher_ms"] == pytest.approx(teacher_ms)
    before = len(timed)
    again, fit = latency.resolve_latency_target(config, teacher, tmp_path / "latency.json")
    assert len(timed) == before and again.search.target_flops == str(wall)
