"""``Desc``: a student tensor relative to the teacher (shape, channel space, kept channels)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Desc:
    """A student tensor relative to the teacher.

    Attributes:
        shape: the tensor's shape without the batch axis.
        key: the teacher channel space its last axis indexes; two tensors with
            equal keys index the same teacher channels.
        idx: the teacher channels (of that space) it keeps, in order.
    """

    shape: tuple[int | None, ...]
    key: tuple
    idx: np.ndarray

    @property
    def channels(self) -> int:
        return int(self.shape[-1])


def same_channels(student: Desc, teacher: Desc) -> bool:
    """Whether the student tensor carries exactly the teacher tensor's channels."""
    return student.key == teacher.key and np.array_equal(student.idx, teacher.idx)


def take(array: np.ndarray, axis: int, student: Desc, teacher: Desc) -> np.ndarray | None:
    """Slices ``array`` along ``axis`` to the student's channels (None: other space)."""
    if student.key != teacher.key:
        return None
    if len(student.idx) == array.shape[axis] and np.array_equal(
        student.idx, np.arange(array.shape[axis])
    ):
        return array
    return np.take(array, student.idx, axis=axis)


def expand(idx: np.ndarray, multiplier: int) -> np.ndarray:
    """Channels ``c*m + j`` for every kept channel ``c`` (a depth multiplier ``m``)."""
    if multiplier == 1:
        return idx
    return (idx[:, None] * multiplier + np.arange(multiplier)[None, :]).reshape(-1)
