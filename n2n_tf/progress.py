"""Progress events of long-running jobs, reported to an object instead of printed.

Library code never prints (DESIGN.md): the trainer, the teacher's training and
the search report what they are doing to a ``Progress``. The base class
ignores every event; the CLI passes one that draws progress bars and a line
per policy update (``n2n_tf.cli.progress``), and tests pass one that records.

Events:
    ``start(label, total)``: a training pass of ``total`` steps begins.
    ``advance(steps)``: ``steps`` more steps of the current pass are done.
    ``stop()``: the current pass ended (also after an early stop).
    ``update(info)``: one unit of the job finished: a policy update
    (``info["kind"] == "update"``) or an epoch (``"epoch"``); see
    ``search.loop.Search`` and ``teacher.train_teacher`` for the keys.
"""

from __future__ import annotations

from collections.abc import Mapping


class Progress:
    """Receives progress events; this base class ignores them all."""

    def start(self, label: str, total: int) -> None:
        """A training pass of ``total`` steps, described by ``label``, begins."""

    def advance(self, steps: int = 1) -> None:
        """``steps`` more steps of the current pass are done."""

    def stop(self) -> None:
        """The current pass ended."""

    def update(self, info: Mapping) -> None:
        """A policy update or an epoch finished; ``info`` holds plain numbers."""

    def labelled(self, label: str) -> Progress:
        """This progress, with ``label`` put before the label of every pass it starts."""
        return _Labelled(self, label)


class _Labelled(Progress):
    def __init__(self, inner: Progress, label: str):
        self.inner, self.label = inner, label

    def start(self, label: str, total: int) -> None:
        self.inner.start(f"{self.label}: {label}" if label else self.label, total)

    def advance(self, steps: int = 1) -> None:
        self.inner.advance(steps)

    def stop(self) -> None:
        self.inner.stop()

    def update(self, info: Mapping) -> None:
        self.inner.update(info)

    def labelled(self, label: str) -> Progress:
        return _Labelled(self.inner, label)


SILENT = Progress()
"""The progress that ignores everything (the default)."""

__all__ = ["SILENT", "Progress"]
