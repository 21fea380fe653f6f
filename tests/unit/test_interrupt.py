"""Ctrl-C inside deferred_interrupts waits for a safe point; a second one does not."""

import os
import signal

import pytest

from n2n_tf.interrupt import check, deferred_interrupts


def _ctrl_c():
    os.kill(os.getpid(), signal.SIGINT)


def test_first_ctrl_c_waits_for_check():
    reached = []
    with pytest.raises(KeyboardInterrupt), deferred_interrupts():
        _ctrl_c()
        reached.append("after the signal")  # not interrupted here
        check()
        reached.append("after check")
    assert reached == ["after the signal"]
    check()  # the request was consumed; nothing pending


def test_second_ctrl_c_interrupts_at_once():
    with pytest.raises(KeyboardInterrupt), deferred_interrupts():
        _ctrl_c()
        _ctrl_c()
        pytest.fail("the second Ctrl-C should have interrupted")


def test_request_without_check_raises_at_the_end_and_handler_is_restored():
    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt), deferred_interrupts():
        _ctrl_c()
    assert signal.getsignal(signal.SIGINT) is before
    with deferred_interrupts():
        pass  # no request: nothing raised


def test_trainer_stops_between_chunks():
    import keras

    from n2n_tf import data, graph, models
    from n2n_tf.config import DistillConfig
    from n2n_tf.distill import Trainer
    from n2n_tf.types import Architecture

    ds = data.load("digits", batch_size=32)
    keras.utils.set_random_seed(0)
    teacher = models.build("lenet5", (8, 8, 1), 10)
    student = graph.rebuild(teacher, Architecture(factors={"fc1": 0.5}))
    before = [w.copy() for w in student.get_weights()]
    trainer = Trainer(teacher, DistillConfig(epochs=3, steps_per_execution=4))
    with pytest.raises(KeyboardInterrupt), deferred_interrupts():
        _ctrl_c()
        trainer.fit([student], ds)
    # stopped before the first chunk: the student was not touched
    for a, b in zip(before, student.get_weights(), strict=True):
        assert (a == b).all()
