"""Ctrl-C that stops at a safe point instead of wherever TensorFlow happens to be.

A KeyboardInterrupt raised by the default SIGINT handler can land in the
middle of TensorFlow's own Python code (iterator teardown, a function call
half set up); now and then the process then died with a heap-corruption
abort instead of exiting cleanly. Inside ``deferred_interrupts()`` the first
Ctrl-C only records the request; the training loops call ``check()`` between
steps and raise KeyboardInterrupt there. A second Ctrl-C interrupts at once.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from collections.abc import Iterator

import keras

logger = logging.getLogger(__name__)

_requested = threading.Event()


@contextlib.contextmanager
def deferred_interrupts() -> Iterator[None]:
    """Defers Ctrl-C to the next ``check()`` (or the end of the block) in the main thread."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)

    def handler(signum, frame):
        if _requested.is_set():
            raise KeyboardInterrupt
        _requested.set()
        logger.warning("Stopping at the next safe point (Ctrl-C again to stop at once).")

    signal.signal(signal.SIGINT, handler)
    try:
        yield
        check()
    finally:
        signal.signal(signal.SIGINT, previous)
        _requested.clear()


def check() -> None:
    """Raises KeyboardInterrupt when Ctrl-C was pressed inside ``deferred_interrupts``."""
    if _requested.is_set():
        _requested.clear()
        raise KeyboardInterrupt


class InterruptCheck(keras.callbacks.Callback):
    """Calls ``check()`` after every training batch of a Keras ``fit``."""

    def on_train_batch_end(self, batch, logs=None):
        check()
