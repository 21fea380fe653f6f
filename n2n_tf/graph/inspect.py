"""Describe a teacher for the policies: ``inspect``, ``count_params``, ``count_flops``."""

from __future__ import annotations

import math

import keras

from n2n_tf.graph.rebuild import analyse
from n2n_tf.types import FEATURE_NAMES, LayerSpec, ModelSpec


def count_params(model: keras.Model) -> int:
    """Trainable parameters (BN moving statistics excluded), as the paper counts."""
    return int(sum(math.prod(w.shape) for w in model.trainable_weights))


def count_flops(model: keras.Model) -> int:
    """Multiply-adds of one forward pass (weight layers, analytic)."""
    return int(analyse(model).teacher_pass.flops)


def _log_spatial(shape) -> float:
    spatial = [d for d in shape[:-1] if d]
    return math.log2(math.prod(spatial) + 1) / 12.0 if spatial else 0.0


def inspect(model: keras.Model, **options) -> ModelSpec:
    """Lists the teacher's weight layers in order with features and permissions.

    Args:
        model: a functional or Sequential Keras model.
        **options: ``round_to``, ``protect``, ``allow_downsampling_removal``.

    Returns:
        A ``ModelSpec``; its ``layers`` are the policies' time steps.
    """
    analysis = analyse(model, **options)
    tp = analysis.teacher_pass
    names = analysis.weight_layers
    total_flops = max(tp.flops, 1)
    specs = []
    for depth, name in enumerate(names):
        node, rule = analysis.graph.nodes[name], analysis.rules[name]
        layer = analysis.layers[name]
        config = node.config
        producer = node.inputs[0][0]
        in_shape, out_shape = tp.desc[producer].shape, tp.desc[name].shape
        params = int(sum(math.prod(w.shape) for w in layer.trainable_weights))
        first = tp.desc[producer]
        flops = analysis._flops(name, first, tp.desc[name])
        kernel = config.get("kernel_size", 1)
        stride = config.get("strides", 1)
        kernel = max(kernel) if isinstance(kernel, (list, tuple)) else kernel
        stride = max(stride) if isinstance(stride, (list, tuple)) else stride
        kind = rule.policy_kind
        features = (
            float(kind == "conv"),
            float(kind == "dense"),
            float(kind == "depthwise"),
            float(kind == "separable"),
            kernel / 7.0,
            stride / 2.0,
            float(config.get("padding", "valid") == "same"),
            math.log2(out_shape[-1] + 1) / 12.0,
            float(name in analysis.skip_start),
            float(name in analysis.skip_end),
            math.log10(params + 1) / 7.0,
            flops / total_flops,
            depth / max(len(names) - 1, 1),
            _log_spatial(in_shape),
            _log_spatial(out_shape),
        )
        leader = analysis.leader(name)
        specs.append(
            LayerSpec(
                name=name,
                kind=kind,
                features=features,
                removable=analysis.removable(name),
                shrinkable=analysis.shrinkable(name),
                width=int(out_shape[-1]),
                group=analysis.group_of[name],
                tied_to=leader if leader not in (None, name) else None,
                params=params,
            )
        )
    if any(len(s.features) != len(FEATURE_NAMES) for s in specs):
        raise RuntimeError("Internal error: feature vector length mismatch")
    groups: dict[int, tuple[str, ...]] = {}
    for spec in specs:
        groups[spec.group] = (*groups.get(spec.group, ()), spec.name)
    output = tp.desc[analysis.graph.outputs[0][0]].shape
    return ModelSpec(
        name=model.name,
        layers=tuple(specs),
        groups=groups,
        params=count_params(model),
        flops=int(tp.flops),
        input_shape=tuple(tp.desc[analysis.graph.inputs[0]].shape),
        num_outputs=int(output[-1]),
    )


__all__ = ["count_flops", "count_params", "inspect"]
