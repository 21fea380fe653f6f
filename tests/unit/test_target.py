"""A size target the policy cannot break: parsing, the projection (AMC's action wall),
the reward under a target, and ``--compare l1`` through the compress job."""

import json

import keras
import pytest

from n2n_tf import data, graph, models
from n2n_tf.config import load_config
from n2n_tf.search.target import Target, parse_target, project, scaled
from n2n_tf.types import Architecture


@pytest.mark.parametrize(
    "value, expected", [("4x", 250), ("2.5x", 400), ("300", 300), (300, 300), ("2.5e2", 250)]
)
def test_targets_are_counts_or_ratios_to_the_teacher(value, expected):
    assert parse_target(value, 1000, "target_params") == expected
    assert parse_target(None, 1000, "target_params") is None


@pytest.mark.parametrize("value", ["four", "0x", "-5", "1000", "2000", "0.5x"])
def test_a_bad_or_too_large_target_is_refused_in_one_line(value):
    with pytest.raises(ValueError, match="target_params") as err:
        parse_target(value, 1000, "target_params")
    assert "\n" not in str(err.value) and "Received: target_params=" in str(err.value)


def test_the_projection_is_the_widest_uniform_narrowing_that_meets_the_target(teacher):
    spec = graph.inspect(teacher)
    removable = [x.name for x in spec.layers if x.removable]
    shrinkable = [x.name for x in spec.layers if x.shrinkable]
    sampled = Architecture(removed=frozenset(removable[:1]), factors={shrinkable[0]: 0.5})
    target = Target(params=spec.params // 4)
    projected = project(teacher, spec, sampled, target)
    params, flops = graph.estimate(teacher, projected)
    assert params <= target.params and params > 0.9 * target.params  # met, and close
    assert projected.removed == sampled.removed  # the policy's shape is kept ...
    ratio = projected.factors[shrinkable[0]] / projected.factors[shrinkable[-1]]
    assert ratio == pytest.approx(0.5, rel=0.05)  # ... its relative widths too
    multiplier = projected.factors[shrinkable[-1]]
    wider = scaled(sampled, spec, multiplier * 1.02)
    assert graph.estimate(teacher, wider)[0] > target.params  # no wider one meets it
    # A student already within the target passes the wall unchanged.
    small = scaled(Architecture(), spec, 0.3)
    assert project(teacher, spec, small, target) == small
    both = Target(params=spec.params // 2, flops=spec.flops // 8)
    assert both.met(*graph.estimate(teacher, project(teacher, spec, Architecture(), both)))


def test_under_a_target_every_student_is_projected_and_rewarded_by_accuracy(tmp_path):
    from n2n_tf.search.environment import Environment
    from n2n_tf.search.loop import Search

    keras.utils.set_random_seed(0)
    ds = data.load("digits", batch_size=128)
    teacher = models.build("lenet5", (8, 8, 1), 10)
    sets = ["search.rollouts=3", "search.removal_updates=1", "search.shrink_updates=1"]
    config = load_config(None, [*sets, "search.target_params=3x", "distill.steps=3"])
    env = Environment(teacher, ds, config)
    target = env.target.params
    assert target == graph.count_params(teacher) // 3
    search = Search(teacher, ds, config, tmp_path, env=env)
    search.run()
    rows = [json.loads(r) for r in (tmp_path / "history.jsonl").read_text().splitlines()]
    assert rows and all(r["params"] <= target for r in rows if r["valid"])
    for r in rows:
        if r["valid"] and not r["violated"]:
            assert r["policy_reward"] == pytest.approx(
                r["val_accuracy"] / env.teacher_accuracy, abs=1e-5
            )
            assert r["reward"] == pytest.approx(r["policy_reward"], abs=1e-5)
    # One measure in every stage: the search's student is the best of all of them.
    arch, score = search.best()
    bests = [search.state.best[s]["reward"] for s in search.stage_names]
    assert score is not None and score["reward"] == pytest.approx(max(bests), abs=1e-5)


def test_compress_to_a_target_compared_with_l1_at_the_same_size(tmp_path):
    from n2n_tf.jobs.compress import compress

    keras.utils.set_random_seed(0)
    ds = data.load("digits", batch_size=128)
    teacher = models.build("lenet5", (8, 8, 1), 10)
    sets = ["search.rollouts=2", "search.removal_updates=1", "search.shrink_updates=1"]
    sets += ["search.target_params=4x", "search.compare=[l1]", "search.hidden=8"]
    config = load_config(None, [*sets, "distill.steps=3", "distill.finetune_epochs=1"])
    m = compress(teacher, ds, config, out=tmp_path, formats=(), force=True).metrics
    target = graph.count_params(teacher) // 4
    assert m["target"] == {"params": target, "flops": None}
    assert m["student"]["params"] <= target
    l1 = m["compare"]["l1"]
    assert abs(l1["params"] - m["student"]["params"]) <= 0.1 * m["student"]["params"]
    assert l1["epochs"] == 1 and l1["test_accuracy"] is not None
    won = 100 * (m["student"]["test_accuracy"] - l1["test_accuracy"])
    assert l1["points_won"] == pytest.approx(won)
    assert "vs l1 at the same size" in (tmp_path / "report.md").read_text()
