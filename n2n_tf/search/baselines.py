"""What a user would try by hand, as methods: one width for every layer.

- ``l1``: L1-norm uniform-ratio pruning. Every shrinkable layer keeps the same
  fraction of its channels, the ones whose teacher filters have the largest L1
  norm (``graph.rebuild`` ranks them), with the teacher's weights.
- ``uniform``: the same widths trained from scratch (no inherited weights).

A method turns a teacher and a size (a width factor, or a parameter count to
match) into an ``Architecture`` and says whether the student inherits the
teacher's weights. Adding one is a ``Method`` subclass plus ``register_method``.
Random search at equal cost is the search loop itself with ``RandomPolicy``
(``search.loop.random_search``). ``method_names`` lists what ``search.method``
(``n2n-tf compress --method``) can be: the two searches and every method here.
"""

from __future__ import annotations

import math

from n2n_tf import graph
from n2n_tf.types import Architecture, ModelSpec


def uniform_architecture(spec: ModelSpec, factor: float) -> Architecture:
    """Every shrinkable layer at ``factor`` of its width, nothing removed."""
    return Architecture(factors={x.name: factor for x in spec.layers if x.shrinkable})


def matching_factor(teacher, spec: ModelSpec, target_params: int, **options) -> float:
    """The uniform factor (4 decimals) whose student's parameter count is nearest
    ``target_params`` (bisection: widths are whole channels, so counts move in steps).

    Args:
        options: surgery options, as ``graph.estimate`` takes them (``round_to``).
    """

    def params(f: float) -> int:
        return graph.estimate(teacher, uniform_architecture(spec, f), **options)[0]

    lo, hi = 0.01, 1.0
    if params(lo) >= target_params:
        return lo
    for _ in range(25):  # params(lo) <= target < params(hi)
        mid = (lo + hi) / 2
        if params(mid) <= target_params:
            lo = mid
        else:
            hi = mid
    below, above = math.floor(lo * 1e4) / 1e4, math.ceil(hi * 1e4) / 1e4
    return min((below, above), key=lambda f: (abs(params(f) - target_params), f))


class Method:
    """A baseline: a student of a given size without a search.

    Attributes:
        name: what ``METHODS`` knows it by.
        inherit: whether the student starts from the teacher's weights.
    """

    name = ""
    inherit = True

    def architecture(self, teacher, spec: ModelSpec, factor: float) -> Architecture:
        """The student at width ``factor`` (see ``matching_factor`` for a size)."""
        raise NotImplementedError

    def at_size(self, teacher, spec: ModelSpec, target_params: int, **options) -> Architecture:
        """The student whose parameter count is nearest ``target_params``."""
        return self.architecture(
            teacher, spec, matching_factor(teacher, spec, target_params, **options)
        )

    def student(self, teacher, spec: ModelSpec, config, **options) -> Architecture:
        """The student a run's config asks for: at ``search.target_params`` (or the width
        that meets ``search.target_flops``) when set, else at ``search.max_params``, else
        at ``search.width``."""
        from n2n_tf.search.target import Target, project

        target = Target.of(config.search, spec)
        size = target.params or config.search.max_params
        if size:
            arch = self.at_size(teacher, spec, int(size), **options)
            if not target.flops:
                return arch
        if target.flops:  # the widest uniform width within the targets
            widest = project(teacher, spec, Architecture(), target, **options)
            return self.architecture(teacher, spec, min(widest.factors.values(), default=1.0))
        return self.architecture(teacher, spec, config.search.width)


class L1Pruning(Method):
    """L1-norm uniform-ratio pruning: the largest filters of every layer, inherited."""

    name = "l1"
    inherit = True

    def architecture(self, teacher, spec, factor):
        return uniform_architecture(spec, factor)


class UniformFromScratch(Method):
    """The same uniform widths, trained from a fresh initialisation."""

    name = "uniform"
    inherit = False

    def architecture(self, teacher, spec, factor):
        return uniform_architecture(spec, factor)


METHODS: dict[str, Method] = {}
"""Baseline methods by name."""


def register_method(method: Method) -> Method:
    """Makes a ``Method`` instance available by its ``name``."""
    if not isinstance(method, Method) or not method.name:
        raise ValueError(f"register_method needs a Method with a name. Received: {method!r}")
    METHODS[method.name] = method
    return method


register_method(L1Pruning())
register_method(UniformFromScratch())

SEARCHES = ("n2n", "random")
"""The methods that search (``search.stages`` with a policy, or random samples)."""


def method_names() -> tuple[str, ...]:
    """What ``search.method`` may name: the searches, then the registered methods."""
    return (*SEARCHES, *METHODS)


def check_method(name: str) -> str:
    """``name`` when ``search.method`` may name it.

    Raises:
        ValueError: one line naming the known methods.
    """
    if name not in method_names():
        raise ValueError(
            f"search.method must be one of: {', '.join(method_names())}. "
            f"Received: search.method={name!r}"
        )
    return name


__all__ = [
    "METHODS",
    "SEARCHES",
    "L1Pruning",
    "Method",
    "UniformFromScratch",
    "check_method",
    "matching_factor",
    "method_names",
    "register_method",
    "uniform_architecture",
]
