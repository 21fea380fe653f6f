"""``analyse``: a teacher's ``Structure`` and its own pass, cached per model, options and rules.

Nothing cached here depends on the teacher's weights (channels are ranked from
the weights at each rebuild), so a teacher whose weights change is never
ranked by stale ones.
"""

from __future__ import annotations

import weakref

import keras

from n2n_tf.graph import rules
from n2n_tf.graph.errors import SurgeryError
from n2n_tf.graph.propagation import Propagation, Ranker, propagate
from n2n_tf.graph.structure import Structure
from n2n_tf.types import Architecture


class Analysis:
    """The weight-independent surgery facts of one teacher (options as in ``Structure``).

    A weight layer whose removal on its own is rejected by the pass (the shapes
    of a merge or squeeze-excite gate would no longer match, or the student
    would outgrow the teacher) is not offered for removal.
    """

    def __init__(self, teacher: keras.Model, **options):
        self.structure = Structure(teacher, **options)
        self.teacher_pass = propagate(self.structure, Architecture.identity())
        self._check_removals()

    def _check_removals(self) -> None:
        structure, removals = self.structure, self.structure.removals
        desc = self.teacher_pass.desc
        for name in structure.weight_layers:
            if not removals.removable(name) or name in removals.blocks:
                continue  # a block collapses to its shortcut, whose shape is the merge's
            end = (removals.attached[name] or [name])[-1]
            if desc[structure.node(name).inputs[0][0]].shape == desc[end].shape:
                continue  # nothing after it changes shape
            try:
                self.propagate(Architecture(removed=frozenset({name})))
            except SurgeryError as err:
                reason = str(err).split(" Received:")[0].rstrip(".")
                removals.removal_reason[name] = f"removing it alone fails: {reason}"

    def propagate(self, arch: Architecture, ranker: Ranker | None = None) -> Propagation:
        """The pass of a student (see ``propagation.propagate``)."""
        return propagate(self.structure, arch, ranker, self.teacher_pass)


_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def analyse(teacher: keras.Model, **options) -> Analysis:
    """The (cached) ``Analysis`` of a teacher; options as in ``Structure``."""
    key = (
        rules.base.VERSION,
        tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in options.items())),
    )
    per_model = _CACHE.setdefault(teacher, {})
    if key not in per_model:
        for old in [k for k in per_model if k[0] != key[0]]:
            del per_model[old]  # made before the registry changed
        per_model[key] = Analysis(teacher, **options)
    return per_model[key]


__all__ = ["Analysis", "analyse"]
