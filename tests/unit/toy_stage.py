"""A stage nobody here shipped: one width factor for every layer the parent kept.

What adding a stage takes: this class and the ``register_stage`` line below.
"""

from n2n_tf.search.policies import RandomPolicy, ShrinkPolicy
from n2n_tf.search.stages import Stage, register_stage
from n2n_tf.types import Architecture


class UniformWidthStage(Stage):
    """The factor the policy picks for the first free layer applies to every one."""

    name = "uniform_width"

    def make_policy(self, config, random):
        s = config.search
        if random:
            return RandomPolicy.shrink(s.factors)
        return ShrinkPolicy(s.factors, s.hidden, s.layers)

    def learning_rate(self, config):
        return config.search.shrink_lr

    @classmethod
    def planned_updates(cls, config):
        return 2

    def layers(self, layers, parent):
        kept = [layer for layer in layers if layer.name not in parent.removed]
        return kept, [layer.shrinkable for layer in kept]

    def architecture(self, layers, action, parent):
        factors = self.config.search.factors
        free = [int(a) for layer, a in zip(layers, action, strict=True) if layer.shrinkable]
        factor = factors[free[0]] if free else 1.0
        chosen = {layer.name: factor for layer in layers if layer.shrinkable and factor < 1.0}
        return Architecture(removed=parent.removed, factors=chosen)


register_stage(UniformWidthStage)
