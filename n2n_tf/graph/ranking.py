"""Which channels a shrunk group keeps: the largest L1 norms of the teacher's current weights."""

from __future__ import annotations

import numpy as np

from n2n_tf.graph.errors import SurgeryError
from n2n_tf.graph.structure import Structure


class TeacherWeights:
    """The teacher's weights as numpy arrays, read at most once per layer (one per rebuild).

    Read at every rebuild rather than cached with the analysis, so a teacher
    whose weights changed is ranked and inherited by its current weights.
    """

    def __init__(self, structure: Structure):
        self.layers = structure.layers
        self._arrays: dict[str, list[np.ndarray]] = {}

    def arrays(self, name: str) -> list[np.ndarray]:
        if name not in self._arrays:
            self._arrays[name] = self.layers[name].get_weights()
        return self._arrays[name]

    def by_leaf(self, name: str) -> dict[str, np.ndarray]:
        """``{"kernel": array, "bias": array, ...}`` of one layer."""
        variables = self.layers[name].weights
        return {v.path.split("/")[-1]: a for v, a in zip(variables, self.arrays(name), strict=True)}


def group_scores(structure: Structure, group: int, weights: TeacherWeights) -> np.ndarray:
    """L1 norm per output channel, each layer's normalised by its mean, summed over the group."""
    total = None
    for name in structure.members[group]:
        score = structure.rules[name].scores(structure.node(name), weights.by_leaf(name))
        if score is None:
            continue
        score = score / (score.mean() + 1e-12)
        total = score if total is None else total + score
    if total is None:
        raise SurgeryError(f"Internal error: group {group} has no weights to rank channels by")
    return total


def kept_channels(structure: Structure, group: int, k: int, weights: TeacherWeights) -> np.ndarray:
    """The ``k`` channels of a group with the largest scores, in teacher order.

    A group of grouped convolutions keeps ``k / g`` channels in each of its ``g``
    contiguous blocks (its granularity).
    """
    scores = group_scores(structure, group, weights)
    blocks = structure.granularity.get(group, 1)
    size, per = len(scores) // blocks, k // blocks
    kept = [
        np.sort(np.argsort(-scores[b * size : (b + 1) * size], kind="stable")[:per]) + b * size
        for b in range(blocks)
    ]
    return np.concatenate(kept)


__all__ = ["TeacherWeights", "group_scores", "kept_channels"]
