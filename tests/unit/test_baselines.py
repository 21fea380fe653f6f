"""The hand-made baselines as library methods: L1-norm uniform-ratio pruning at a size,
the same widths from scratch, and a method registered from outside."""

import keras
import numpy as np
import pytest

from n2n_tf import graph, models
from n2n_tf.search.baselines import (
    METHODS,
    Method,
    matching_factor,
    register_method,
    uniform_architecture,
)
from n2n_tf.types import Architecture


@pytest.fixture(scope="module")
def teacher():
    keras.utils.set_random_seed(0)
    return models.build("resnet20", (8, 8, 1), 10, width=0.5)


def test_l1_at_a_size_is_the_uniform_width_nearest_that_size(teacher):
    spec = graph.inspect(teacher)
    target = spec.params // 4
    arch = METHODS["l1"].at_size(teacher, spec, target)
    factor = matching_factor(teacher, spec, target)
    assert set(arch.factors) == {x.name for x in spec.layers if x.shrinkable}
    assert set(arch.factors.values()) == {factor} and not arch.removed
    params = graph.estimate(teacher, arch)[0]
    # No other 4-decimal factor nearby comes closer to the target.
    for other in (factor - 0.01, factor + 0.01):
        near = graph.estimate(teacher, uniform_architecture(spec, other))[0]
        assert abs(params - target) <= abs(near - target)
    assert abs(params - target) / target < 0.1


def test_l1_inherits_the_largest_filters_and_uniform_starts_fresh(teacher):
    spec = graph.inspect(teacher)
    assert METHODS["l1"].inherit and not METHODS["uniform"].inherit
    x = np.random.default_rng(0).normal(size=(4, 8, 8, 1)).astype("float32")
    full = METHODS["l1"].architecture(teacher, spec, 1.0)
    kept = graph.rebuild(teacher, full, inherit=METHODS["l1"].inherit)
    np.testing.assert_allclose(np.asarray(kept(x)), np.asarray(teacher(x)), atol=1e-5)
    arch = METHODS["uniform"].architecture(teacher, spec, 0.5)
    fresh = graph.rebuild(teacher, arch, inherit=METHODS["uniform"].inherit)
    inherited = graph.rebuild(teacher, arch, inherit=True)
    assert graph.count_params(fresh) == graph.count_params(inherited)
    assert not np.allclose(np.asarray(fresh(x)), np.asarray(inherited(x)))


def test_a_method_registered_from_outside_is_found_by_name(teacher):
    class HalfTheLayers(Method):
        """Only the first half of the shrinkable layers narrowed."""

        name = "half_the_layers"

        def architecture(self, teacher, spec, factor):
            names = [x.name for x in spec.layers if x.shrinkable]
            return Architecture(factors={n: factor for n in names[: len(names) // 2]})

    register_method(HalfTheLayers())
    spec = graph.inspect(teacher)
    arch = METHODS["half_the_layers"].at_size(teacher, spec, int(spec.params * 0.7))
    assert 0 < len(arch.factors) < len([x for x in spec.layers if x.shrinkable])
    assert graph.estimate(teacher, arch)[0] < spec.params
    with pytest.raises(ValueError, match="Method with a name"):
        register_method(object())
    del METHODS["half_the_layers"]
