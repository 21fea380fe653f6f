"""Channel-propagation rules, keyed by Keras layer class.

Each supported class maps to a ``Rule``: how its output channels relate to
its input channels, which config key holds its width, and which axis of each
weight follows the input or output channels. Unknown classes get no rule and
are kept as they are when their input is unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import keras

WEIGHT = "weight"  # defines a new channel space (Conv2D, Dense, SeparableConv2D)
DEPTHWISE = "depthwise"  # output channels follow the input (x multiplier)
CHANNELWISE = "channelwise"  # per-channel weights that follow the input (BN)
PASS = "pass"  # no weights; channels follow the input (ReLU, pooling)
FLATTEN = "flatten"  # rank 4 -> rank 2
MERGE = "merge"  # element-wise: inputs must agree and are tied
CONCAT = "concat"  # channels add up
INPUT = "input"


@dataclass(frozen=True)
class Rule:
    """How one layer class treats channels.

    Attributes:
        kind: one of the module's kind constants.
        width_key: config key of the output width (``filters``/``units``).
        axes: per weight-name suffix, ``(in_axis, out_axis)`` (None: not sliced).
        attachable: removed together with the weight layer it follows.
        policy_kind: the name the policies see (``conv``, ``dense``, ...).
    """

    kind: str
    width_key: str | None = None
    axes: dict[str, tuple[int | None, int | None]] = field(default_factory=dict)
    attachable: bool = False
    policy_kind: str | None = None


L = keras.layers
RULES: dict[type, Rule] = {
    L.InputLayer: Rule(INPUT),
    L.Conv2D: Rule(WEIGHT, "filters", {"kernel": (-2, -1), "bias": (None, -1)}, policy_kind="conv"),
    L.Conv1D: Rule(WEIGHT, "filters", {"kernel": (-2, -1), "bias": (None, -1)}, policy_kind="conv"),
    L.Dense: Rule(WEIGHT, "units", {"kernel": (0, 1), "bias": (None, 0)}, policy_kind="dense"),
    L.SeparableConv2D: Rule(
        WEIGHT,
        "filters",
        {"depthwise_kernel": (2, None), "pointwise_kernel": (2, 3), "bias": (None, 0)},
        policy_kind="separable",
    ),
    L.DepthwiseConv2D: Rule(
        DEPTHWISE, None, {"kernel": (2, None), "bias": (0, None)}, policy_kind="depthwise"
    ),
    L.BatchNormalization: Rule(CHANNELWISE, attachable=True),
    L.LayerNormalization: Rule(CHANNELWISE, attachable=True),
    L.PReLU: Rule(CHANNELWISE, attachable=True),
    L.Flatten: Rule(FLATTEN),
    L.Concatenate: Rule(CONCAT),
}
for _cls in (L.Add, L.Subtract, L.Multiply, L.Average, L.Maximum, L.Minimum):
    RULES[_cls] = Rule(MERGE)
for _cls in (
    L.Activation,
    L.ReLU,
    L.LeakyReLU,
    L.ELU,
    L.Softmax,
    L.Dropout,
    L.SpatialDropout1D,
    L.SpatialDropout2D,
    L.GaussianNoise,
    L.GaussianDropout,
    L.ActivityRegularization,
):
    RULES[_cls] = Rule(PASS, attachable=True)
for _cls in (
    L.MaxPooling1D,
    L.MaxPooling2D,
    L.AveragePooling1D,
    L.AveragePooling2D,
    L.ZeroPadding2D,
    L.Cropping2D,
    L.UpSampling2D,
    L.GlobalAveragePooling1D,
    L.GlobalAveragePooling2D,
    L.GlobalMaxPooling1D,
    L.GlobalMaxPooling2D,
    L.Identity,
):
    RULES[_cls] = Rule(PASS)

_BY_NAME = {cls.__name__: cls for cls in RULES}


def rule_for(class_name: str) -> Rule | None:
    """The rule of a serialized layer's class (None: unknown or custom layer)."""
    cls = _BY_NAME.get(class_name)
    return RULES.get(cls) if cls is not None else None


def supported() -> list[str]:
    """Names of the layer classes surgery understands."""
    return sorted(_BY_NAME)


def weight_axes(rule: Rule, weight_path: str, rank: int) -> tuple[int | None, int | None]:
    """``(in_axis, out_axis)`` of one weight (by the last part of its path)."""
    if rule.kind in (CHANNELWISE,):
        return (rank - 1, None)
    leaf = weight_path.split("/")[-1]
    for suffix, axes in rule.axes.items():
        if leaf == suffix:
            return tuple(a if a is None or a >= 0 else a + rank for a in axes)
    return (None, None)
