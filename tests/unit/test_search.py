import keras
import numpy as np
import pytest
import tensorflow as tf

from n2n_tf import graph, models
from n2n_tf.search import Baseline, Constraints, RemovalPolicy, ShrinkPolicy, anneal, reward
from n2n_tf.search.features import FEATURE_NAMES
from n2n_tf.search.policies import features
from n2n_tf.search.reinforce import reinforce_update


@pytest.fixture(scope="module")
def spec():
    return graph.inspect(models.build("vgg11", (32, 32, 3), 10, width=0.25))


def test_removal_policy_sample_log_prob_and_gradients(spec):
    keras.utils.set_random_seed(0)
    policy = RemovalPolicy(hidden=8)
    feats = features(spec.layers)
    free = [layer.removable for layer in spec.layers]
    actions = policy.sample(feats, free, seed=(1, 2))
    assert actions.shape == (len(spec.layers),)
    assert all(a == 1.0 for a, f in zip(actions, free, strict=True) if not f)
    np.testing.assert_array_equal(policy.sample(feats, free, seed=(1, 2)), actions)
    with tf.GradientTape() as tape:
        lp = policy.log_prob(feats, actions, free)
    grads = tape.gradient(lp, policy.trainable_variables)
    assert float(lp) < 0 and all(g is not None for g in grads)
    # Fixed layers contribute nothing: flipping one changes no log-probability.
    fixed = free.index(False)
    flipped = actions.copy()
    flipped[fixed] = 0.0
    assert float(policy.log_prob(feats, flipped, free)) == pytest.approx(float(lp))


def test_shrink_policy_is_autoregressive_and_differentiable(spec):
    keras.utils.set_random_seed(0)
    policy = ShrinkPolicy(factors=(0.25, 0.5, 1.0), hidden=8)
    feats = features(spec.layers)
    free = [layer.shrinkable for layer in spec.layers]
    actions = policy.sample(feats, free, seed=(3, 4))
    assert actions.shape == (len(spec.layers),) and set(actions) <= {0, 1, 2}
    assert all(a == 2 for a, f in zip(actions, free, strict=True) if not f)
    with tf.GradientTape() as tape:
        lp = policy.log_prob(feats, actions, free)
    assert all(g is not None for g in tape.gradient(lp, policy.trainable_variables))
    # The previous action is an input: changing action t changes the distribution at t+1.
    t = free.index(True)
    logits_a, states = policy.step_logits(feats[0, t : t + 1], None)
    nxt_a, _ = policy.step_logits(feats[0, t + 1 : t + 2], 0, states)
    nxt_b, _ = policy.step_logits(feats[0, t + 1 : t + 2], 2, states)
    assert not np.allclose(nxt_a.numpy(), nxt_b.numpy())
    del logits_a


def test_policy_weights_transfer_between_teachers(tmp_path, spec):
    policy = RemovalPolicy(hidden=8)
    policy.build_once()
    path = policy.save_policy(tmp_path / "removal.weights.h5")
    other = RemovalPolicy(hidden=8)
    other.load_policy(path)
    deep = graph.inspect(models.build("vgg19", (32, 32, 3), 10, width=0.25))
    feats_small, feats_deep = features(spec.layers), features(deep.layers)
    np.testing.assert_allclose(policy(feats_small).numpy(), other(feats_small).numpy())
    assert other(feats_deep).shape == (1, len(deep.layers))
    with pytest.raises(ValueError, match="hidden 8 there, 9 here") as err:
        RemovalPolicy(hidden=9).load_policy(path)
    assert "\n" not in str(err.value)
    # Weights saved without their description (before feature version 2): refused.
    old = tmp_path / "old" / "removal.weights.h5"
    old.parent.mkdir()
    old.write_bytes(path.read_bytes())
    with pytest.raises(ValueError, match="before feature version 2") as err:
        RemovalPolicy(hidden=8).load_policy(old)
    assert "\n" not in str(err.value)


def test_a_layers_features_do_not_depend_on_the_teachers_depth():
    # The same block in ResNet-20 and ResNet-56 reads the same, but for its depth fraction.
    small = graph.inspect(models.build("resnet20", (32, 32, 3), 10, width=0.25)).layers
    deep = graph.inspect(models.build("resnet56", (32, 32, 3), 10, width=0.25)).layers
    depth = list(FEATURE_NAMES).index("depth_fraction")
    a, b = features(small)[0], features(deep)[0]
    for name in ("stem_conv", "stage1_block1_conv1", "stage2_block1_conv1"):
        i = [layer.name for layer in small].index(name)
        j = [layer.name for layer in deep].index(name)
        keep = [k for k in range(len(FEATURE_NAMES)) if k != depth]
        np.testing.assert_allclose(a[i, keep], b[j, keep], atol=1e-6)


def test_reinforce_moves_probability_towards_rewarded_actions(spec):
    keras.utils.set_random_seed(0)
    policy = RemovalPolicy(hidden=8, init_keep_logit=0.0)
    opt = keras.optimizers.Adam(0.05)
    feats = features(spec.layers)
    free = [layer.removable for layer in spec.layers]
    keep_all = np.ones(len(free), np.float32)
    remove_all = np.where(free, 0.0, 1.0).astype(np.float32)
    before = float(policy.log_prob(feats, keep_all, free))
    for _ in range(10):
        reinforce_update(
            policy,
            opt,
            lambda: policy.log_probs(feats, [keep_all, remove_all], free),
            [1.0, -1.0],
        )
    assert float(policy.log_prob(feats, keep_all, free)) > before


@pytest.mark.parametrize(
    ("params", "acc", "violated", "update", "expected"),
    [
        (100, 0.9, False, 0, 0.99),  # C = 0.9 -> C(2-C) = 0.99
        (500, 0.45, False, 0, 0.75 * 0.5),  # C=0.5 -> 0.75, half the accuracy
        (1000, 0.9, False, 0, -1.0),  # not smaller than the teacher
        (1500, 0.9, False, 0, -1.0),
        (100, 0.9, True, 0, 0.99),  # eps = 1 at update 0: no penalty yet
        (100, 0.9, True, 15, -1.0),  # eps = 0 after 15 updates: exactly -1
        (100, 0.9, True, 30, -1.0),
    ],
)
def test_reward_table(params, acc, violated, update, expected):
    assert reward(params, 1000, acc, 0.9, violated, update) == pytest.approx(expected)


def test_constraint_annealing_schedule():
    assert anneal(0) == 1.0 and anneal(15) == 0.0 and anneal(100) == 0.0
    eps = anneal(5)
    assert eps == pytest.approx((1 - 5 / 15) ** 4)
    r = 0.99
    assert reward(100, 1000, 0.9, 0.9, True, 5) == pytest.approx((eps - 1) + eps * r)
    with pytest.raises(ValueError, match="positive"):
        reward(1, 0, 0.5, 0.5)


def test_constraints_report_what_is_violated():
    c = Constraints(max_params=1000, max_flops=10, min_accuracy=0.9, max_tflite_bytes=4000)
    assert c.violated(500, 5, 0.95, 500) == []
    assert c.violated(2000, 50, 0.5, 2000) == [
        "max_params",
        "max_flops",
        "min_accuracy",
        "max_tflite_bytes",
    ]


def test_baseline_advantages_use_each_rollouts_own_reward():
    b = Baseline(decay=0.5)
    np.testing.assert_allclose(b.advantages([1.0, 0.0, -1.0]), [1.0, 0.0, -1.0])
    assert b.update([1.0, 0.0, -1.0]) == 0.0
    assert b.update([1.0, 1.0]) == 0.5
    np.testing.assert_allclose(b.advantages([1.0, 0.0]), [0.5, -0.5])
    with pytest.raises(ValueError, match="decay"):
        Baseline(decay=1.0)


# ------------------------------------------------- rebuild failures inside a search
class _FakeTrainer:
    """Stands in for distillation: every student it is given reaches 50% accuracy."""

    def __init__(self, *args, **kwargs):
        self.fitted = []

    def evaluate(self, models_, data):
        return [0.9 for _ in models_]

    def fit(self, students, data, seed=None):
        from n2n_tf.distill.trainer import StudentResult

        self.fitted.append(len(students))
        return [StudentResult(val_accuracy=0.5, steps=1) for _ in students]


def test_a_failing_rebuild_scores_minus_one_is_logged_once_and_the_search_goes_on(
    monkeypatch, caplog
):
    from types import SimpleNamespace

    from n2n_tf.config import load_config
    from n2n_tf.search import environment
    from n2n_tf.types import Architecture

    monkeypatch.setattr(environment, "Trainer", _FakeTrainer)
    real_rebuild = graph.rebuild

    def flaky_rebuild(teacher, arch, **kwargs):
        if "block3_conv1" in arch.factors:
            raise RuntimeError("injected failure")
        return real_rebuild(teacher, arch, **kwargs)

    monkeypatch.setattr(graph, "rebuild", flaky_rebuild)
    teacher = models.build("vgg11", (32, 32, 3), 10, width=0.25)
    env = environment.Environment(teacher, SimpleNamespace(val=None), load_config(None))
    good = Architecture(factors={"block2_conv1": 0.5})
    bad = Architecture(factors={"block3_conv1": 0.5})
    with caplog.at_level("WARNING", logger="n2n_tf.search.environment"):
        first = env.score([bad, good], update=0, seed=1)
        again = env.score([bad], update=1, seed=2)
    (bad_score, _), (good_score, _) = first
    assert bad_score.reward == -1.0 and not bad_score.valid
    assert "rebuild failed: RuntimeError: injected failure" in bad_score.reason
    assert good_score.valid and good_score.val_accuracy == 0.5
    assert env.trainer.fitted == [1] and env.trained == 1
    assert again[0][0].reward == -1.0 and again[0][1] is True
    assert sum("injected failure" in r.getMessage() for r in caplog.records) == 1


def test_compress_without_a_valid_student_stops_and_writes_no_student(tmp_path, monkeypatch):
    from n2n_tf import data
    from n2n_tf.config import load_config
    from n2n_tf.jobs.compress import compress

    def broken_rebuild(*args, **kwargs):
        raise RuntimeError("injected failure")

    monkeypatch.setattr(graph, "rebuild", broken_rebuild)
    keras.utils.set_random_seed(0)
    config = load_config(
        None,
        [
            "search.rollouts=2",
            "search.removal_updates=1",
            "search.shrink_updates=1",
            "search.hidden=4",
            "search.random_baseline=false",
        ],
    )
    datasets = data.load("digits", batch_size=128)
    teacher = models.build("lenet5", (8, 8, 1), 10)
    with pytest.raises(ValueError, match="No valid student was found.*rebuild failed"):
        compress(teacher, datasets, config, out=tmp_path / "run", formats=(), force=True)
    assert not (tmp_path / "run" / "students").exists()
    assert not (tmp_path / "run" / "final").exists()
