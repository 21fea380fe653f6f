"""Stages as a list: a stage registered from outside runs through the search, resumes,
and runs through the compress job; an unknown stage is refused in one line."""

import json

import keras
import pytest
import toy_stage  # noqa: F401 - registers ``uniform_width``

from n2n_tf import data, graph, models
from n2n_tf.config import load_config
from n2n_tf.search.loop import Search
from n2n_tf.search.stages import STAGE_TYPES, register_stage
from n2n_tf.search.synthetic import SyntheticEnvironment

STAGES = ["search.stages=[removal,uniform_width]", "search.rollouts=4"]


def rows(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture(scope="module")
def spec():
    return graph.inspect(models.build("vgg11", (32, 32, 3), 10, width=0.25))


def test_a_registered_stage_runs_after_removal_from_its_best(tmp_path, spec):
    config = load_config(None, [*STAGES, "search.removal_updates=2", "search.hidden=8"])
    env = SyntheticEnvironment(spec, config.search.factors, seed=0)
    search = Search(None, None, config, tmp_path, env=env)
    assert list(search.stages) == ["removal", "uniform_width"]
    state = search.run()
    history = rows(tmp_path / "history.jsonl")
    assert [r["stage"] for r in history] == ["removal"] * 8 + ["uniform_width"] * 8
    parent = set(state.best["removal"]["arch"]["removed"])
    for row in history[8:]:
        assert set(row["removed"]) == parent  # it starts from Stage 1's best
        assert len(set(row["factors"].values())) <= 1  # one factor for every layer
    assert (tmp_path / "checkpoint" / "uniform_width.weights.h5").is_file()
    arch, score = search.best()
    assert score is not None and set(arch.removed) == parent
    # Random search runs the same list of stages.
    random = Search(None, None, config, tmp_path, env=env.fork(), random=True)
    random.run()
    assert {r["stage"] for r in rows(tmp_path / "random.jsonl")} == {"removal", "uniform_width"}


def test_a_registered_stage_runs_through_the_compress_job(tmp_path):
    from n2n_tf.jobs.compress import compress

    keras.utils.set_random_seed(0)
    config = load_config(
        None,
        [
            *STAGES,
            "data.dataset=digits",
            "data.batch_size=128",
            "search.removal_updates=1",
            "search.hidden=8",
            "distill.epochs=1",
            "distill.finetune_epochs=1",
        ],
    )
    ds = data.load("digits", batch_size=128)
    teacher = models.build("lenet5", (8, 8, 1), 10)
    result = compress(teacher, ds, config, out=tmp_path, formats=(), force=True)
    assert set(result.metrics["stages"]) == {"removal", "uniform_width"}
    assert (tmp_path / "policies" / "uniform_width.weights.h5").is_file()
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["report"]["updates_done"] == {"removal": 1, "uniform_width": 2}
    assert "uniform_width updates" in (tmp_path / "report.md").read_text()


def test_unknown_or_repeated_stages_are_refused_naming_the_registered_ones(tmp_path, spec):
    for stages in ("[removal,nope]", "[removal,removal]"):
        config = load_config(None, [f"search.stages={stages}"])
        env = SyntheticEnvironment(spec, config.search.factors, seed=0)
        with pytest.raises(ValueError, match="search.stages must name each stage once") as err:
            Search(None, None, config, tmp_path, env=env)
        assert "removal, shrink" in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(ValueError, match="Stage subclass"):
        register_stage(object)
    assert set(STAGE_TYPES) >= {"removal", "shrink", "uniform_width"}


def test_the_joint_stage_removes_or_narrows_each_layer_in_one_action(tmp_path, spec):
    config = load_config(
        None, ["search.stages=[joint]", "search.rollouts=6", "search.hidden=8",
               "search.removal_updates=1", "search.shrink_updates=2"],
    )  # fmt: skip
    env = SyntheticEnvironment(spec, config.search.factors, seed=0)
    search = Search(None, None, config, tmp_path, env=env)
    assert search.stages["joint"].updates == 3
    search.run()
    history = rows(tmp_path / "history.jsonl")
    assert len(history) == 18 and {r["stage"] for r in history} == {"joint"}
    assert any(r["removed"] and r["factors"] for r in history)  # both in one student
    removable = {x.name for x in spec.layers if x.removable}
    factors = set(config.search.factors)
    for r in history:
        assert set(r["removed"]) <= removable
        assert set(r["factors"].values()) <= factors and not set(r["factors"]) & set(r["removed"])
    arch, score = search.best()
    assert score is not None and score["params"] < spec.params


def test_ratio_then_offsets_searches_one_ratio_then_redistributes_it(tmp_path, spec):
    config = load_config(
        None, ["search.stages=[ratio,offsets]", "search.rollouts=5", "search.hidden=8",
               "search.removal_updates=2", "search.shrink_updates=2"],
    )  # fmt: skip
    env = SyntheticEnvironment(spec, config.search.factors, seed=0)
    search = Search(None, None, config, tmp_path, env=env)
    assert [s.updates for s in search.stages.values()] == [2, 2]
    state = search.run()
    history = rows(tmp_path / "history.jsonl")
    assert [r["stage"] for r in history] == ["ratio"] * 10 + ["offsets"] * 10
    shrinkable = {x.name for x in spec.layers if x.shrinkable}
    for r in history[:10]:  # one factor of search.factors for every shrinkable layer
        assert not r["removed"] and len(set(r["factors"].values())) <= 1
        assert set(r["factors"]) in (set(), shrinkable)
        assert set(r["factors"].values()) <= set(config.search.factors)
    parent = state.best["ratio"]["arch"]["factors"]
    assert parent  # the synthetic reward prefers a narrowed student to the teacher
    offsets = config.search.offsets
    for r in history[10:]:  # each layer at the ratio's factor times one of search.offsets
        assert not r["removed"]
        for name in shrinkable:
            if name not in r["factors"]:  # widened back to the teacher's width
                assert parent[name] * max(offsets) >= 1.0
                continue
            ratio = r["factors"][name] / parent[name]
            assert min(abs(ratio - m) for m in offsets) < 2e-3
    assert any(len(set(r["factors"].values())) > 1 for r in history[10:])  # not uniform
    # Offsets are judged as whole students, against the teacher: one larger than the
    # ratio's best is valid, and the policy learns from the reward the student is ranked by.
    for r in history[10:]:
        assert r["parent_params"] == env.teacher_params and r["valid"]
        assert r["policy_reward"] == pytest.approx(r["reward"], abs=1e-4)
    arch, score = search.best()  # the best of both stages (the same measure)
    assert score["reward"] == pytest.approx(max(r["reward"] for r in history), abs=1e-4)


def test_offsets_without_one_are_refused_in_one_line(tmp_path, spec):
    config = load_config(None, ["search.stages=[ratio,offsets]", "search.offsets=[0.5,2.0]"])
    env = SyntheticEnvironment(spec, config.search.factors, seed=0)
    with pytest.raises(ValueError, match=r"1\.0 among them") as err:
        Search(None, None, config, tmp_path, env=env)
    assert "\n" not in str(err.value) and "offsets=[0.5, 2.0]" in str(err.value)


def test_the_report_reads_the_updates_a_stage_takes_from_another_key(tmp_path):
    from n2n_tf.report.reader import RunData

    search = {"stages": ["ratio", "offsets"], "removal_updates": 3, "shrink_updates": 7}
    run = RunData(tmp_path, config={"search": search})
    assert [run.planned_updates(s) for s in ("ratio", "offsets", "joint")] == [3, 7, 10]
    assert run.planned_updates("removal") == 3 and run.planned_updates("nope") is None
    assert RunData(tmp_path, plan={"updates": {"ratio": 1}}).planned_updates("ratio") == 1
