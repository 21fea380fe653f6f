"""``Removals``: what Stage 1 may remove, and what goes with it.

The BN/activation chain removed with a weight layer, residual blocks (and
squeeze-excite gates, DenseNet layers) removed as a unit through their first
weight layer, the inputs a merge drops when their branch is removed, and why
every other weight layer stays.
"""

from __future__ import annotations

from n2n_tf.graph.rules import as_tuple


class Removals:
    """Removal facts of a ``Structure`` (its graph, rules and ancestors must be read).

    Args:
        structure: the teacher's structure.
        protect: layer names that are never removed.
        allow_downsampling_removal: let Stage 1 remove stride > 1 layers.

    Attributes:
        attached: per weight layer, the BN/activation chain removed with it.
        blocks: per block's first weight layer, the nodes of the block.
        branches: per collapsible merge, the nodes of the branch behind each input.
        skip_start, skip_end: weight layers that begin/end a branch a merge joins.
        removal_reason: per weight layer, why it may not be removed (None: it may).
    """

    def __init__(self, structure, protect=(), allow_downsampling_removal: bool = False):
        self.graph = structure.graph
        self.order = structure.order
        self.position = structure.position
        self.rules = structure.rules
        self.ancestors = structure.ancestors
        self.consumers = structure.consumers
        self.collapsible = structure.collapsible
        self.weight_layers = structure.weight_layers
        self.protect = set(protect)
        self.allow_downsampling_removal = allow_downsampling_removal
        self._attachments()
        self._residuals()
        self._removal()

    def _attachments(self) -> None:
        """Per weight layer: the BN/activation chain removed with it."""
        self.attached: dict[str, list[str]] = {}
        for name in self.weight_layers:
            chain, current = [], name
            while len(self.consumers[current]) == 1:
                nxt = self.consumers[current][0]
                if not self.rules[nxt].attachable or len(self.graph.nodes[nxt].inputs) != 1:
                    break
                chain.append(nxt)
                current = nxt
            self.attached[name] = chain

    def _residuals(self) -> None:
        """Finds residual blocks: merges with one shortcut branch and one residual branch.

        A block is removed as a unit (it collapses to its shortcut, identity or
        projection; a squeeze-excite gate collapses to the feature map it
        scales; a DenseNet layer's Concatenate to its input), decided by its
        first weight layer; the shortcut's layers are never removed.
        """
        self.shortcut_layers: set[str] = set()
        self.skip_start: set[str] = set()
        self.skip_end: set[str] = set()
        self.blocks: dict[str, list[str]] = {}  # first weight layer -> branch nodes
        self.in_block: dict[str, str] = {}
        self.branches: dict[str, list[frozenset[str]]] = {}  # merge -> nodes per input
        for name in self.order:
            node = self.graph.nodes[name]
            if name not in self.collapsible:
                continue
            producers = [p for p, _ in node.inputs]
            common = set.intersection(*[set(self.ancestors[p]) | {p} for p in producers])
            if not common:
                continue
            branches = []
            for p in producers:
                nodes = sorted(
                    (a for a in (set(self.ancestors[p]) | {p}) if a not in common),
                    key=self.position.get,
                )
                weights = [n for n in nodes if self.rules[n].kind]
                branches.append((nodes, weights))
            self.branches[name] = [frozenset(nodes) for nodes, _ in branches]
            for _, weights in branches:
                if weights:
                    self.skip_start.add(weights[0])
                    self.skip_end.add(weights[-1])
            counts = [len(w) for _, w in branches]
            if len(branches) != 2 or counts.count(min(counts)) != 1:
                continue
            short = counts.index(min(counts))
            self.shortcut_layers |= set(branches[short][1])
            nodes, weights = branches[1 - short]
            single = all(len(self.graph.nodes[n].inputs) == 1 for n in nodes)
            if weights and single and not (set(nodes) & set(self.in_block)):
                self.blocks[weights[0]] = nodes
                for n in nodes:
                    self.in_block[n] = weights[0]

    def _heads(self) -> set[str]:
        """Weight layers that reach a model output without another weight layer."""
        heads, stack, seen = set(), [n for n, _ in self.graph.outputs], set()
        while stack:
            name = stack.pop()
            if name in seen:
                continue
            seen.add(name)
            if self.rules[name].kind:
                heads.add(name)
                continue
            stack += [p for p, _ in self.graph.nodes[name].inputs]
        return heads

    def _removal(self) -> None:
        """Why each weight layer may not be removed (None: Stage 1 may remove it)."""
        heads = self._heads()
        first = self.weight_layers[0] if self.weight_layers else None
        self.removal_reason: dict[str, str | None] = {}
        for name in self.weight_layers:
            node = self.graph.nodes[name]
            strides = as_tuple(node.config.get("strides", 1))
            reason = None
            if name in self.protect:
                reason = "protected"
            elif name == first:
                reason = "the first weight layer"
            elif name in heads:
                reason = "it feeds the model output"
            elif name in self.shortcut_layers:
                reason = "on a residual shortcut"
            elif name in self.in_block:
                if self.in_block[name] != name:
                    reason = f"removed with its block (`{self.in_block[name]}`)"
            elif max(strides) > 1 and not self.allow_downsampling_removal:
                reason = f"it down-samples (strides={max(strides)})"
            elif len(node.inputs) != 1:
                reason = "it has several inputs"
            self.removal_reason[name] = reason

    def removable(self, name: str) -> bool:
        """Whether Stage 1 may remove a weight layer."""
        return name in self.removal_reason and self.removal_reason[name] is None


__all__ = ["Removals"]
