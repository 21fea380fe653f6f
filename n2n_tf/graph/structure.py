"""``Structure``: a teacher's graph read through its rules, and its channel groups (no weights).

Channel groups are the tensors whose channels must shrink together (tied by
merges); a group may not shrink for a reason recorded in ``fixed``. What Stage 1
may remove is worked out in ``removal``.
"""

from __future__ import annotations

import math

import keras

from n2n_tf.graph.config_graph import Graph, input_shapes, layer_objects, read
from n2n_tf.graph.removal import Removals
from n2n_tf.graph.rules import (
    DERIVED,
    INPUT,
    INPUT_RULE,
    MERGE,
    OPAQUE,
    OWN,
    Rule,
    rule_for,
)


class UnionFind:
    """Disjoint sets of names (or ids): ``find`` a set's root, ``union`` two sets."""

    def __init__(self):
        self.parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[rb] = ra


class Structure:
    """The weight-independent surgery facts of one teacher graph.

    Args:
        teacher: a functional or Sequential Keras model.
        round_to: round shrunk widths to a multiple of this (1: no rounding).
        protect: layer names that are never removed.
        allow_downsampling_removal: let Stage 1 remove stride > 1 layers.

    Attributes:
        graph: the flat graph; ``order`` its node names in topological order.
        rules: the ``Rule`` of every node; ``flows`` its flow per node.
        weight_layers: nodes whose rule has a ``kind`` (the search's time steps).
        group_of: channel group of every node's output.
        members: per group, the ``OWN`` layers that produce its channels (leader first).
        fixed: per group that may not shrink, the reason.
        granularity: per group, the number of blocks its channels are kept in equally.
        removals: what Stage 1 may remove (``removal.Removals``).
    """

    def __init__(
        self,
        teacher: keras.Model,
        round_to: int = 1,
        protect: tuple[str, ...] = (),
        allow_downsampling_removal: bool = False,
    ):
        self.graph: Graph = read(teacher)
        self.round_to = max(1, int(round_to))
        self.order = list(self.graph.nodes)
        self.position = {name: i for i, name in enumerate(self.order)}
        self.consumers = self.graph.consumers()
        self.layers = layer_objects(teacher, self.graph)
        self.rules: dict[str, Rule] = {
            n: INPUT_RULE if node.class_name == "InputLayer" else rule_for(self.layers[n])
            for n, node in self.graph.nodes.items()
        }
        self.flows = {n: self.rules[n].flow_of(node) for n, node in self.graph.nodes.items()}
        self.collapsible = {
            n for n, node in self.graph.nodes.items() if self.rules[n].collapsible(node)
        }
        self.weight_layers = [n for n in self.order if self.rules[n].kind]
        self._ancestors()
        self._groups()
        self.removals = Removals(self, protect, allow_downsampling_removal)

    def node(self, name: str):
        return self.graph.nodes[name]

    # ----------------------------------------------------------------- groups
    def _ancestors(self) -> None:
        self.ancestors: dict[str, frozenset[str]] = {}
        for name in self.order:
            acc: set[str] = set()
            for producer, _ in self.graph.nodes[name].inputs:
                acc.add(producer)
                acc |= self.ancestors[producer]
            self.ancestors[name] = frozenset(acc)

    def _tied(self, name: str) -> tuple[list[str], list[str]]:
        """A merge's inputs split into those whose channels are tied and those broadcast."""
        node = self.graph.nodes[name]
        producers = [p for p, _ in node.inputs]
        shapes = input_shapes(node)
        if len(shapes) != len(producers) or any(not s or s[-1] is None for s in shapes):
            return producers, []
        channels = max(s[-1] for s in shapes)
        tied = [p for p, s in zip(producers, shapes, strict=True) if s[-1] == channels]
        return tied, [p for p in producers if p not in tied]

    def _groups(self) -> None:
        uf = UnionFind()
        space: dict[str, str] = {}
        loose: dict[str, str] = {}  # space -> reason (broadcast over channels)
        for name in self.order:
            node, flow = self.graph.nodes[name], self.flows[name]
            ins = [p for p, _ in node.inputs]
            if flow in (INPUT, OWN, OPAQUE, DERIVED) or not ins:
                space[name] = uf.find(name)
            elif flow == MERGE:
                tied, others = self._tied(name)
                for p in tied[1:]:
                    uf.union(space[tied[0]], space[p])
                for p in others:
                    loose[space[p]] = f"broadcast over the channels in `{name}`"
                space[name] = space[tied[0]]
            else:
                space[name] = space[ins[0]]
        roots = sorted({uf.find(s) for s in space.values()}, key=self.position.get)
        group_id = {root: i for i, root in enumerate(roots)}
        self.group_of = {n: group_id[uf.find(s)] for n, s in space.items()}
        self.members: dict[int, list[str]] = {}
        for name in self.order:
            if self.flows[name] == OWN:
                self.members.setdefault(self.group_of[name], []).append(name)
        self.fixed: dict[int, str] = {}
        for s, reason in loose.items():
            self._fix(group_id[uf.find(s)], reason)
        for name in self.order:
            node, rule = self.graph.nodes[name], self.rules[name]
            reason = rule.fixed_reason(node)
            if reason:
                self._fix(self.group_of[name], reason)
            reason = rule.input_reason(node)
            if reason:
                for p, _ in node.inputs:
                    self._fix(self.group_of[p], reason)
        for name, _ in self.graph.outputs:
            self._fix(self.group_of[name], "feeds the model output")
        self._granularity()
        self._derived()
        self.shrinkable_groups = {g for g in self.members if g not in self.fixed}

    def _fix(self, group: int, reason: str) -> bool:
        if group in self.fixed:
            return False
        self.fixed[group] = reason
        return True

    def _granularity(self) -> None:
        self.granularity: dict[int, int] = {}
        for group, names in self.members.items():
            gran = 1
            for name in names:
                gran = math.lcm(gran, self.rules[name].granularity(self.graph.nodes[name]))
            self.granularity[group] = gran
            full = self.full_width(group)
            if full % gran:
                self._fix(group, f"{full} channels do not split into {gran} groups")
            elif full // gran < 2:
                few = "too few channels" if gran == 1 else f"one channel per group ({gran} groups)"
                self._fix(group, few)

    def _derived(self) -> None:
        """A derived space (Flatten, Concatenate, x depth_multiplier) changes with its parents:
        whatever fixes it fixes them, and it may not be tied to a weight layer's channels."""
        by_root: dict[int, list[tuple[str, tuple[int, ...]]]] = {}
        for name in self.order:
            if self.flows[name] == DERIVED:
                parents = tuple(self.group_of[p] for p, _ in self.graph.nodes[name].inputs)
                by_root.setdefault(self.group_of[name], []).append((name, parents))
        changed = True
        while changed:
            changed = False
            for group, entries in by_root.items():
                reason = self.fixed.get(group)
                if group in self.members:
                    reason = f"its channels are tied to the derived channels of `{entries[0][0]}`"
                    changed |= self._fix(group, reason)
                elif len({parents for _, parents in entries}) > 1:
                    reason = "its derived channels are merged with others"
                if reason is None:
                    continue
                for name, parents in entries:
                    for parent in parents:
                        changed |= self._fix(parent, f"its channels reach `{name}` ({reason})")

    # --------------------------------------------------------------- widths
    def leader(self, name: str) -> str | None:
        members = self.members.get(self.group_of[name], [])
        return members[0] if members else None

    def shrinkable(self, name: str) -> bool:
        return self.group_of[name] in self.shrinkable_groups and self.leader(name) == name

    def full_width(self, group: int) -> int:
        leader = self.members[group][0]
        return int(self.graph.nodes[leader].config[self.rules[leader].width_key])

    def width(self, group: int, factor: float) -> int:
        """The number of channels a group keeps under a width factor."""
        full = self.full_width(group)
        if factor >= 1.0:
            return full
        k = max(1, int(round(factor * full)))
        if self.round_to > 1:
            k = min(full, max(self.round_to, int(round(k / self.round_to)) * self.round_to))
        gran = self.granularity.get(group, 1)
        return max(gran, k // gran * gran)


__all__ = ["Structure", "UnionFind"]
