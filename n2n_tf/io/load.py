"""Loading Keras models from disk with clear errors."""

from __future__ import annotations

import logging
from pathlib import Path

import keras

logger = logging.getLogger(__name__)

SUPPORTED = "a .keras file (Keras 3), or a zoo name `zoo:NAME`"


def load_model(path: str, safe_mode: bool = True) -> keras.Model:
    """Loads a ``.keras`` model; ``zoo:NAME`` is not a file and is handled by the caller.

    Args:
        path: the file.
        safe_mode: refuse to run Python code stored in the file (Lambda layers).

    Raises:
        ValueError: the path does not exist, is not a supported format, or is corrupt.
    """
    p = Path(path)
    if not p.exists():
        raise ValueError(f"Model file not found. Expected {SUPPORTED}. Received: model='{path}'")
    if p.suffix != ".keras" or not p.is_file():
        raise ValueError(
            f"Unsupported model format `{p.suffix or 'directory'}`. Expected {SUPPORTED}. "
            f"Received: model='{path}'"
        )
    try:
        return keras.saving.load_model(p, safe_mode=safe_mode)
    except ValueError as err:
        if "safe_mode" in str(err) or "Lambda" in str(err):
            raise ValueError(
                f"Model `{path}` contains Python code (a Lambda layer); loading it would run "
                f"that code, so it is refused. Pass --unsafe (safe_mode=False) if you trust the "
                f"file. Received: model='{path}'"
            ) from err
        raise ValueError(f"Cannot read model `{path}`: {err}. Received: model='{path}'") from err
    except Exception as err:
        raise ValueError(
            f"Cannot read model `{path}`: the file is corrupt or not a Keras model "
            f"({type(err).__name__}). Received: model='{path}'"
        ) from err
