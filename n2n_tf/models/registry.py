"""Name -> builder registry for the teacher zoo.

Architectures register themselves with :func:`register`; :func:`build` validates the
common arguments and calls the builder. Every builder has the signature
``builder(input_shape, num_classes, width=1.0) -> keras.Model``.
"""

from __future__ import annotations

import difflib
import inspect
import numbers
from collections.abc import Callable, Sequence
from typing import Any

import keras

Builder = Callable[..., keras.Model]

_REGISTRY: dict[str, Builder] = {}


def _normalize(name: str) -> str:
    """Canonical registry key: lower case, surrounding whitespace removed."""
    return name.strip().lower()


def register(name: str) -> Callable[[Builder], Builder]:
    """Decorator that adds a model builder to the zoo.

    Args:
        name: Architecture name, e.g. ``"resnet18"``. Stored in lower case.

    Returns:
        A decorator that registers the builder and returns it unchanged.

    Raises:
        ValueError: if ``name`` is empty or already registered.
    """
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"Expected `name` to be a non-empty string. Received: name={name!r}")
    key = _normalize(name)

    def decorator(builder: Builder) -> Builder:
        if key in _REGISTRY and _REGISTRY[key] is not builder:
            raise ValueError(
                f"Architecture `{key}` is already registered (by "
                f"{_REGISTRY[key].__module__}.{_REGISTRY[key].__qualname__}). "
                f"Received: name={name!r}"
            )
        _REGISTRY[key] = builder
        return builder

    return decorator


def available() -> list[str]:
    """Sorted names of all registered architectures."""
    return sorted(_REGISTRY)


def _lookup(arch: Any) -> Builder:
    if not isinstance(arch, str):
        raise ValueError(
            f"Expected `arch` to be a string naming an architecture. Received: arch={arch!r}"
        )
    key = _normalize(arch)
    if key not in _REGISTRY:
        # Accept "ResNet-18" / "vgg_16" spellings of registered names.
        key = key.replace("-", "").replace("_", "")
    if key in _REGISTRY:
        return _REGISTRY[key]
    names = available()
    matches = difflib.get_close_matches(key, names, n=1)
    hint = f" Did you mean `{matches[0]}`?" if matches else ""
    raise ValueError(
        f"Unknown architecture `{arch}`.{hint} Available: {', '.join(names)}. "
        f"Received: arch={arch!r}"
    )


def _check_input_shape(input_shape: Any) -> tuple[int, int, int]:
    message = (
        "Expected `input_shape` to be a sequence of 3 positive integers "
        "(height, width, channels). Received: input_shape={!r}"
    )
    if isinstance(input_shape, (str, bytes)) or not isinstance(input_shape, Sequence):
        raise ValueError(message.format(input_shape))
    if len(input_shape) != 3:
        raise ValueError(message.format(input_shape))
    dims = []
    for dim in input_shape:
        if isinstance(dim, bool) or not isinstance(dim, numbers.Integral) or dim < 1:
            raise ValueError(message.format(input_shape))
        dims.append(int(dim))
    return dims[0], dims[1], dims[2]


def _check_num_classes(num_classes: Any) -> int:
    if (
        isinstance(num_classes, bool)
        or not isinstance(num_classes, numbers.Integral)
        or num_classes < 2
    ):
        raise ValueError(
            f"Expected `num_classes` to be an integer >= 2. Received: num_classes={num_classes!r}"
        )
    return int(num_classes)


def _check_width(width: Any) -> float:
    if (
        isinstance(width, bool)
        or not isinstance(width, numbers.Real)
        or not float(width) > 0
        or float(width) == float("inf")
    ):
        raise ValueError(f"Expected `width` to be a finite number > 0. Received: width={width!r}")
    return float(width)


def build(
    name: str,
    input_shape: Sequence[int],
    num_classes: int,
    width: float = 1.0,
    **kwargs: Any,
) -> keras.Model:
    """Builds a zoo architecture as a Keras functional model that outputs logits.

    Args:
        name: Registered architecture name (see :func:`available`), case-insensitive.
        input_shape: ``(height, width, channels)`` of one example.
        num_classes: Number of output classes (>= 2); the size of the logits layer.
        width: Width multiplier applied to every hidden conv/dense layer (> 0).
        **kwargs: Extra keyword arguments forwarded to the builder, if it accepts them.

    Returns:
        A freshly initialised ``keras.Model`` mapping images to logits.

    Raises:
        ValueError: for an unknown ``name`` or an invalid ``input_shape``,
            ``num_classes`` or ``width``.
        TypeError: for keyword arguments the builder does not accept.
    """
    builder = _lookup(name)
    shape = _check_input_shape(input_shape)
    classes = _check_num_classes(num_classes)
    mult = _check_width(width)
    if kwargs:
        params = inspect.signature(builder).parameters
        takes_var_kw = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
        unknown = sorted(k for k in kwargs if k not in params)
        if unknown and not takes_var_kw:
            raise TypeError(
                f"Architecture `{_normalize(name)}` does not accept the keyword argument(s) "
                f"{', '.join(unknown)}. Received: kwargs={kwargs!r}"
            )
    return builder(shape, classes, width=mult, **kwargs)


def scaled(channels: int, width: float) -> int:
    """``channels * width`` rounded to the nearest integer, at least 1."""
    return max(1, int(round(channels * width)))
