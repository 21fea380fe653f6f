"""Keeps TensorFlow's native log lines off the console (no TensorFlow import here).

TensorFlow, XLA and the TFLite converter write from C++ straight to file
descriptor 2, part of it before absl's logging is initialised and so whatever
``TF_CPP_MIN_LOG_LEVEL`` says: ``failed call to cuInit`` on every CPU machine,
``Ignored output_format``, ``fully_quantize: 0, ...``. None of it means anything
is wrong. ``filter_native_stderr`` sends descriptor 2 through a pipe that drops
those lines and passes everything else on, while Python's own ``sys.stderr``
(logging, progress bars, errors) keeps writing to the terminal directly.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import re
import sys
import tempfile
import threading

logger = logging.getLogger(__name__)

NATIVE_LINE = re.compile(
    rb"^(?:"
    rb"[IWEF]\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ [\w./-]+:\d+\]"  # absl: I0000 00:00:17.1 7 x.cc:12]
    rb"|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [IWEF] "  # TF's own: 2026-01-01 00:00:00.0: E
    rb"|WARNING: All log messages before absl::InitializeLog\(\) is called"
    rb"|fully_quantize: \d+, inference_type: "  # the TFLite calibrator's summary
    rb"|To enable the following instructions: "  # the second line of cpu_feature_guard
    rb")"
)
"""A native log line (matched on its bytes, at the start of the line)."""

_installed: dict = {}


def quiet_environment(verbose: bool) -> None:
    """Sets what TensorFlow reads when it is imported: all native logs with ``verbose``,
    none below FATAL without."""
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "0" if verbose else "3"


def _write_all(fd: int, data: bytes) -> None:
    while data:
        data = data[os.write(fd, data) :]


def _forward(read_fd: int, out_fd: int) -> None:
    pending = b""
    while True:
        chunk = os.read(read_fd, 65536)
        if not chunk:
            break
        lines = (pending + chunk).split(b"\n")
        pending = lines.pop()
        kept = b"".join(line + b"\n" for line in lines if not NATIVE_LINE.match(line))
        _write_all(out_fd, kept)
    if pending and not NATIVE_LINE.match(pending):
        _write_all(out_fd, pending)
    os.close(read_fd)


def filter_native_stderr() -> None:
    """Drops native log lines from descriptor 2 for the rest of the process (idempotent).

    ``sys.stderr`` is re-opened on a copy of the original descriptor, so Python's
    output is unchanged (a terminal stays a terminal for progress bars); only
    what C++ code writes to descriptor 2 goes through the filter. At exit the
    original descriptor is put back and the filter drains.
    """
    if _installed:
        return
    try:
        sys.stderr.flush()
        original = os.dup(2)
        read_fd, write_fd = os.pipe()
    except (OSError, ValueError):  # no descriptor 2 (a service): nothing to filter
        return
    sys.stderr = open(  # noqa: SIM115 - lives as long as the process
        original, "w", buffering=1, encoding="utf-8", errors="backslashreplace", closefd=False
    )
    os.dup2(write_fd, 2)
    os.close(write_fd)
    thread = threading.Thread(target=_forward, args=(read_fd, original), daemon=True)
    thread.start()
    _installed.update(original=original, thread=thread)
    atexit.register(_restore)


def _restore() -> None:
    if not _installed:
        return
    with contextlib.suppress(OSError, ValueError):
        sys.stderr.flush()
    os.dup2(_installed["original"], 2)  # closes the pipe's last writer: the filter drains
    _installed["thread"].join(timeout=2.0)
    _installed.clear()


@contextlib.contextmanager
def captured_native_output(what: str):
    """Descriptor 2 goes to a temporary file inside the block (the TFLite converter's
    chatter); what was captured is logged at DEBUG, and kept in an error raised inside.

    Args:
        what: names the work in the debug log (``converting to TFLite``).
    """
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):
        yield
        return
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        except Exception as err:
            os.dup2(saved, 2)
            sink.seek(0)
            text = sink.read().decode("utf-8", "backslashreplace").strip()
            if text:
                err.add_note(f"Native output while {what}:\n{text[-2000:]}")
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        sink.seek(0)
        text = sink.read().decode("utf-8", "backslashreplace").strip()
        if text:
            logger.debug("Native output while %s:\n%s", what, text)


__all__ = ["NATIVE_LINE", "captured_native_output", "filter_native_stderr", "quiet_environment"]
