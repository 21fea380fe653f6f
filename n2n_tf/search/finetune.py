"""The fine-tune and the measurements every final student gets: the compress job's
student, and every student a benchmark compares (so they are compared alike)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from n2n_tf import graph
from n2n_tf.data import Datasets
from n2n_tf.predictions import accuracies
from n2n_tf.search.reward import reward
from n2n_tf.search.screen import batchnorm_layers, refresh_batchnorm

SCREEN_BATCHES = 8  # training batches the statistics are re-estimated on


@dataclass
class Measured:
    """A fine-tuned student's figures.

    Attributes:
        params, flops: its size (multiply-adds).
        val_accuracy, test_accuracy: after the fine-tune (None when it failed).
        reward: the paper's reward against the teacher, on the validation split.
        epochs: fine-tune epochs asked for (a deadline may have cut them).
        seconds: the fine-tune's wall time (shared by students fitted together).
        failed, reason: the fine-tune diverged (NaN loss) and why.
    """

    params: int
    flops: int
    val_accuracy: float | None
    test_accuracy: float | None
    reward: float | None
    epochs: int
    seconds: float
    failed: bool = False
    reason: str = ""


def refresh_if_better(students, train: Datasets, val, current: dict, index: list) -> dict:
    """Re-estimates each student's BatchNorm statistics on a few training batches
    (``search.screen.refresh_batchnorm``) and keeps them where they score better on the
    validation split; returns ``{index: validation accuracy}`` of those kept.

    A short fine-tune at Keras' BatchNorm momentum (0.99) leaves much of the teacher's
    inherited statistics in a student whose activations no longer match them.
    """
    with_bn = [(i, s) for i, s in zip(index, students, strict=True) if batchnorm_layers(s)]
    if not with_bn:
        return {}
    batches = [x for x, _ in train.train_plain.take(SCREEN_BATCHES)]
    saved = {i: [v.numpy() for v in _statistics(s)] for i, s in with_bn}
    for _, student in with_bn:
        refresh_batchnorm(student, batches)
    after = accuracies([s for _, s in with_bn], val)
    kept = {}
    for (i, student), accuracy in zip(with_bn, after, strict=True):
        if accuracy > current[i]:
            kept[i] = accuracy
        else:
            for variable, value in zip(_statistics(student), saved[i], strict=True):
                variable.assign(value)
    return kept


def _statistics(model) -> list:
    return [
        v for layer in batchnorm_layers(model) for v in (layer.moving_mean, layer.moving_variance)
    ]


def finetune_and_measure(
    env, students, data, epochs: int, deadline: float | None = None, seed: int = 0
) -> list[Measured]:
    """Fine-tunes ``students`` together by distillation from ``env``'s teacher for whole
    epochs of ``data.train`` (``env``'s trainer), keeps re-estimated BatchNorm statistics
    where they do better on the validation split (``refresh_if_better``), then measures
    each on ``data.test``.

    Args:
        env: a ``search.Environment`` (its trainer, teacher size and accuracy).
        students: Keras models, trained in place.
        deadline: ``perf_counter`` time the fine-tune stops by (a ``--budget``).
        seed: the fine-tune's shuffling and augmentation seed.
    """
    start = time.perf_counter()
    # steps=0: whole epochs (distill.steps is the scoring budget of one student).
    fits = env.trainer.fit(students, data, epochs=epochs, steps=0, seed=seed, deadline=deadline)
    ok = [i for i, fit in enumerate(fits) if not fit.failed]
    vals = {i: fits[i].val_accuracy for i in ok}
    vals |= refresh_if_better([students[i] for i in ok], env.data, data.val, vals, ok)
    seconds = time.perf_counter() - start
    tests = dict(zip(ok, env.trainer.evaluate([students[i] for i in ok], data.test), strict=True))
    out = []
    for i, (student, fit) in enumerate(zip(students, fits, strict=True)):
        params = graph.count_params(student)
        val = vals.get(i)
        out.append(
            Measured(
                params=params,
                flops=graph.count_flops(student),
                val_accuracy=val,
                test_accuracy=tests.get(i),
                reward=None
                if val is None
                else reward(params, env.teacher_params, val, env.teacher_accuracy),
                epochs=epochs,
                seconds=seconds,
                failed=fit.failed,
                reason=fit.reason,
            )
        )
    return out


__all__ = ["Measured", "finetune_and_measure"]
