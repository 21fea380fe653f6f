"""The N2N reward (Ashok et al., 2018, Sec. 3.3), with annealed constraints.

C   = 1 - params(student) / params(teacher)
R   = C (2 - C) * acc(student) / acc(teacher)
R   = -1 for an invalid student (does not build, or is not smaller)
R   = (eps - 1) + eps * R for a student that violates a constraint,
      eps = clip((1 - update / 15)^4, 0, 1): soft at first, -1 after 15 updates.
"""

from __future__ import annotations

from dataclasses import dataclass

INVALID = -1.0
ANNEAL_UPDATES = 15


@dataclass(frozen=True)
class Constraints:
    """Limits a student must meet (None: no limit).

    ``max_tflite_bytes`` is checked against the float32 TFLite size estimate
    (4 bytes per parameter, trainable and not).
    """

    max_params: float | None = None
    max_flops: float | None = None
    min_accuracy: float | None = None
    max_tflite_bytes: float | None = None

    def violated(self, params: int, flops: int, accuracy: float, all_params: int) -> list[str]:
        """Names of the constraints a student breaks."""
        broken = []
        if self.max_params is not None and params > self.max_params:
            broken.append("max_params")
        if self.max_flops is not None and flops > self.max_flops:
            broken.append("max_flops")
        if self.min_accuracy is not None and accuracy < self.min_accuracy:
            broken.append("min_accuracy")
        if self.max_tflite_bytes is not None and 4 * all_params > self.max_tflite_bytes:
            broken.append("max_tflite_bytes")
        return broken


def compression(student_params: int, teacher_params: int) -> float:
    """C = 1 - params(student) / params(teacher)."""
    return 1.0 - student_params / teacher_params


def anneal(update: int) -> float:
    """eps = clip((1 - update/15)^4, 0, 1)."""
    return min(max((1.0 - update / ANNEAL_UPDATES), 0.0), 1.0) ** 4


def reward(
    student_params: int,
    teacher_params: int,
    student_accuracy: float,
    teacher_accuracy: float,
    violated: bool = False,
    update: int = 0,
) -> float:
    """The reward of one scored student.

    Raises:
        ValueError: if the teacher's parameters or accuracy are not positive.
    """
    if teacher_params <= 0 or teacher_accuracy <= 0:
        raise ValueError(
            "The teacher needs positive parameters and accuracy. "
            f"Received: teacher_params={teacher_params}, teacher_accuracy={teacher_accuracy}"
        )
    c = compression(student_params, teacher_params)
    if c <= 0:
        return INVALID  # not smaller than its teacher
    r = c * (2.0 - c) * (student_accuracy / teacher_accuracy)
    if violated:
        eps = anneal(update)
        return (eps - 1.0) + eps * r
    return r
