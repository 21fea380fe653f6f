import keras
import numpy as np
import pytest
import tensorflow as tf

from n2n_tf import data, graph, models
from n2n_tf.config import DistillConfig, RuntimeConfig
from n2n_tf.distill import Trainer, distillation_loss, hinton_kd, mse_logits
from n2n_tf.types import Architecture


def test_losses_table():
    s = tf.constant([[1.0, 2.0, 3.0]])
    t = tf.constant([[1.0, 2.0, 5.0]])
    np.testing.assert_allclose(mse_logits(s, t).numpy(), [4.0 / 3.0])
    assert float(hinton_kd(t, t, 2.0)[0]) == pytest.approx(0.0, abs=1e-6)
    kd = float(hinton_kd(s, t, 1.0)[0])
    p, q = tf.nn.softmax(t)[0].numpy(), tf.nn.softmax(s)[0].numpy()
    assert kd == pytest.approx(float(np.sum(p * np.log(p / q))), rel=1e-5)
    # T^2 scaling keeps gradients comparable across temperatures.
    assert float(hinton_kd(s, t, 4.0)[0]) == pytest.approx(
        16
        * float(
            tf.reduce_sum(
                tf.nn.softmax(t / 4) * (tf.nn.log_softmax(t / 4) - tf.nn.log_softmax(s / 4))
            )
        ),
        rel=1e-5,
    )
    labels = tf.constant([2])
    ce = float(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=s)[0])
    mixed = float(distillation_loss(s, t, labels, "mse", alpha=0.25)[0])
    assert mixed == pytest.approx(0.75 * 4.0 / 3.0 + 0.25 * ce, rel=1e-6)
    with pytest.raises(ValueError, match="Unknown distillation loss"):
        distillation_loss(s, t, labels, "l1")


@pytest.fixture(scope="module")
def setup():
    keras.utils.set_random_seed(0)
    ds = data.load("mnist5k", batch_size=64)
    teacher = models.build("lenet5", (28, 28, 1), 10)
    teacher.compile(
        optimizer=keras.optimizers.Adam(2e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    teacher.fit(ds.train, epochs=3, verbose=0)
    return teacher, ds


def students(teacher, n=2):
    arch = Architecture(factors={"conv2": 0.5, "fc1": 0.5, "fc2": 0.5})
    return [graph.rebuild(teacher, arch) for _ in range(n)]


def test_cache_and_no_cache_reach_the_same_accuracy(setup):
    teacher, ds = setup
    cached = Trainer(teacher, DistillConfig(epochs=3, cache="memory"))
    plain = Trainer(teacher, DistillConfig(epochs=3, cache="off"))
    a = cached.fit(students(teacher, 1), ds)[0]
    b = plain.fit(students(teacher, 1), ds)[0]
    assert not a.failed and not b.failed
    assert a.val_accuracy > 0.9 and b.val_accuracy > 0.9
    assert abs(a.val_accuracy - b.val_accuracy) <= 0.01
    # The teacher ran once per training example for the cache, whatever the epochs.
    assert cached.cache.teacher_batches == int(np.ceil(ds.info.split_sizes["train"] / 64))
    assert plain.cache.teacher_batches == 0


def test_disk_cache_matches_memory_cache(setup, tmp_path):
    teacher, ds = setup
    trainer = Trainer(teacher, DistillConfig(epochs=1, cache="disk"))
    trainer.cache.directory = str(tmp_path)
    result = trainer.fit(students(teacher, 1), ds)[0]
    assert list(tmp_path.glob("logits*.npy"))
    assert result.val_accuracy > 0.8
    trainer.close()  # the files the cache created are removed
    assert not list(tmp_path.glob("*.npy"))


def test_nan_student_is_marked_failed_and_others_still_train(setup):
    teacher, ds = setup
    good, bad = students(teacher, 2)
    weights = bad.get_layer("logits").get_weights()
    weights[1][:] = np.inf
    bad.get_layer("logits").set_weights(weights)
    results = Trainer(teacher, DistillConfig(epochs=1)).fit([good, bad], ds)
    assert results[1].failed and "inf" in results[1].reason and results[1].steps == 1
    assert results[1].val_accuracy is None
    assert not results[0].failed and results[0].val_accuracy > 0.8
    assert results[0].steps == int(np.ceil(ds.info.split_sizes["train"] / 64))


def test_step_budget_and_fused_training_of_several_students(setup):
    teacher, ds = setup
    group = students(teacher, 3)
    before = [np.array(s.get_layer("fc1").kernel) for s in group]
    results = Trainer(teacher, DistillConfig(steps=7)).fit(group, ds)
    assert [r.steps for r in results] == [7, 7, 7]
    for s, b in zip(group, before, strict=True):
        assert not np.array_equal(np.array(s.get_layer("fc1").kernel), b)


def test_augmented_data_without_teacher_views_disables_the_cache(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    for c in ("a", "b"):
        (tmp_path / c).mkdir()
        for i in range(12):
            Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(
                tmp_path / c / f"{i}.png"
            )
    ds = data.load(f"folder:{tmp_path}", batch_size=8)
    assert ds.info.augment == "crop_flip"
    teacher = models.build("vgg11", (32, 32, 3), 2, width=0.125)
    trainer = Trainer(teacher, DistillConfig(epochs=1, cache="auto", teacher_views=0))
    result = trainer.fit([graph.rebuild(teacher, Architecture())], ds)[0]
    assert trainer.cache.teacher_batches == 0 and result.steps > 0 and not result.failed


def test_steps_per_execution_does_not_change_training(setup):
    """Running 1 or 32 fused steps per tf.function call gives the same weights."""
    teacher, ds = setup
    weights = []
    for chunk in (1, 5, 32):
        keras.utils.set_random_seed(1)
        (student,) = students(teacher, 1)
        config = DistillConfig(steps=12, steps_per_execution=chunk, cache="memory")
        result = Trainer(teacher, config).fit([student], ds, seed=2, evaluate=False)[0]
        assert result.steps == 12 and np.isfinite(result.loss)
        weights.append(student.get_weights())
    for other in weights[1:]:
        for a, b in zip(weights[0], other, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_nan_inside_a_chunk_stops_only_that_student(setup):
    teacher, ds = setup
    good, bad = students(teacher, 2)
    huge = bad.get_layer("logits").get_weights()
    huge[0][:] = 1e30  # finite weights whose squared logits overflow
    bad.get_layer("logits").set_weights(huge)
    config = DistillConfig(steps=10, steps_per_execution=10)
    results = Trainer(teacher, config).fit([good, bad], ds, evaluate=False)
    assert results[1].failed and not np.isfinite(results[1].loss)
    assert 1 <= results[1].steps <= 10 and "at step" in results[1].reason
    assert not results[0].failed and results[0].steps == 10 and np.isfinite(results[0].loss)


def test_mixed_precision_path_runs_on_cpu(setup):
    """The GPU path (float16 compute, float32 variables, Keras loss scaling), forced on CPU."""
    teacher, ds = setup
    (student,) = students(teacher, 1)
    trainer = Trainer(teacher, DistillConfig(epochs=1), mixed_precision=True)
    assert trainer.teacher.get_layer("conv1").compute_dtype == "float16"
    result = trainer.fit([student], ds)[0]
    assert not result.failed and result.val_accuracy > 0.8
    assert all(w.dtype == np.float32 for w in student.get_weights())
    assert isinstance(trainer._optimizer(10), keras.optimizers.LossScaleOptimizer)


def test_xla_step_matches_the_plain_step(setup):
    teacher, ds = setup
    weights = []
    for jit in (False, True):
        keras.utils.set_random_seed(1)
        (student,) = students(teacher, 1)
        config = DistillConfig(steps=4, cache="memory")
        runtime = RuntimeConfig(jit_compile=jit)
        Trainer(teacher, config, runtime).fit([student], ds, seed=2, evaluate=False)
        weights.append(student.get_weights())
    for a, b in zip(*weights, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4)
