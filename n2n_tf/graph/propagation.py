"""The cheap pass: an ``Architecture`` -> every student tensor's shape and kept teacher
channels, with parameters and FLOPs, or ``SurgeryError`` before any Keras object is built."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from n2n_tf.graph.channels import Desc
from n2n_tf.graph.errors import SurgeryError
from n2n_tf.graph.rules import FOLLOW, MERGE, OWN, Step
from n2n_tf.graph.structure import Structure, UnionFind
from n2n_tf.types import Architecture

Ranker = Callable[[int, int], np.ndarray]
"""``(group, k) -> the k teacher channels the group keeps`` (sorted)."""


@dataclass
class Propagation:
    """The outcome of one pass.

    Attributes:
        desc: every kept node's output tensor.
        alias: removed node -> the node whose output replaces it.
        widths: new width of every ``OWN`` layer.
        flops, params: totals of the student.
        layer_flops, layer_params: the same per node.
    """

    desc: dict[str, Desc]
    alias: dict[str, str]
    widths: dict[str, int]
    flops: int
    params: int
    layer_flops: dict[str, int]
    layer_params: dict[str, int]

    def resolve(self, name: str) -> str:
        return self.alias.get(name, name)


def _factors(structure: Structure, arch: Architecture) -> dict[int, float]:
    factors = {}
    for name, factor in arch.factors.items():
        if name not in structure.graph.nodes:
            raise SurgeryError(
                f"Architecture names layer `{name}` that the teacher does not have. "
                f"Received: factors[{name!r}]={factor}"
            )
        if factor != 1.0:
            if not structure.shrinkable(name):
                reason = structure.fixed.get(structure.group_of[name])
                leader = structure.leader(name)
                if reason is None and leader not in (None, name):
                    reason = f"it is tied to `{leader}`"
                raise SurgeryError(
                    f"Layer `{name}` cannot be shrunk ({reason or 'not a weight layer'}). "
                    f"Received: factors[{name!r}]={factor}"
                )
            if not 0.0 < factor <= 1.0:
                raise SurgeryError(
                    f"Width factors must be in (0, 1]. Received: factors[{name!r}]={factor}"
                )
            factors[structure.group_of[name]] = factor
    return factors


def _removed(structure: Structure, arch: Architecture) -> set[str]:
    removed: set[str] = set()
    for name in arch.removed:
        if name not in structure.graph.nodes:
            raise SurgeryError(
                f"Architecture removes layer `{name}` that the teacher does not have. "
                f"Received: removed={sorted(arch.removed)}"
            )
        if not structure.removals.removable(name):
            reason = structure.removals.removal_reason.get(name) or "not a weight layer"
            raise SurgeryError(
                f"Layer `{name}` may not be removed ({reason}). "
                f"Received: removed={sorted(arch.removed)}"
            )
        removed.add(name)
        removed.update(structure.removals.attached[name])
        removed.update(structure.removals.blocks.get(name, ()))
    return removed


def _collapse(structure: Structure, name: str, ins: list[str], removed: set[str]) -> list[str]:
    """Drops merge/concatenation inputs whose branch was removed entirely (block -> shortcut).

    Only a removed branch empties an input: an input that changed because of a
    removal further up (the previous block) is kept.
    """
    branches = structure.removals.branches.get(name)
    if not branches:
        return ins
    keep = [r for r, nodes in zip(ins, branches, strict=True) if not (nodes and nodes <= removed)]
    return keep or ins[:1]


def _resolve(alias: dict[str, str], name: str) -> str:
    while name in alias:
        name = alias[name]
    return name


def _kept_nodes(structure: Structure, removed: set[str], alias: dict[str, str]):
    """Yields ``(name, node, inputs)`` for every node the student keeps, in graph order,
    its inputs resolved past removed nodes; fills ``alias`` (removed or collapsed node ->
    the node whose output replaces it) on the way."""
    for name in structure.order:
        node = structure.graph.nodes[name]
        if name in removed:
            alias[name] = node.inputs[0][0]
            continue
        ins = [_resolve(alias, p) for p, _ in node.inputs]
        if name in structure.collapsible:
            ins = _collapse(structure, name, ins, removed)
            if len(ins) == 1:
                alias[name] = ins[0]
                continue
        yield name, node, ins


def _retied(structure: Structure, removed: set[str], teacher: Propagation) -> dict[int, list[int]]:
    """Channel groups that a removal ties together: merge inputs wired to other producers.

    In a cell whose branches meet at ``Add`` (NASNet), removing a branch's first
    layer feeds the merge from a tensor of another channel group, so the two
    groups must keep the same number of channels. Returns, per group tied to
    others, all groups of its tie (leader first, in graph order).
    """
    flows = structure.flows
    uf, space = UnionFind(), {}
    for name, _, ins in _kept_nodes(structure, removed, {}):
        if flows[name] == FOLLOW and ins:
            space[name] = space[ins[0]]
        elif flows[name] == MERGE and ins:
            channels = teacher.desc[name].shape[-1]
            tied = [p for p in ins if teacher.desc[p].shape[-1] == channels] or ins[:1]
            for p in tied[1:]:
                uf.union(space[tied[0]], space[p])
            space[name] = space[tied[0]]
        else:
            space[name] = structure.group_of[name]
    ties: dict[int, list[int]] = {}
    for group in sorted(set(space.values())):  # group ids follow the graph order
        ties.setdefault(uf.find(group), []).append(group)
    return {g: members for members in ties.values() if len(members) > 1 for g in members}


def _tied_widths(structure: Structure, factors: dict[int, float], ties) -> dict[int, int]:
    """The width of every group that a removal tied to others: one width for a whole tie.

    The leader's factor decides; a tie with a group that may not shrink (or
    whose channels cannot split alike) keeps its full width.
    """
    widths: dict[int, int] = {}
    for group, members in ties.items():
        if group in widths:
            continue
        owned = [g for g in members if g in structure.members]  # groups with weight layers
        shrink = (
            len(owned) == len(members)
            and not any(g in structure.fixed for g in members)
            and len({structure.full_width(g) for g in members}) == 1
        )
        k = structure.width(members[0], factors.get(members[0], 1.0)) if shrink else None
        if k is not None and any(k % structure.granularity.get(g, 1) for g in members):
            k = None
        for g in owned:
            widths[g] = k if k is not None else structure.full_width(g)
    return widths


def propagate(
    structure: Structure,
    arch: Architecture,
    ranker: Ranker | None = None,
    teacher: Propagation | None = None,
) -> Propagation:
    """Runs the shape/channel pass for ``arch``.

    Args:
        structure: the teacher's structure.
        arch: the student to describe.
        ranker: picks the channels a shrunk group keeps; None keeps the first
            ``k`` (enough for shapes, parameters and FLOPs).
        teacher: the teacher's own pass (None: this is the teacher's pass).

    Raises:
        SurgeryError: if the architecture does not give a valid model, or a
            student with more trainable parameters than the teacher.
    """
    factors = _factors(structure, arch)
    removed = _removed(structure, arch)
    tied = (
        _tied_widths(structure, factors, _retied(structure, removed, teacher))
        if (removed and teacher is not None)
        else {}
    )
    kept: dict[int, np.ndarray] = {}
    widths: dict[str, int] = {}
    desc: dict[str, Desc] = {}
    alias: dict[str, str] = {}
    layer_flops: dict[str, int] = {}
    layer_params: dict[str, int] = {}
    rules, flows = structure.rules, structure.flows
    total = 0

    for name, node, ins in _kept_nodes(structure, removed, alias):
        rule = rules[name]
        t_ins = t_out = None
        if teacher is not None:
            t_out = teacher.desc[name]
            t_ins = [teacher.desc[p] for p, _ in node.inputs]
        group = structure.group_of[name]
        layer = structure.layers.get(name)
        step = Step(name, node, layer, [desc[p] for p in ins], t_ins, t_out, group)
        if flows[name] == OWN:
            if group not in kept:
                factor = factors.get(group, 1.0)
                k = tied[group] if group in tied else structure.width(group, factor)
                factor = min(factor, k / structure.full_width(group))
                shrunk = factor < 1.0 and ranker is not None
                kept[group] = ranker(group, k) if shrunk else np.arange(k)
            step.kept = kept[group]
            step.width = widths[name] = len(kept[group])
        out = desc[name] = rule.output(step)
        if any(d is not None and d < 1 for d in out.shape):
            raise SurgeryError(
                f"Layer `{name}` would produce an empty tensor of shape {out.shape}. "
                f"Received: layer='{name}'"
            )
        layer_flops[name] = rule.flops(step, out) if rule.kind else 0
        layer_params[name] = rule.params(step, out) if step.layer is not None else 0
        total += layer_params[name]
        if teacher is not None and total > teacher.params:
            # Not a compression, and possibly too big to build: removing both convolutions
            # of a DenseNet layer doubles the channels of every later Concatenate.
            raise SurgeryError(
                f"The student would have more trainable parameters than the teacher "
                f"({teacher.params:,}) by layer `{name}` already. Received: "
                f"removed={sorted(arch.removed)}"
            )
    outputs = [_resolve(alias, n) for n, _ in structure.graph.outputs]
    if teacher is not None:
        for out, (t_name, _) in zip(outputs, structure.graph.outputs, strict=True):
            if desc[out].shape != teacher.desc[t_name].shape:
                raise SurgeryError(
                    f"The student's output would have shape {desc[out].shape} instead of "
                    f"{teacher.desc[t_name].shape}. Received: output='{t_name}'"
                )
    for n in list(alias):
        alias[n] = _resolve(alias, n)
    return Propagation(
        desc,
        alias,
        widths,
        int(sum(layer_flops.values())),
        int(sum(layer_params.values())),
        layer_flops,
        layer_params,
    )


__all__ = ["Propagation", "Ranker", "propagate"]
