"""The policies' view of a layer: a vector of O(1) numbers computed from ``graph.inspect``'s facts.

One time step of the policies is a weight layer; its features are the paper's
(type, kernel, stride, padding, outputs, skip-start, skip-end; Ashok et al.,
2018, Sec. 3) plus normalised extras. Surgery knows nothing of them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from n2n_tf.types import LayerSpec

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
N_FEATURES = len(FEATURE_NAMES)


def _log_spatial(shape) -> float:
    spatial = [d for d in shape[:-1] if d]
    return math.log2(math.prod(spatial) + 1) / 12.0 if spatial else 0.0


def layer_features(layer: LayerSpec, depth: float, total_flops: int) -> tuple[float, ...]:
    """The features of one weight layer.

    Args:
        layer: its facts from ``graph.inspect``.
        depth: its position in the sequence the policy reads, in [0, 1].
        total_flops: the multiply-adds of that whole sequence.
    """
    kind = layer.kind
    return (
        float(kind == "conv"),
        float(kind == "dense"),
        float(kind == "depthwise"),
        float(kind == "separable"),
        layer.kernel_size / 7.0,
        layer.strides / 2.0,
        float(layer.padding == "same"),
        math.log2(layer.width + 1) / 12.0,
        float(layer.skip_start),
        float(layer.skip_end),
        math.log10(layer.params + 1) / 7.0,
        layer.flops / max(total_flops, 1),
        depth,
        _log_spatial(layer.input_shape),
        _log_spatial(layer.output_shape),
    )


def features(layers: Sequence[LayerSpec]) -> np.ndarray:
    """``[1, T, N_FEATURES]`` float32 for the weight layers a policy reads, in order.

    Depth and FLOP share are relative to the sequence given (Stage 2 reads the
    layers Stage 1 kept).
    """
    layers = list(layers)
    if any(layer.kind is None for layer in layers):
        raise ValueError(
            "Policies read weight layers only (ModelSpec.layers). Received: "
            f"layers={[layer.name for layer in layers if layer.kind is None][:5]}"
        )
    total = sum(layer.flops for layer in layers)
    last = max(len(layers) - 1, 1)
    rows = [layer_features(layer, i / last, total) for i, layer in enumerate(layers)]
    return np.asarray([rows], dtype=np.float32).reshape(1, len(layers), N_FEATURES)


__all__ = ["FEATURE_NAMES", "N_FEATURES", "features", "layer_features"]
