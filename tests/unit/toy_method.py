"""A baseline method nobody here shipped: only the first half of the shrinkable layers
narrowed.

What adding a method takes: this class and the ``register_method`` line below; it is
then ``search.method=half_the_layers`` (``n2n-tf compress --method half_the_layers``).
"""

from n2n_tf.search.baselines import Method, register_method
from n2n_tf.types import Architecture


class HalfTheLayers(Method):
    """The first half of the shrinkable layers at the factor, the rest at full width."""

    name = "half_the_layers"

    def architecture(self, teacher, spec, factor):
        names = [x.name for x in spec.layers if x.shrinkable]
        return Architecture(factors={n: factor for n in names[: len(names) // 2]})


register_method(HalfTheLayers())
