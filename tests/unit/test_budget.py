"""--budget and --students: parsing, the plan's arithmetic, stages stopping at their deadlines."""

import json
import time

import keras
import pytest

from n2n_tf import data, graph, models
from n2n_tf.config import load_config
from n2n_tf.distill import Trainer
from n2n_tf.search.budget import (
    MARGIN,
    MIN_STEPS,
    Costs,
    _cache_s,
    _update_s,
    load_plan,
    make_plan,
    parse_duration,
    save_plan,
)
from n2n_tf.search.loop import Search
from n2n_tf.search.stages import STAGE_TYPES
from n2n_tf.search.synthetic import SyntheticEnvironment

# Costs of the size measured for a CIFAR-10 ResNet-20 on a 2-core CPU (seconds).
RESNET20_CPU = Costs(step_s=0.25, teacher_s=0.08, fit_overhead_s=4.0, train_batches=282)


@pytest.mark.parametrize(
    "text, seconds",
    [("30m", 1800), ("1h", 3600), ("1h30m", 5400), ("90s", 90), ("45", 2700), (45, 2700)],
)
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["soon", "0m", "", "-5m", "30 minutes"])
def test_bad_durations_are_refused_in_one_line(text):
    with pytest.raises(ValueError, match="budget") as err:
        parse_duration(text)
    assert "\n" not in str(err.value)


def planned_seconds(plan, costs, config, augmented=True) -> float:
    """What the plan's own cost model says the job takes (search at full rollouts)."""
    cached = True
    search = sum(
        n * _update_s(costs, plan.rollouts, plan.steps, STAGE_TYPES[stage].mac_share, cached)
        for stage, n in plan.updates.items()
    )
    search *= 2 if plan.random_baseline else 1
    return plan.cache_s + search + plan.finetune_s + plan.export_s


@pytest.mark.parametrize("slower", [1.0, 4.0])
@pytest.mark.parametrize("budget", ["30m", "1h"])
def test_a_plan_fits_its_budget(budget, slower):
    config = load_config(None, ["search.random_baseline=false"])
    costs = Costs(
        RESNET20_CPU.step_s * slower,
        RESNET20_CPU.teacher_s * slower,
        RESNET20_CPU.fit_overhead_s * slower,
        RESNET20_CPU.train_batches,
    )
    seconds = parse_duration(budget)
    plan = make_plan(config, costs, augmented=True, budget_s=seconds, elapsed_s=30)
    assert planned_seconds(plan, costs, config) <= seconds * (1 - MARGIN) - 30 + 1e-6
    assert plan.steps >= MIN_STEPS and min(plan.updates.values()) >= 1
    assert list(plan.updates) == ["removal", "shrink"]
    assert 0 < plan.train_fraction <= 1 and plan.finetune_epochs >= 1
    assert plan.cache_s == pytest.approx(_cache_s(costs, config, True, plan.train_fraction))
    applied = plan.apply(config)
    assert applied.search.removal_updates == plan.updates["removal"]
    assert applied.search.shrink_updates == plan.updates["shrink"]
    assert applied.distill.steps == plan.steps
    assert applied.distill.train_fraction == plan.train_fraction
    lines = "\n".join(plan.lines())
    assert f"Plan for a budget of {seconds / 60:.1f} min" in lines


def test_more_time_buys_more_scoring_not_fewer_students():
    config = load_config(None, ["search.random_baseline=false"])
    short = make_plan(config, RESNET20_CPU, True, budget_s=1800)
    long = make_plan(config, RESNET20_CPU, True, budget_s=4 * 3600)
    assert long.steps >= short.steps
    assert long.students >= short.students


def test_a_random_baseline_halves_the_search_time():
    alone = make_plan(load_config(None, ["search.random_baseline=false"]), RESNET20_CPU, True, 3600)
    both = make_plan(load_config(None, ["search.random_baseline=true"]), RESNET20_CPU, True, 3600)
    assert both.students < alone.students or both.steps < alone.steps
    start = 100.0
    assert max(both.deadlines(start).values()) < max(alone.deadlines(start).values())


def test_a_config_asking_for_fewer_updates_than_the_minimum_gets_them():
    config = load_config(None, ["search.removal_updates=1", "search.shrink_updates=1"])
    plan = make_plan(config, RESNET20_CPU, True, budget_s=3600)
    assert plan.updates == {"removal": 1, "shrink": 1}


def test_a_budget_plans_every_stage_of_the_list_by_its_shares(tmp_path):
    import toy_stage  # noqa: F401 - registers ``uniform_width`` (2 updates, default shares)

    config = load_config(
        None, ["search.stages=[removal,uniform_width,shrink]", "search.random_baseline=false"]
    )
    plan = make_plan(config, RESNET20_CPU, True, budget_s=3600)
    assert list(plan.updates) == ["removal", "uniform_width", "shrink"]
    assert plan.updates["uniform_width"] == 2  # capped by what the stage asks for
    assert sum(plan.shares.values()) == pytest.approx(1.0)
    weights = {"removal": 0.4, "uniform_width": 1.0, "shrink": 0.6}
    assert plan.shares["uniform_width"] == pytest.approx(1.0 / sum(weights.values()))
    assert planned_seconds(plan, RESNET20_CPU, config) <= 3600 * (1 - MARGIN) + 1e-6
    ends = plan.deadlines(0.0)
    assert list(ends) == list(plan.updates) and ends["removal"] < ends["uniform_width"]
    assert ends["shrink"] == pytest.approx(plan.cache_s + plan.search_s)
    # The search runs the planned updates, also for a stage the config has no field for.
    env = SyntheticEnvironment(graph.inspect(models.build("lenet5", (8, 8, 1), 10)), (0.5,), 0)
    small = {"removal": 1, "uniform_width": 1, "shrink": 1}
    search = Search(None, None, config, tmp_path, env=env, updates=small)
    assert {name: stage.updates for name, stage in search.stages.items()} == small


def test_a_plan_saved_before_stages_were_a_list_still_resumes(tmp_path):
    config = load_config(None, [])
    plan = make_plan(config, RESNET20_CPU, augmented=True, budget_s=1800)
    old = plan.to_dict()
    updates = old.pop("updates")
    old.pop("shares")
    old |= {"removal_updates": updates["removal"], "shrink_updates": updates["shrink"]}
    saved = {"plan": old, "costs": None, "search_offset_s": 3.0}
    (tmp_path / "plan.json").write_text(json.dumps(saved))
    assert load_plan(tmp_path)[0] == plan


def test_a_plan_is_kept_for_resume_and_a_corrupt_one_is_refused(tmp_path):
    config = load_config(None, [])
    plan = make_plan(config, RESNET20_CPU, augmented=True, budget_s=1800)
    assert load_plan(tmp_path) is None  # a run without a plan resumes without one
    save_plan(tmp_path, plan, RESNET20_CPU, 12.5)
    assert load_plan(tmp_path) == (plan, RESNET20_CPU, 12.5)
    (tmp_path / "plan.json").write_text('{"plan": {"budget_s": 1800}}')
    with pytest.raises(ValueError, match="not a plan n2n-tf wrote") as err:
        load_plan(tmp_path)
    assert "\n" not in str(err.value)


def test_a_budget_too_small_says_what_it_needs():
    config = load_config(None)
    with pytest.raises(ValueError, match="too small") as err:
        make_plan(config, RESNET20_CPU, True, budget_s=60)
    assert "Received: budget=" in str(err.value)


def test_a_student_count_sets_the_updates():
    config = load_config(None, ["search.rollouts=5", "distill.steps=50"])
    plan = make_plan(config, None, True, students=40)
    assert plan.updates == {"removal": round(8 * 0.4), "shrink": 8 - round(8 * 0.4)}
    assert plan.steps == 50
    assert plan.deadlines(0.0) == {}
    assert "50 distillation steps per student" in "\n".join(plan.lines())
    epochs = make_plan(load_config(None, ["search.rollouts=5"]), None, True, students=40)
    assert "distill.epochs epoch(s) per student" in "\n".join(epochs.lines())


def test_a_stage_stops_at_its_deadline_with_its_best_so_far(tmp_path):
    spec = graph.inspect(models.build("vgg11", (32, 32, 3), 10, width=0.25))
    config = load_config(
        None, ["search.rollouts=3", "search.removal_updates=3", "search.shrink_updates=40"]
    )
    env = SyntheticEnvironment(spec, config.search.factors, seed=0)
    now = time.perf_counter()
    search = Search(
        None,
        None,
        config,
        tmp_path,
        env=env,
        deadlines={"removal": now + 3600, "shrink": now - 1},
        budget_end=now + 3600,
    )
    search.run()
    summary = search.summary()
    assert summary["updates"] == {"removal": 3, "shrink": 0}
    assert summary["stopped_at_deadline"] == {"shrink": 0}
    arch, score = search.best()  # Stage 2 ran no update: the best Stage-1 student stands
    assert score is not None and score["params"] < spec.params
    state = json.loads((tmp_path / "checkpoint" / "state.json").read_text())
    assert state["stopped"] == {"shrink": 0}


def test_training_stops_at_a_deadline():
    keras.utils.set_random_seed(0)
    ds = data.load("digits", batch_size=64)
    teacher = models.build("lenet5", (8, 8, 1), 10)
    trainer = Trainer(teacher, load_config(None, ["distill.steps_per_execution=2"]).distill)
    student = models.build("lenet5", (8, 8, 1), 10, width=0.5)
    (past,) = trainer.fit([student], ds, epochs=2, deadline=time.perf_counter() - 1)
    assert past.steps == 0 and past.val_accuracy is not None
    (future,) = trainer.fit([student], ds, epochs=1, deadline=time.perf_counter() + 3600)
    assert future.steps == -(-ds.info.split_sizes["train"] // 64)


def test_a_slow_start_of_the_input_pipeline_is_not_timed_as_steps():
    """The first batch of every pass waits 2 s (a JPEG folder's pipeline starting, a step
    tracing): the measured step stays the time of a step, not of the start."""
    import dataclasses

    import tensorflow as tf

    from n2n_tf.search.budget import measure

    def wait_once(index):
        if int(index) == 0:
            time.sleep(2.0)
        return 0.0

    def slow_start(index, batch):
        x, y = batch
        pause = tf.py_function(wait_once, [index], tf.float32)
        pause.set_shape(())
        return x + tf.cast(pause, x.dtype), y

    keras.utils.set_random_seed(0)
    ds = data.load("digits", batch_size=64)
    ds = ds._replace(train=ds.train.enumerate().map(slow_start))
    teacher = models.build("lenet5", (8, 8, 1), 10)
    config = load_config(None, [])
    config = dataclasses.replace(config, distill=dataclasses.replace(config.distill, steps=4))
    costs = measure(teacher, ds, config, chunks=3, chunk=2)
    assert 0 < costs.step_s < 0.3  # a LeNet step on 8x8 digits: milliseconds, not 2 s / 2
    assert costs.fit_overhead_s >= 1.5  # the start is the pass's overhead
    assert costs.train_batches == -(-ds.info.split_sizes["train"] // 64)
