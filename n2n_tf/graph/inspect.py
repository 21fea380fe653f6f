"""Describe a teacher structurally: ``inspect``, ``count_params``, ``count_flops``."""

from __future__ import annotations

import math

import keras

from n2n_tf.graph.analysis import analyse
from n2n_tf.graph.rules import as_tuple
from n2n_tf.graph.rules.base import trainable_count
from n2n_tf.graph.structure import Structure
from n2n_tf.types import LayerSpec, ModelSpec


def count_params(model: keras.Model) -> int:
    """Trainable parameters (BN moving statistics excluded), as the paper counts."""
    return int(sum(math.prod(w.shape) for w in model.trainable_weights))


def count_flops(model: keras.Model) -> int:
    """Multiply-adds of one forward pass (weight layers, analytic)."""
    return int(analyse(model).teacher_pass.flops)


def _fixed_reason(s: Structure, name: str, removed_with: set[str]) -> str | None:
    group = s.group_of[name]
    width_reason = s.fixed.get(group)
    if not s.rules[name].kind:
        if width_reason is None or name in removed_with:
            return None
        return f"width fixed: {width_reason}"
    if s.removals.removable(name) or width_reason is None:
        return None
    return f"not removable: {s.removals.removal_reason[name]}; width fixed: {width_reason}"


def inspect(model: keras.Model, **options) -> ModelSpec:
    """Lists every layer of a teacher with its structural facts and what the search may change.

    Args:
        model: a functional or Sequential Keras model (nested models are flattened).
        **options: ``round_to``, ``protect``, ``allow_downsampling_removal``
            (see ``graph.structure.Structure``).

    Returns:
        A ``ModelSpec``: ``all_layers`` holds a ``LayerSpec`` per layer (name,
        type, output_shape, params, flops, removable, shrinkable, group,
        fixed_reason, kind, width, tied_to, input_shape, kernel_size, strides,
        padding, skip_start, skip_end; see ``n2n_tf.types.LayerSpec``);
        ``layers`` the weight layers among them (the search's time steps);
        ``params``/``flops`` the totals; ``groups``, ``input_shape`` and
        ``num_outputs``.

    Raises:
        ValueError: for subclassed models.
        NotImplementedError: for shared layers.

    Example:
        >>> spec = inspect(teacher)
        >>> [(l.name, l.type, l.params, l.fixed_reason) for l in spec.all_layers]
    """
    analysis = analyse(model, **options)
    s, tp = analysis.structure, analysis.teacher_pass
    r = s.removals
    removed_with = set()
    for name in s.weight_layers:
        if r.removable(name):
            removed_with |= set(r.attached[name]) | set(r.blocks.get(name, ()))
    specs = []
    for name in s.order:
        node = s.node(name)
        if node.class_name == "InputLayer":
            continue
        config = node.config
        out_shape = tuple(tp.desc[name].shape)
        first = node.inputs[0][0] if node.inputs else name
        leader = s.leader(name)
        padding = config.get("padding")
        specs.append(
            LayerSpec(
                name=name,
                type=node.class_name,
                output_shape=out_shape,
                params=trainable_count(s.layers.get(name)),
                flops=int(tp.layer_flops.get(name, 0)),
                removable=r.removable(name),
                shrinkable=s.shrinkable(name),
                group=s.group_of[name],
                fixed_reason=_fixed_reason(s, name, removed_with),
                kind=s.rules[name].kind,
                width=int(out_shape[-1]) if out_shape else 1,
                tied_to=leader if s.rules[name].kind and leader not in (None, name) else None,
                input_shape=tuple(tp.desc[first].shape),
                kernel_size=int(max(as_tuple(config.get("kernel_size", 1)))),
                strides=int(max(as_tuple(config.get("strides", 1)))),
                padding=padding if isinstance(padding, str) else None,
                skip_start=name in r.skip_start,
                skip_end=name in r.skip_end,
            )
        )
    groups: dict[int, tuple[str, ...]] = {}
    for spec in specs:
        if spec.kind is not None:
            groups[spec.group] = (*groups.get(spec.group, ()), spec.name)
    output = tp.desc[s.graph.outputs[0][0]].shape
    return ModelSpec(
        name=model.name,
        all_layers=tuple(specs),
        groups=groups,
        params=count_params(model),
        flops=int(tp.flops),
        input_shape=tuple(tp.desc[s.graph.inputs[0]].shape),
        num_outputs=int(output[-1]),
    )


__all__ = ["count_flops", "count_params", "inspect"]
