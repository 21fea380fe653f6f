"""Plain values shared across modules (no TensorFlow, no Keras).

``search`` talks to ``graph`` only through ``Architecture``; ``graph.inspect``
describes a teacher with ``LayerSpec`` and ``ModelSpec`` (structural facts; the
policies' features are computed from them in ``search.features``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field

EXPORT_FORMATS = ("keras", "saved_model", "tflite", "tflite-dynamic", "tflite-int8")
"""What ``export`` writes (``io.export``; the CLI's ``--format`` default)."""

DEFAULT_FACTORS = tuple(round(0.1 * i, 1) for i in range(1, 11))
"""Stage 2's width factors, 0.1 to 1.0 (``search.factors``)."""


@dataclass(frozen=True)
class LayerSpec:
    """One layer of a teacher: structural facts only (the search derives its features).

    Attributes:
        name: the layer's name in the (flattened) teacher.
        type: its class name (``Conv2D``, ``BatchNormalization``, ``Add``, ...).
        output_shape: its output shape without the batch axis.
        params: its trainable parameters in the teacher.
        flops: its multiply-adds in one forward pass (0 for layers without weights).
        removable: whether Stage 1 may remove it (weight layers only; BN and
            activations that follow a weight layer are removed with it).
        shrinkable: whether Stage 2 may set its width (one leader per channel group).
        group: the channel group of its output; layers of one group change width together.
        fixed_reason: why the search can neither remove it nor change its width
            (None when it can, directly or by following a layer that can).
        kind: ``conv``, ``dense``, ``depthwise`` or ``separable`` for weight layers
            (the search's time steps), None for other layers.
        width: its number of output channels.
        tied_to: the leader whose width factor this layer follows, if not itself.
        input_shape: the shape of its first input without the batch axis.
        kernel_size: the largest side of its kernel (1 without one).
        strides: its largest stride (1 without one).
        padding: its padding (``same``/``valid``), None without one.
        skip_start: it begins a branch that a residual merge joins.
        skip_end: it ends such a branch.
    """

    name: str
    type: str
    output_shape: tuple[int | None, ...]
    params: int
    flops: int
    removable: bool
    shrinkable: bool
    group: int
    fixed_reason: str | None = None
    kind: str | None = None
    width: int = 0
    tied_to: str | None = None
    input_shape: tuple[int | None, ...] = ()
    kernel_size: int = 1
    strides: int = 1
    padding: str | None = None
    skip_start: bool = False
    skip_end: bool = False


@dataclass(frozen=True)
class ModelSpec:
    """What ``graph.inspect`` finds in a teacher.

    Attributes:
        name: the model's name.
        layers: the weight layers (``kind`` set) in topological order: the
            search's time steps.
        all_layers: every layer (inputs excluded) in topological order.
        groups: per channel group, the names of the weight layers in it.
        params: total trainable parameters.
        flops: total multiply-adds of one forward pass.
        input_shape: the model's input shape without the batch axis.
        num_outputs: the size of its (first) output.
    """

    name: str
    all_layers: tuple[LayerSpec, ...]
    groups: Mapping[int, tuple[str, ...]]
    params: int
    flops: int
    input_shape: tuple[int, ...]
    num_outputs: int

    @property
    def layers(self) -> tuple[LayerSpec, ...]:
        """The weight layers: what the search may remove or shrink (its time steps)."""
        return tuple(layer for layer in self.all_layers if layer.kind is not None)

    @property
    def names(self) -> tuple[str, ...]:
        """Names of the weight layers, in order."""
        return tuple(layer.name for layer in self.layers)

    def layer(self, name: str) -> LayerSpec:
        """The facts of any layer (weight layer or not) by name."""
        for spec in self.all_layers:
            if spec.name == name:
                return spec
        raise KeyError(name)


@dataclass(frozen=True)
class Architecture:
    """A student described relative to its teacher, by layer names.

    Attributes:
        removed: names of weight layers to remove (with their BN/activation).
        factors: width factor per shrinkable layer name (missing means 1.0).
    """

    removed: frozenset[str] = frozenset()
    factors: Mapping[str, float] = field(default_factory=dict)

    @classmethod
    def identity(cls) -> Architecture:
        return cls()

    def factor(self, name: str) -> float:
        return float(self.factors.get(name, 1.0))

    def key(self) -> str:
        """A stable hash of the structure (the cache key of scored students)."""
        payload = {
            "removed": sorted(self.removed),
            "factors": {k: round(float(v), 6) for k, v in sorted(self.factors.items()) if v != 1.0},
        }
        return hashlib.sha1(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]

    def to_dict(self) -> dict:
        return {"removed": sorted(self.removed), "factors": dict(sorted(self.factors.items()))}

    @classmethod
    def from_dict(cls, data: Mapping) -> Architecture:
        return cls(frozenset(data.get("removed", ())), dict(data.get("factors", {})))
