"""Two-tier scoring: the zero-step screen (inherited weights, BatchNorm statistics
re-estimated) for every student, the short distillation for the best few."""

import json

import keras
import numpy as np
import pytest

from n2n_tf import data, graph, models
from n2n_tf.config import load_config
from n2n_tf.search.baselines import uniform_architecture
from n2n_tf.search.environment import Environment
from n2n_tf.search.loop import Search
from n2n_tf.search.screen import batchnorm_layers, refresh_batchnorm
from n2n_tf.types import Architecture


def test_refreshed_statistics_are_the_average_of_the_batches_not_the_inherited_ones():
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.BatchNormalization(momentum=0.99)(inputs))
    (bn,) = batchnorm_layers(model)
    bn.moving_mean.assign([100.0, 100.0, 100.0])  # inherited, and far off
    rng = np.random.default_rng(0)
    batches = [rng.normal(loc=i, size=(16, 3)).astype("float32") for i in range(4)]
    refresh_batchnorm(model, batches)
    expected = np.mean([b.mean(axis=0) for b in batches], axis=0)
    np.testing.assert_allclose(np.asarray(bn.moving_mean), expected, rtol=1e-4, atol=1e-4)
    assert bn.momentum == 0.99  # the model's own momentum is back


def test_refresh_reaches_batchnorm_inside_a_nested_model():
    inner_in = keras.Input((4,))
    inner = keras.Model(inner_in, keras.layers.BatchNormalization()(inner_in))
    outer_in = keras.Input((4,))
    outer = keras.Model(outer_in, keras.layers.Dense(2)(inner(outer_in)))
    assert len(batchnorm_layers(outer)) == 1


@pytest.fixture(scope="module")
def env_parts():
    keras.utils.set_random_seed(0)
    ds = data.load("digits", batch_size=64)
    teacher = models.build("resnet20", (8, 8, 1), 10, width=0.25)
    return teacher, ds


def make_env(env_parts, *sets):
    teacher, ds = env_parts
    base = ["distill.steps=4", "search.screen_batches=2", "search.screen_images=128"]
    return Environment(teacher, ds, load_config(None, [*base, *sets]))


def archs(env, n):
    return [uniform_architecture(env.spec, f) for f in np.linspace(0.3, 0.9, n).round(2)]


def test_every_student_is_screened_and_only_the_top_k_distilled(env_parts):
    env = make_env(env_parts, "search.screen_top_k=2")
    scored = env.score(archs(env, 5), update=0, seed=1)
    assert env.screened == 5 and env.trained == 2
    tiers = [s.tier for s, _ in scored]
    assert tiers.count("distill") == 2 and tiers.count("screen") == 3
    assert all(s.screen_accuracy is not None for s, _ in scored)
    # The distilled ones are the best two by the screen's reward.
    screen_reward = {
        s.key: env._reward(s, env.teacher_parent, 0, s.screen_accuracy) for s, _ in scored
    }
    top = sorted(screen_reward, key=screen_reward.get, reverse=True)[:2]
    assert {s.key for s, _ in scored if s.tier == "distill"} == set(top)
    # A stage learning from distilled students: the screened-only teach nothing ...
    assert [s.policy_reward is None for s, _ in scored] == [t == "screen" for t in tiers]
    # ... and the best is chosen among the distilled only.
    assert all(s.rank_reward == -1.0 for s, _ in scored if s.tier == "screen")
    # Learning from the screen: every rollout has a policy reward, from its screen.
    again = env.score(archs(env, 5), update=0, seed=1, screen_reward=True)
    assert all(s.policy_reward is not None for s, _ in again) and env.trained == 2
    # The same students again: their top two are distilled already (cached).
    env.score(archs(env, 5), update=1, seed=2)
    assert env.trained == 2 and env.screened == 5
    # New students: screened, and the best two of the call distilled.
    fresh = [uniform_architecture(env.spec, f) for f in (0.35, 0.5, 0.55, 0.65)]
    env.score(fresh, update=2, seed=3)
    assert env.screened == 9 and env.trained == 4


def test_a_refresh_leaves_a_student_as_its_screen_does_without_the_validation_pass(
    env_parts, monkeypatch
):
    env = make_env(env_parts)
    arch = uniform_architecture(env.spec, 0.5)
    screened, refreshed = env.build(arch), env.build(arch)
    env.screen_students([screened])
    import n2n_tf.search.screen as screen_module

    def no_validation(*_):
        raise AssertionError("a refresh ran a validation pass")

    monkeypatch.setattr(screen_module, "accuracies", no_validation)
    assert env.refresh_students([refreshed]) == [refreshed]
    pairs = zip(batchnorm_layers(screened), batchnorm_layers(refreshed), strict=True)
    for a, b in pairs:
        np.testing.assert_allclose(a.moving_mean.numpy(), b.moving_mean.numpy(), atol=1e-6)
        np.testing.assert_allclose(a.moving_variance.numpy(), b.moving_variance.numpy(), atol=1e-6)
    # Not the inherited statistics: the refresh changed them.
    inherited = batchnorm_layers(env.build(arch))[0].moving_mean.numpy()
    assert not np.allclose(batchnorm_layers(refreshed)[0].moving_mean.numpy(), inherited)


def test_without_screening_every_student_is_distilled(env_parts):
    env = make_env(env_parts)
    scored = env.score(archs(env, 3), update=0, seed=1)
    assert env.trained == 3 and env.screened == 0
    assert {s.tier for s, _ in scored} == {"distill"}
    assert all(s.policy_reward == s.rank_reward for s, _ in scored)


def test_a_screened_search_writes_the_tier_of_every_row(env_parts, tmp_path):
    teacher, ds = env_parts
    sets = ["search.rollouts=6", "search.removal_updates=1", "search.shrink_updates=1"]
    sets += ["search.screen_top_k=2", "search.screen_reward=[shrink]", "search.hidden=8"]
    config = load_config(None, [*sets, "distill.steps=4", "search.screen_images=128"])
    search = Search(teacher, ds, config, tmp_path)
    search.run()
    rows = [json.loads(line) for line in (tmp_path / "history.jsonl").read_text().splitlines()]
    for row in rows:
        assert row["tier"] in ("screen", "distill")
        assert (row["val_accuracy"] is None) == (row["tier"] == "screen")
    removal = [r for r in rows if r["stage"] == "removal" and r["valid"]]
    assert any(r["policy_reward"] is None for r in removal if r["tier"] == "screen")
    shrink = [r for r in rows if r["stage"] == "shrink" and r["valid"]]
    assert all(r["policy_reward"] is not None for r in shrink)
    assert search.env.trained <= 2 * 2 < search.env.screened
    from n2n_tf.report.reader import load_run
    from n2n_tf.report.summary import summarize

    figures = summarize(load_run(tmp_path))
    keys = {(tuple(r["removed"]), tuple(sorted(r["factors"].items()))) for r in rows if r["valid"]}
    distilled = {
        (tuple(r["removed"]), tuple(sorted(r["factors"].items())))
        for r in rows
        if r["valid"] and r["tier"] == "distill"
    }
    assert figures["students_scored"] == len(distilled)  # the report ranks distilled ones
    assert figures["students_screened_only"] == len(keys - distilled) > 0
    arch, score = search.best()
    assert score is not None and score["tier"] == "distill"
    assert graph.estimate(teacher, arch)[0] < graph.count_params(teacher)
    assert Architecture.from_dict(search.state.best["shrink"]["arch"]) == arch


def test_after_a_fine_tune_refreshed_statistics_are_kept_only_where_validation_gains(env_parts):
    from n2n_tf.search.finetune import refresh_if_better

    _, ds = env_parts
    env = make_env(env_parts)
    spoiled = env.build(uniform_architecture(env.spec, 1.0))
    first = batchnorm_layers(spoiled)[0]
    first.moving_mean.assign(first.moving_mean + 5.0)  # statistics that match nothing
    spoilt_mean = np.asarray(first.moving_mean).copy()
    # Validation said the current statistics score better than any refresh: kept as they are.
    assert refresh_if_better([spoiled], env.data, ds.val, {0: 1.01}, [0]) == {}
    np.testing.assert_array_equal(np.asarray(first.moving_mean), spoilt_mean)
    # Below what the refresh scores: the refreshed statistics are kept, with their accuracy.
    kept = refresh_if_better([spoiled], env.data, ds.val, {0: -1.0}, [0])
    assert set(kept) == {0}
    assert env.trainer.evaluate([spoiled], ds.val)[0] == pytest.approx(kept[0])
    assert np.abs(np.asarray(first.moving_mean) - spoilt_mean).min() > 1.0  # not the spoilt ones
