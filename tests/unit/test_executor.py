"""The local executor: a student scores the same alone as among others (what lets the Ray
executor spread an update's students over workers), and bad input gets one line."""

import keras
import numpy as np
import pytest

from n2n_tf import data, models
from n2n_tf.config import load_config
from n2n_tf.search.environment import Environment
from n2n_tf.search.executor import Job, LocalExecutor, build_student, make_executor, student_seed
from n2n_tf.search.ray_executor import check_address
from n2n_tf.types import Architecture

# From scratch (search.inherit=false): every weight is drawn, so seeds matter everywhere.
CONFIG = ["distill.epochs=1", "data.batch_size=128", "search.inherit=false"]


@pytest.fixture(scope="module")
def env():
    keras.utils.set_random_seed(0)
    teacher = models.build("lenet5", (8, 8, 1), 10)
    return Environment(teacher, data.load("digits", batch_size=128), load_config(None, CONFIG))


def job(**factors):
    arch = Architecture(factors=factors)
    return Job(arch.key(), arch.to_dict())


def test_a_student_is_built_alike_alone_and_after_others(env):
    a, b = job(fc1=0.5), job(conv1=0.5, fc1=0.25)
    alone = build_student(env, b, seed=7)
    build_student(env, a, seed=7)  # the global RNG moves on
    after = build_student(env, b, seed=7)
    for x, y in zip(alone.get_weights(), after.get_weights(), strict=True):
        np.testing.assert_array_equal(x, y)
    other = build_student(env, b, seed=8)
    assert not np.array_equal(other.get_weights()[0], alone.get_weights()[0])
    assert student_seed(7, a.key) != student_seed(7, b.key)


def test_a_student_distils_to_the_same_accuracy_alone_or_in_a_group(env):
    jobs = [job(fc1=0.5), job(conv1=0.5, fc1=0.25), job(conv2=0.5)]
    executor = LocalExecutor()
    together = executor.distill(env, jobs, seed=3)
    split = executor.distill(env, jobs[:1], seed=3) + executor.distill(env, jobs[1:], seed=3)
    # Equal up to float noise: a fused group computes each student's gradients in another
    # graph, and Adam's first steps turn ~1e-12 differences of near-zero gradients into
    # +-lr (measured: weights 0.005 apart after one epoch; one validation image in 144).
    images = 2 / data.load("digits", batch_size=128).info.split_sizes["val"]
    assert [o.accuracy for o in together] == pytest.approx(
        [o.accuracy for o in split], abs=images + 1e-9
    )
    assert all(o.error is None and not o.failed and o.all_params > 0 for o in together)
    assert [c["jobs"] for c in executor.calls[-3:]] == [3, 1, 2]


def test_an_unknown_executor_and_a_bad_address_get_one_line():
    config = load_config(None, [])
    runtime = type(config.runtime)(executor="spark")
    with pytest.raises(ValueError, match="executor='spark'"):
        make_executor(runtime)
    with pytest.raises(ValueError, match="must be one of: local, ray"):
        load_config(None, ["runtime.executor=spark"])
    with pytest.raises(ValueError, match=r"No Ray cluster answers at 127\.0\.0\.1:9"):
        check_address("127.0.0.1:9")
    with pytest.raises(ValueError, match="HOST:PORT"):
        check_address("nohost")
