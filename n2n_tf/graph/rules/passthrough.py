"""``PassRule``: layers without weights whose output keeps its input's channels."""

from __future__ import annotations

import keras

from n2n_tf.graph.rules.base import FOLLOW, Rule, register_rule


class PassRule(Rule):
    """Output channels are the input's (activations, dropout, pooling, padding).

    Args:
        attachable: removed together with the weight layer it directly follows.
    """

    flow = FOLLOW

    def __init__(self, attachable: bool = False):
        self.attachable = attachable


L = keras.layers
ATTACHED = PassRule(attachable=True)
PASS = PassRule()
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
    register_rule(_cls, ATTACHED)
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
    register_rule(_cls, PASS)
