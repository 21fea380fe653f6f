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
    "log_flops_vs_median",
    "depth_fraction",
    "log_in_spatial",
    "log_out_spatial",
)
N_FEATURES = len(FEATURE_NAMES)
# Version 2: a layer's multiply-adds against the median layer's of the sequence, not its
# share of the total (which shrinks with depth: a ResNet-56 block read as a third of a
# ResNet-20 one). Policies saved before it are refused (``policies.load_policy``).
FEATURES_VERSION = 2


def _log_spatial(shape) -> float:
    spatial = [d for d in shape[:-1] if d]
    return math.log2(math.prod(spatial) + 1) / 12.0 if spatial else 0.0


def layer_features(layer: LayerSpec, depth: float, median_flops: float) -> tuple[float, ...]:
    """The features of one weight layer: none depends on the teacher's depth or size,
    only on the layer and its place (its depth fraction, its cost against the median
    layer's: a ResNet's block convolutions cost the same in every stage, so the median is
    one of them in a ResNet-20 as in a ResNet-56).

    Args:
        layer: its facts from ``graph.inspect``.
        depth: its position in the sequence the policy reads, in [0, 1].
        median_flops: the median multiply-adds of a layer of that sequence.
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
        math.log2(1.0 + layer.flops / max(median_flops, 1.0)) / 4.0,
        depth,
        _log_spatial(layer.input_shape),
        _log_spatial(layer.output_shape),
    )


def features(layers: Sequence[LayerSpec]) -> np.ndarray:
    """``[1, T, N_FEATURES]`` float32 for the weight layers a policy reads, in order.

    Depth and the cost against the median layer are relative to the sequence given
    (Stage 2 reads the layers Stage 1 kept).
    """
    layers = list(layers)
    if any(layer.kind is None for layer in layers):
        raise ValueError(
            "Policies read weight layers only (ModelSpec.layers). Received: "
            f"layers={[layer.name for layer in layers if layer.kind is None][:5]}"
        )
    median = float(np.median([layer.flops for layer in layers])) if layers else 1.0
    last = max(len(layers) - 1, 1)
    rows = [layer_features(layer, i / last, median) for i, layer in enumerate(layers)]
    return np.asarray([rows], dtype=np.float32).reshape(1, len(layers), N_FEATURES)


__all__ = ["FEATURES_VERSION", "FEATURE_NAMES", "N_FEATURES", "features", "layer_features"]
