"""TensorBoard scalars of a search, one point per policy update.

Written under ``<run>/tensorboard/`` so that ``tensorboard --logdir runs/``
shows every run; tags are ``<stage>/<name>`` (``removal/mean_reward``, ...),
steps count the stage's updates from 1.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import tensorflow as tf

SCALARS = (
    "mean_reward",
    "max_reward",
    "baseline",
    "entropy",
    "best_reward",
    "best_params",
    "best_accuracy",
    "students_trained",
    "students_screened",
    "seconds",
)
"""The keys of a policy update's progress ``info`` written as scalars."""


class ScalarWriter:
    """Appends scalars to a TensorBoard event file in ``logdir``.

    Args:
        logdir: the folder of the event files (created when missing).

    Example:
        >>> writer = ScalarWriter("runs/demo/tensorboard")
        >>> writer.write("removal", 1, {"mean_reward": 0.4})
    """

    def __init__(self, logdir: str | Path):
        self.logdir = Path(logdir)
        self.logdir.mkdir(parents=True, exist_ok=True)
        self._writer = tf.summary.create_file_writer(str(self.logdir))

    def write(self, prefix: str, step: int, values: Mapping[str, float | None]) -> None:
        """Writes ``prefix/name`` for every value that is a finite number, then flushes."""
        with self._writer.as_default(step=int(step)):
            for name, value in values.items():
                if value is None:
                    continue
                value = float(value)
                if value == value and abs(value) != float("inf"):
                    tf.summary.scalar(f"{prefix}/{name}", value)
        self._writer.flush()

    def close(self) -> None:
        self._writer.close()


def read_scalars(logdir: str | Path) -> dict[str, list[tuple[int, float]]]:
    """Every scalar in the event files under ``logdir``: ``{tag: [(step, value), ...]}``."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out: dict[str, list[tuple[int, float]]] = {}
    for path in sorted(Path(logdir).rglob("events.out.tfevents.*")):
        acc = EventAccumulator(str(path), size_guidance={"tensors": 0, "scalars": 0})
        acc.Reload()
        for tag in acc.Tags().get("tensors", []):
            for event in acc.Tensors(tag):
                value = float(tf.make_ndarray(event.tensor_proto))
                out.setdefault(tag, []).append((int(event.step), value))
    return out


__all__ = ["SCALARS", "ScalarWriter", "read_scalars"]
