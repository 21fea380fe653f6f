"""The fine-tune and the measurements every final student gets: the compress job's
student, and every student a benchmark compares (so they are compared alike)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from n2n_tf import graph
from n2n_tf.search.reward import reward


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


def finetune_and_measure(
    env, students, data, epochs: int, deadline: float | None = None, seed: int = 0
) -> list[Measured]:
    """Fine-tunes ``students`` together by distillation from ``env``'s teacher for whole
    epochs of ``data.train`` (``env``'s trainer), then measures each on ``data.test``.

    Args:
        env: a ``search.Environment`` (its trainer, teacher size and accuracy).
        students: Keras models, trained in place.
        deadline: ``perf_counter`` time the fine-tune stops by (a ``--budget``).
        seed: the fine-tune's shuffling and augmentation seed.
    """
    start = time.perf_counter()
    # steps=0: whole epochs (distill.steps is the scoring budget of one student).
    fits = env.trainer.fit(students, data, epochs=epochs, steps=0, seed=seed, deadline=deadline)
    seconds = time.perf_counter() - start
    ok = [i for i, fit in enumerate(fits) if not fit.failed]
    tests = dict(zip(ok, env.trainer.evaluate([students[i] for i in ok], data.test), strict=True))
    out = []
    for i, (student, fit) in enumerate(zip(students, fits, strict=True)):
        params = graph.count_params(student)
        val = None if fit.failed else fit.val_accuracy
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
