"""Live progress on the terminal: a bar per training pass, a line per update or epoch.

The library reports to a ``n2n_tf.progress.Progress``; ``live_progress`` gives
the commands one that draws with rich on stderr. When stderr is not a terminal
(a log file, a pipe, CI) it gives ``LineProgress``: the same line per update or
epoch, no bars, so a long job in a log still shows how far it is. ``--quiet``
gives the silent one.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator, Mapping

import click

from n2n_tf.progress import SILENT, Progress

quiet_option = click.option(
    "--quiet", "-q", is_flag=True, help="No progress bars or per-update lines."
)


def duration(seconds: float | None) -> str:
    """``75`` -> ``1:15``, ``3725`` -> ``1:02:05``."""
    if seconds is None or seconds != seconds:
        return "-"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def format_update(info: Mapping) -> str:
    """One line for a policy update (``kind="update"``) or an epoch (``kind="epoch"``)."""
    if info.get("kind") == "epoch":
        parts = [f"epoch {info['epoch']}/{info['epochs']}"]
        for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
            if key in info:
                value = info[key]
                parts.append(f"{key} {value:.2%}" if "accuracy" in key else f"{key} {value:.4f}")
        parts.append(f"{info['seconds']:.1f} s")
        if "eta" in info:
            parts.append(f"ETA {duration(info['eta'])} ({info['epochs_left']} epochs left)")
        return "  ".join(parts)
    best = "best -"
    if info.get("best_params") is not None:
        best = (
            f"best {info['best_reward']:.3f} ({info['best_params']:,} params, "
            f"acc {info['best_accuracy']:.2%})"
        )
    line = (
        f"{info['stage']:<7} {info['update']:>3}/{info['updates']:<3}  "
        f"reward mean {info['mean_reward']:.3f} max {info['max_reward']:.3f}  {best}  "
        f"{info['students_trained']} students  {info['seconds']:.1f} s/update  "
        f"ETA {duration(info['eta'])}  left {info['updates_left']} updates "
        f"({info['rollouts_left']} rollouts)"
    )
    if info.get("budget_left") is not None:
        line += f"  budget left {duration(info['budget_left'])}"
    return line


class LiveProgress(Progress):
    """Draws each training pass as a rich progress bar and prints a line per update."""

    def __init__(self, console):
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.progress import Progress as Bars

        self.console = console
        self.bars = Bars(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("steps"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=True,
        )
        self.task = None

    def __enter__(self) -> LiveProgress:
        self.bars.start()
        # Log lines go through rich's stderr proxy, above the bars instead of through them.
        self._handlers = []
        for handler in logging.getLogger().handlers:
            if isinstance(handler, logging.StreamHandler) and handler.stream in (
                sys.__stderr__,
                self.console.file,
            ):
                self._handlers.append((handler, handler.setStream(sys.stderr)))
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
        self.bars.stop()
        for handler, stream in self._handlers:
            handler.setStream(stream)

    def start(self, label: str, total: int) -> None:
        self.stop()
        self.task = self.bars.add_task(label, total=max(int(total), 1))

    def advance(self, steps: int = 1) -> None:
        if self.task is not None:
            self.bars.advance(self.task, steps)

    def stop(self) -> None:
        if self.task is not None:
            self.bars.remove_task(self.task)
            self.task = None

    def update(self, info: Mapping) -> None:
        self.console.print(format_update(info), highlight=False, markup=False)


class LineProgress(Progress):
    """A line per update or epoch on ``stream`` (stderr by default), no bars: for logs."""

    def __init__(self, stream=None):
        self.stream = stream

    def update(self, info: Mapping) -> None:
        click.echo(format_update(info), file=self.stream or sys.stderr)


def enabled(quiet: bool, stream=None) -> bool:
    """Live progress unless ``--quiet`` or the stream (stderr) is not a terminal."""
    stream = stream if stream is not None else sys.stderr
    return not quiet and bool(getattr(stream, "isatty", lambda: False)())


@contextlib.contextmanager
def live_progress(quiet: bool = False) -> Iterator[Progress]:
    """The ``Progress`` a command hands to its job: live on a terminal, a line per
    update or epoch elsewhere (``LineProgress``), silent with ``quiet``.

    ``quiet`` also hides the library's INFO log lines for the command's duration.
    """
    if quiet:
        logger = logging.getLogger("n2n_tf")
        level = logger.level
        logger.setLevel(logging.WARNING)
        try:
            yield SILENT
        finally:
            logger.setLevel(level)
        return
    if not enabled(quiet):
        yield LineProgress()
        return
    from rich.console import Console

    with LiveProgress(Console(stderr=True)) as progress:
        yield progress
