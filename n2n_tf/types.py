"""Plain values shared across modules (no TensorFlow, no Keras).

``search`` talks to ``graph`` only through ``Architecture``; ``graph.inspect``
describes a teacher with ``LayerSpec`` and ``ModelSpec``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field

FEATURE_NAMES = (
    "is_conv",
    "is_dense",
    "is_depthwise",
    "is_separable",
    "kernel",
    "stride",
    "padding_same",
    "log_outputs",
    "skip_start",
    "skip_end",
    "log_params",
    "flops_share",
    "depth_fraction",
    "log_in_spatial",
    "log_out_spatial",
)
"""One time step of the policies: the paper's (type, kernel, stride, padding,
outputs, skip-start, skip-end) plus normalised extras; every value is O(1)."""


@dataclass(frozen=True)
class LayerSpec:
    """One weight layer of a teacher as the policies see it.

    Attributes:
        name: the layer's name in the (flattened) teacher.
        kind: ``conv``, ``dense``, ``depthwise`` or ``separable``.
        features: ``len(FEATURE_NAMES)`` normalised numbers.
        removable: whether Stage 1 may remove it.
        shrinkable: whether Stage 2 may change its width (group leaders only).
        width: its number of outputs in the teacher.
        group: the channel group it belongs to (layers tied by Add share one).
        tied_to: the leader whose width factor this layer follows, if not itself.
        params: its trainable parameters in the teacher.
    """

    name: str
    kind: str
    features: tuple[float, ...]
    removable: bool
    shrinkable: bool
    width: int
    group: int
    tied_to: str | None = None
    params: int = 0


@dataclass(frozen=True)
class ModelSpec:
    """What ``graph.inspect`` finds in a teacher."""

    name: str
    layers: tuple[LayerSpec, ...]
    groups: Mapping[int, tuple[str, ...]]
    params: int
    flops: int
    input_shape: tuple[int, ...]
    num_outputs: int

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(layer.name for layer in self.layers)

    def layer(self, name: str) -> LayerSpec:
        for spec in self.layers:
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
