"""Channel groups and shape arithmetic over a flat ``Graph``.

``Analysis`` is built once per teacher. ``Analysis.propagate`` then runs the
cheap pass that, for an architecture, decides every student tensor's shape and
which teacher channels it carries, or raises ``SurgeryError`` before any Keras
object is built.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import keras
import numpy as np

from n2n_tf.graph import rules as R
from n2n_tf.graph.config_graph import Graph, read, teacher_layer
from n2n_tf.graph.errors import SurgeryError
from n2n_tf.types import Architecture

logger = logging.getLogger(__name__)


@dataclass
class Desc:
    """A student tensor relative to the teacher: shape, channel space, kept channels."""

    shape: tuple[int | None, ...]
    key: tuple
    idx: np.ndarray


@dataclass
class Propagation:
    """The outcome of one pass: tensors, aliases of removed layers, widths, FLOPs."""

    desc: dict[str, Desc]
    alias: dict[str, str]
    widths: dict[str, int]
    kept: dict[int, np.ndarray]
    flops: int
    params: int


class _UnionFind:
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


def _tuple(value, n=2):
    return tuple(value) if isinstance(value, (list, tuple)) else (value,) * n


class Analysis:
    """Everything surgery needs to know about one teacher, computed once.

    Args:
        teacher: a functional or Sequential Keras model.
        round_to: round shrunk widths to a multiple of this (1: no rounding).
        protect: layer names that are never removed.
        allow_downsampling_removal: let Stage 1 remove stride > 1 layers.
    """

    def __init__(
        self,
        teacher: keras.Model,
        round_to: int = 1,
        protect: tuple[str, ...] = (),
        allow_downsampling_removal: bool = False,
    ):
        self.teacher = teacher
        self.graph: Graph = read(teacher)
        self.round_to = max(1, int(round_to))
        self.protect = set(protect)
        self.allow_downsampling_removal = allow_downsampling_removal
        self.order = list(self.graph.nodes)
        self.position = {name: i for i, name in enumerate(self.order)}
        self.consumers = self.graph.consumers()
        self.rules = {n: R.rule_for(node.class_name) for n, node in self.graph.nodes.items()}
        self.layers = {
            n: teacher_layer(teacher, node)
            for n, node in self.graph.nodes.items()
            if node.class_name != "InputLayer"
        }
        self._ancestors()
        self._groups()
        self._attachments()
        self._residuals()
        self._policy_view()
        self.kept_cache: dict[tuple[int, int], np.ndarray] = {}
        self.teacher_pass = self.propagate(Architecture.identity())

    # ----------------------------------------------------------------- structure
    def _ancestors(self) -> None:
        self.ancestors: dict[str, frozenset[str]] = {}
        for name in self.order:
            acc: set[str] = set()
            for producer, _ in self.graph.nodes[name].inputs:
                acc.add(producer)
                acc |= self.ancestors[producer]
            self.ancestors[name] = frozenset(acc)

    def _groups(self) -> None:
        uf = _UnionFind()
        self.space: dict[str, str] = {}
        for name in self.order:
            node, rule = self.graph.nodes[name], self.rules[name]
            first = node.inputs[0][0] if node.inputs else None
            own = rule is None or rule.kind in (R.INPUT, R.WEIGHT, R.FLATTEN, R.CONCAT)
            multiplied = rule is not None and rule.kind == R.DEPTHWISE
            multiplied = multiplied and node.config.get("depth_multiplier", 1) != 1
            if own or multiplied:
                self.space[name] = uf.find(name)
            elif rule.kind == R.MERGE:
                for producer, _ in node.inputs[1:]:
                    uf.union(self.space[first], self.space[producer])
                self.space[name] = self.space[first]
            else:
                self.space[name] = self.space[first]
        roots = sorted({uf.find(s) for s in self.space.values()}, key=self.position.get)
        self.group_id = {root: i for i, root in enumerate(roots)}
        self.group_of = {n: self.group_id[uf.find(s)] for n, s in self.space.items()}
        self.members: dict[int, list[str]] = {}
        for name in self.order:
            rule = self.rules[name]
            if rule is not None and rule.kind == R.WEIGHT:
                self.members.setdefault(self.group_of[name], []).append(name)
        # A group may shrink only when every tensor of it comes from weight layers
        # whose every consumer n2n-tf can slice, and it is not a model output.
        blocked = {self.group_of[n] for n, _ in self.graph.outputs}
        for name in self.order:
            rule = self.rules[name]
            if rule is None or rule.kind in (R.INPUT, R.FLATTEN, R.CONCAT):
                blocked.add(self.group_of[name])
            if rule is None:
                blocked |= {self.group_of[p] for p, _ in self.graph.nodes[name].inputs}
            elif rule.kind == R.CHANNELWISE and self._channel_axis(name) is None:
                blocked.add(self.group_of[name])
        self.shrinkable_groups = {g for g in self.members if g not in blocked}

    def _channel_axis(self, name: str) -> int | None:
        config = self.graph.nodes[name].config
        axis = config.get("axis", -1)
        if isinstance(axis, (list, tuple)):
            axis = axis[0] if len(axis) == 1 else None
        return -1 if axis in (-1, 3) else None

    def _attachments(self) -> None:
        """Per weight layer: the BN/activation chain removed with it."""
        self.attached: dict[str, list[str]] = {}
        for name in self.order:
            rule = self.rules[name]
            if rule is None or rule.kind not in (R.WEIGHT, R.DEPTHWISE):
                continue
            chain, current = [], name
            while len(self.consumers[current]) == 1:
                nxt = self.consumers[current][0]
                nrule = self.rules[nxt]
                if nrule is None or not nrule.attachable or len(self.graph.nodes[nxt].inputs) != 1:
                    break
                chain.append(nxt)
                current = nxt
            self.attached[name] = chain

    def _residuals(self) -> None:
        """Finds residual blocks: merges with one shortcut branch and one residual branch.

        A block is removed as a unit (it collapses to its shortcut, identity or
        projection), decided by its first weight layer; the shortcut's layers
        are never removed.
        """
        self.shortcut_layers: set[str] = set()
        self.skip_start: set[str] = set()
        self.skip_end: set[str] = set()
        self.blocks: dict[str, list[str]] = {}  # first weight layer -> branch nodes
        self.in_block: dict[str, str] = {}
        for name in self.order:
            rule, node = self.rules[name], self.graph.nodes[name]
            if rule is None or rule.kind != R.MERGE or len(node.inputs) < 2:
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
                weights = [n for n in nodes if self.rules[n] and self.rules[n].policy_kind]
                branches.append((nodes, weights))
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

    # -------------------------------------------------------------- policy view
    def _policy_view(self) -> None:
        """The policies' time steps and which of them Stage 1 may remove (computed once)."""
        self.weight_layers = [
            n for n in self.order if self.rules[n] is not None and self.rules[n].policy_kind
        ]
        heads = self._heads()
        self._removable = {n for n in self.weight_layers if n not in heads and self._may_remove(n)}

    def removable(self, name: str) -> bool:
        """Whether Stage 1 may remove a weight layer (see PAPER.md)."""
        return name in self._removable

    def _may_remove(self, name: str) -> bool:
        if name in self.protect or name == self.weight_layers[0] or name in self.shortcut_layers:
            return False
        if name in self.in_block:
            return self.in_block[name] == name  # the block's first layer decides
        node = self.graph.nodes[name]
        strides = _tuple(node.config.get("strides", 1))
        if max(strides) > 1 and not self.allow_downsampling_removal:
            return False
        return len(node.inputs) == 1

    def _heads(self) -> set[str]:
        """Weight layers that reach a model output without another weight layer."""
        heads, stack, seen = set(), [n for n, _ in self.graph.outputs], set()
        while stack:
            name = stack.pop()
            if name in seen:
                continue
            seen.add(name)
            rule = self.rules[name]
            if rule is not None and rule.policy_kind:
                heads.add(name)
                continue
            stack += [p for p, _ in self.graph.nodes[name].inputs]
        return heads

    def leader(self, name: str) -> str | None:
        group = self.group_of[name]
        members = self.members.get(group, [])
        return members[0] if members else None

    def shrinkable(self, name: str) -> bool:
        return self.group_of[name] in self.shrinkable_groups and self.leader(name) == name

    # ---------------------------------------------------------------- channels
    def _scores(self, group: int) -> np.ndarray:
        """L1 norm per output channel, summed over the group's weight layers."""
        total = None
        for name in self.members[group]:
            layer, rule = self.layers[name], self.rules[name]
            for w in layer.weights:
                _, out_axis = R.weight_axes(rule, w.path, len(w.shape))
                if (
                    out_axis is None
                    or not w.path.endswith("kernel")
                    or w.path.endswith("depthwise_kernel")
                ):
                    continue
                array = np.abs(keras.ops.convert_to_numpy(w))
                axes = tuple(a for a in range(array.ndim) if a != out_axis)
                score = array.sum(axis=axes)
                score = score / (score.mean() + 1e-12)
                total = score if total is None else total + score
        if total is None:
            raise SurgeryError(f"Internal error: group {group} has no kernel")
        return total

    def width(self, group: int, factor: float) -> int:
        """The number of channels a group keeps under a width factor."""
        leader = self.members[group][0]
        full = int(self.graph.nodes[leader].config[self.rules[leader].width_key])
        if factor >= 1.0:
            return full
        k = max(1, int(round(factor * full)))
        if self.round_to > 1:
            k = min(full, max(self.round_to, int(round(k / self.round_to)) * self.round_to))
        return k

    def kept(self, group: int, k: int) -> np.ndarray:
        """The ``k`` channels of a group with the largest L1 norms, in order."""
        cached = self.kept_cache.get((group, k))
        if cached is None:
            scores = self._scores(group)
            cached = np.sort(np.argsort(-scores, kind="stable")[:k])
            self.kept_cache[(group, k)] = cached
        return cached

    # ---------------------------------------------------------------- the pass
    def _factors(self, arch: Architecture) -> dict[int, float]:
        factors = {}
        for name, factor in arch.factors.items():
            if name not in self.graph.nodes:
                raise SurgeryError(
                    f"Architecture names layer `{name}` that the teacher does not have. "
                    f"Received: factors[{name!r}]={factor}"
                )
            if factor != 1.0:
                if not self.shrinkable(name):
                    raise SurgeryError(
                        f"Layer `{name}` cannot be shrunk (it is tied to another layer, feeds "
                        "the output, or an unsupported layer). "
                        f"Received: factors[{name!r}]={factor}"
                    )
                if not 0.0 < factor <= 1.0:
                    raise SurgeryError(
                        f"Width factors must be in (0, 1]. Received: factors[{name!r}]={factor}"
                    )
                factors[self.group_of[name]] = factor
        return factors

    def _removed(self, arch: Architecture) -> set[str]:
        removed: set[str] = set()
        for name in arch.removed:
            if name not in self.graph.nodes:
                raise SurgeryError(
                    f"Architecture removes layer `{name}` that the teacher does not have. "
                    f"Received: removed={sorted(arch.removed)}"
                )
            if not self.removable(name):
                raise SurgeryError(
                    f"Layer `{name}` may not be removed (first/last weight layer, down-sampling, "
                    f"a residual shortcut, or protected). Received: removed={sorted(arch.removed)}"
                )
            removed.add(name)
            removed.update(self.attached[name])
            removed.update(self.blocks.get(name, ()))
        return removed

    def propagate(self, arch: Architecture) -> Propagation:
        """Runs the shape/channel pass for ``arch``.

        Raises:
            SurgeryError: if the architecture does not give a valid model.
        """
        factors = self._factors(arch)
        removed = self._removed(arch)
        kept: dict[int, np.ndarray] = {}
        widths: dict[str, int] = {}
        desc: dict[str, Desc] = {}
        alias: dict[str, str] = {}
        flops = params = 0
        teacher = getattr(self, "teacher_pass", None)

        def resolve(name: str) -> str:
            while name in alias:
                name = alias[name]
            return name

        for name in self.order:
            node, rule = self.graph.nodes[name], self.rules[name]
            if name in removed:
                alias[name] = node.inputs[0][0]
                continue
            ins = [resolve(p) for p, _ in node.inputs]
            kind = rule.kind if rule is not None else None
            if kind == R.MERGE:
                ins = self._collapse(node, ins)
                if len(ins) == 1:
                    alias[name] = ins[0]
                    continue
            in_descs = [desc[p] for p in ins]
            if kind == R.INPUT:
                shape = tuple(node.config["batch_shape"][1:])
                desc[name] = Desc(shape, ("g", self.group_of[name]), np.arange(shape[-1]))
                continue
            if kind is None:
                desc[name] = self._unknown(name, ins, in_descs, teacher)
                params += self._params(name, in_descs[0], desc[name])
                continue
            first = in_descs[0]
            if kind == R.WEIGHT:
                group = self.group_of[name]
                factor = factors.get(group, 1.0)
                k = self.width(group, factor)
                kept[group] = self.kept(group, k) if factor < 1.0 else np.arange(k)
                widths[name] = k
                shape = self._out_shape(name, first.shape)[:-1] + (k,)
                desc[name] = Desc(shape, ("g", group), kept[group])
            elif kind == R.DEPTHWISE:
                mult = int(node.config.get("depth_multiplier", 1))
                shape = self._out_shape(name, first.shape)
                shape = shape[:-1] + (first.shape[-1] * mult,)
                key = first.key if mult == 1 else ("g", self.group_of[name])
                idx = first.idx if mult == 1 else np.arange(shape[-1])
                desc[name] = Desc(shape, key, idx)
            elif kind == R.MERGE:
                shapes = {d.shape for d in in_descs}
                if len(shapes) != 1:
                    raise SurgeryError(
                        f"Inputs of `{name}` would have different shapes "
                        f"{sorted(map(str, shapes))}. Received: layer='{name}'"
                    )
                desc[name] = Desc(first.shape, first.key, first.idx)
            elif kind == R.CONCAT:
                desc[name] = self._concat(name, in_descs, teacher)
            elif kind == R.FLATTEN:
                desc[name] = self._flatten(name, first, teacher)
            else:  # PASS, CHANNELWISE
                shape = self._out_shape(name, first.shape)
                desc[name] = Desc(shape, first.key, first.idx)
            self._check(name, desc[name].shape)
            flops += self._flops(name, first, desc[name])
            params += self._params(name, first, desc[name])
        outputs = [resolve(n) for n, _ in self.graph.outputs]
        if teacher is not None:
            for out, (t_name, _) in zip(outputs, self.graph.outputs, strict=True):
                if desc[out].shape != teacher.desc[t_name].shape:
                    raise SurgeryError(
                        f"The student's output would have shape {desc[out].shape} instead of "
                        f"{teacher.desc[t_name].shape}. Received: output='{t_name}'"
                    )
        for n in list(alias):
            alias[n] = resolve(n)
        return Propagation(desc, alias, widths, kept, flops, params)

    def _collapse(self, node, ins: list[str]) -> list[str]:
        """Drops merge inputs whose branch was removed entirely (block -> shortcut)."""
        teacher_ins = [p for p, _ in node.inputs]
        keep = []
        for i, (resolved, original) in enumerate(zip(ins, teacher_ins, strict=True)):
            emptied = resolved != original and any(
                j != i and (resolved == other or resolved in self.ancestors[other])
                for j, other in enumerate(ins)
            )
            if not emptied:
                keep.append(resolved)
        return keep or ins[:1]

    def _out_shape(self, name: str, in_shape: tuple) -> tuple:
        layer = self.layers[name]
        try:
            shape = layer.compute_output_shape((None, *in_shape))
        except Exception as err:
            raise SurgeryError(
                f"Layer `{name}` ({type(layer).__name__}) cannot take an input of shape "
                f"{in_shape}: {err}. Received: layer='{name}'"
            ) from err
        return tuple(shape[1:])

    def _check(self, name: str, shape: tuple) -> None:
        if any(d is not None and d < 1 for d in shape):
            raise SurgeryError(
                f"Layer `{name}` would produce an empty tensor of shape {shape}. "
                f"Received: layer='{name}'"
            )

    def _unknown(self, name, ins, in_descs, teacher) -> Desc:
        node = self.graph.nodes[name]
        if teacher is None:
            shapes = [d.shape for d in in_descs]
            layer = self.layers[name]
            try:
                shape = tuple(layer.output.shape[1:])
            except Exception:  # a layer called in several models has no single output
                arg = [(None, *s) for s in shapes] if len(shapes) > 1 else (None, *shapes[0])
                shape = tuple(layer.compute_output_shape(arg)[1:])
            return Desc(shape, ("g", self.group_of[name]), np.arange(shape[-1]))
        t_ins = [teacher.desc[p] for p, _ in node.inputs]
        same = all(
            a.shape == b.shape and a.key == b.key and np.array_equal(a.idx, b.idx)
            for a, b in zip(in_descs, t_ins, strict=True)
        )
        if not same:
            raise SurgeryError(
                f"Layer `{name}` ({node.class_name}) is not supported by surgery and its input "
                f"would change; supported layers: {', '.join(R.supported())}. "
                f"Received: layer='{name}'"
            )
        return teacher.desc[name]

    def _concat(self, name, in_descs, teacher) -> Desc:
        base = [d.shape[:-1] for d in in_descs]
        if len(set(base)) != 1:
            raise SurgeryError(
                f"Inputs of `{name}` would not line up for concatenation: {base}. "
                f"Received: layer='{name}'"
            )
        channels = sum(d.shape[-1] for d in in_descs)
        shape = (*base[0], channels)
        if teacher is None:
            return Desc(shape, ("g", self.group_of[name]), np.arange(channels))
        node = self.graph.nodes[name]
        t_ins = [teacher.desc[p] for p, _ in node.inputs]
        if all(a.key == b.key for a, b in zip(in_descs, t_ins, strict=True)):
            offsets = np.cumsum([0] + [t.shape[-1] for t in t_ins])[:-1]
            idx = np.concatenate([d.idx + o for d, o in zip(in_descs, offsets, strict=True)])
            return Desc(shape, ("g", self.group_of[name]), idx)
        return Desc(shape, ("fresh", name), np.arange(channels))

    def _flatten(self, name, first: Desc, teacher) -> Desc:
        size = int(math.prod(first.shape))
        if teacher is None:
            return Desc((size,), ("g", self.group_of[name]), np.arange(size))
        t_in = teacher.desc[self.graph.nodes[name].inputs[0][0]]
        if first.key == t_in.key and first.shape[:-1] == t_in.shape[:-1]:
            positions = int(math.prod(first.shape[:-1]))
            channels = t_in.shape[-1]
            idx = (np.arange(positions)[:, None] * channels + first.idx[None, :]).reshape(-1)
            return Desc((size,), ("g", self.group_of[name]), idx)
        return Desc((size,), ("fresh", name), np.arange(size))

    def _params(self, name: str, first: Desc, out: Desc) -> int:
        """Trainable parameters of one student layer, from shapes alone."""
        layer, rule = self.layers[name], self.rules[name]
        config = self.graph.nodes[name].config
        if not config.get("trainable", True):
            return 0
        teacher_count = int(sum(math.prod(w.shape) for w in layer.trainable_weights))
        if rule is None or rule.kind in (R.PASS, R.MERGE, R.CONCAT, R.FLATTEN):
            return teacher_count
        c_in, c_out = int(first.shape[-1]), int(out.shape[-1])
        if rule.kind == R.CHANNELWISE:
            return teacher_count // int(layer.input.shape[-1]) * c_in
        kernel = int(math.prod(_tuple(config.get("kernel_size", 1))))
        bias = c_out if config.get("use_bias", True) else 0
        if rule.policy_kind == "dense":
            return c_in * c_out + bias
        if rule.policy_kind == "depthwise":
            return kernel * c_out + bias
        if rule.policy_kind == "separable":
            mult = int(config.get("depth_multiplier", 1))
            return kernel * c_in * mult + c_in * mult * c_out + bias
        return kernel * (c_in // int(config.get("groups", 1) or 1)) * c_out + bias

    def _flops(self, name: str, first: Desc, out: Desc) -> int:
        """Multiply-adds of one layer (weight layers only)."""
        rule = self.rules[name]
        if rule is None or not rule.policy_kind:
            return 0
        config = self.graph.nodes[name].config
        c_in, c_out = first.shape[-1], out.shape[-1]
        positions = int(math.prod(d for d in out.shape[:-1] if d is not None))
        if rule.policy_kind == "dense":
            return positions * c_in * c_out
        kernel = int(math.prod(_tuple(config.get("kernel_size", 1))))
        if rule.policy_kind == "depthwise":
            return positions * kernel * c_out
        if rule.policy_kind == "separable":
            mult = int(config.get("depth_multiplier", 1))
            return positions * (kernel * c_in * mult + c_in * mult * c_out)
        return positions * kernel * c_in * c_out // int(config.get("groups", 1) or 1)
