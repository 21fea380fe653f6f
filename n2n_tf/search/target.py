"""A size target the policy cannot break (``--target-params``, ``--target-flops``).

Every sampled architecture is projected onto the target before it is built
(AMC's action wall): when it is larger, every kept layer's width is scaled by
one common multiplier, the largest that meets the target (bisection on
``graph.estimate``). The policy decides the shape (what to remove, which
layers to keep wider than others); the wall decides the size. Under a target
the reward is the accuracy ratio to the teacher (``search.reward``).

A target is a number (``250000``, ``2.5e5``) or a ratio to the teacher
(``4x``: a quarter of the teacher's parameters or multiply-adds).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from n2n_tf import graph
from n2n_tf.types import Architecture, ModelSpec

MIN_FACTOR = 0.02  # the narrowest a projected layer gets (of its teacher width)
STEPS = 14  # bisection steps (the multiplier to about 1e-4)


def number_or_ratio(text: str, teacher_value: float) -> float:
    """``"4x"`` -> ``teacher_value / 4``, ``"250"`` -> 250.0; -1.0 for anything else."""
    ratio = re.fullmatch(r"(\d+(?:\.\d+)?)\s*x", text.strip().lower())
    try:
        return teacher_value / float(ratio.group(1)) if ratio else float(text)
    except (ValueError, ZeroDivisionError):
        return -1.0


def parse_target(value, teacher_value: int, name: str) -> int | None:
    """``value`` as an absolute count: ``"4x"`` -> ``teacher_value / 4``; None stays None.

    Raises:
        ValueError: one line, for anything but a positive number or ratio, or a target
            not below the teacher's.
    """
    if value is None or value == "":
        return None
    target = number_or_ratio(str(value), teacher_value)
    if not (target > 0 and math.isfinite(target)):
        raise ValueError(
            f"search.{name} is a count (250000, 2.5e5) or a ratio to the teacher (4x). "
            f"Received: {name}={value!r}"
        )
    if target >= teacher_value:
        raise ValueError(
            f"search.{name} must be below the teacher's {teacher_value:,}. "
            f"Received: {name}={value!r} ({int(target):,})"
        )
    return int(target)


@dataclass(frozen=True)
class Target:
    """The resolved target (None: no bound on that measure)."""

    params: int | None = None
    flops: int | None = None

    def __bool__(self) -> bool:
        return self.params is not None or self.flops is not None

    @classmethod
    def of(cls, search_config, spec: ModelSpec) -> Target:
        """The config's ``target_params`` / ``target_flops`` against the teacher's size.

        Raises:
            ValueError: ``target_latency`` is set but was not turned into a multiply-add
                target (``search.latency.resolve_latency_target``, which ``compress``
                calls).
        """
        if search_config.target_latency is not None and search_config.target_flops is None:
            raise ValueError(
                "search.target_latency is held as a multiply-add target that "
                "n2n_tf.search.latency.resolve_latency_target measures: run it through "
                "`n2n-tf compress` / n2n_tf.compress, or resolve the config first. "
                f"Received: target_latency={search_config.target_latency!r}"
            )
        return cls(
            parse_target(search_config.target_params, spec.params, "target_params"),
            parse_target(search_config.target_flops, spec.flops, "target_flops"),
        )

    def met(self, params: int, flops: int) -> bool:
        return (self.params is None or params <= self.params) and (
            self.flops is None or flops <= self.flops
        )


def scaled(arch: Architecture, spec: ModelSpec, multiplier: float) -> Architecture:
    """``arch`` with the width of every kept shrinkable layer times ``multiplier``."""
    factors = {
        x.name: max(MIN_FACTOR, round(arch.factors.get(x.name, 1.0) * multiplier, 4))
        for x in spec.layers
        if x.shrinkable and x.name not in arch.removed
    }
    return Architecture(removed=arch.removed, factors={k: f for k, f in factors.items() if f < 1})


def project(teacher, spec: ModelSpec, arch: Architecture, target: Target, **options):
    """The architecture the wall lets through: ``arch`` when it meets ``target``, else
    ``arch`` narrowed uniformly to the largest multiplier that meets it (the narrowest
    allowed when none does: the search then sees it break the target).

    Raises:
        SurgeryError: ``arch`` itself cannot be built (as ``graph.estimate``).
    """
    if not target or target.met(*graph.estimate(teacher, arch, **options)):
        return arch
    lo, hi = 0.0, 1.0  # met at lo (or nothing is), not at hi
    best = scaled(arch, spec, MIN_FACTOR)
    for _ in range(STEPS):
        mid = (lo + hi) / 2
        candidate = scaled(arch, spec, mid)
        if target.met(*graph.estimate(teacher, candidate, **options)):
            lo, best = mid, candidate
        else:
            hi = mid
    return best


__all__ = ["MIN_FACTOR", "Target", "number_or_ratio", "parse_target", "project", "scaled"]
