"""Lazy attributes of a package (so that ``import n2n_tf`` and ``n2n-tf --help`` do not
start TensorFlow)."""

from __future__ import annotations

import importlib
from collections.abc import Callable


def lazy_getattr(package: str, table: dict) -> Callable[[str], object]:
    """A module ``__getattr__`` for ``table``: ``{name: module}`` (the same name there) or
    ``{name: (module, attribute)}``, imported on first use."""

    def attribute(name: str):
        target = table.get(name)
        if target is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module, attr = target if isinstance(target, tuple) else (target, name)
        return getattr(importlib.import_module(module), attr)

    return attribute
