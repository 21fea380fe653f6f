"""Property-based surgery tests: random architectures for every zoo model, keras.applications
models (MobileNetV2/V3, EfficientNetB0, DenseNet121, ResNet50) and tiny grouped, depth-multiplier
and squeeze-excite models.

Every architecture either builds (forward pass with the right output shape and a
parameter count equal to the estimate) or is rejected with SurgeryError before
building. N2N_SLOW=1 runs 200 examples per model (the issue's slow mode).
"""

import os

import keras
import numpy as np
import pytest
import tiny_models
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from n2n_tf import graph, models
from n2n_tf.graph import SurgeryError
from n2n_tf.types import Architecture

SLOW = os.environ.get("N2N_SLOW") == "1"
EXAMPLES = 200 if SLOW else 8
FACTORS = [round(0.1 * i, 1) for i in range(1, 11)]
_TEACHERS: dict = {}
A = keras.applications
APPLICATIONS = {
    "mobilenetv2": lambda: A.MobileNetV2(
        weights=None, input_shape=(32, 32, 3), classes=10, alpha=0.35
    ),
    "mobilenetv3small": lambda: A.MobileNetV3Small(
        weights=None, input_shape=(32, 32, 3), classes=10
    ),
    "mobilenetv3large": lambda: A.MobileNetV3Large(
        weights=None, input_shape=(32, 32, 3), classes=10
    ),
    "efficientnetb0": lambda: A.EfficientNetB0(weights=None, input_shape=(32, 32, 3), classes=10),
    "densenet121": lambda: A.DenseNet121(weights=None, input_shape=(32, 32, 3), classes=10),
    "resnet50": lambda: A.ResNet50(weights=None, input_shape=(32, 32, 3), classes=10),
    "nasnetmobile": lambda: A.NASNetMobile(weights=None, input_shape=(32, 32, 3), classes=10),
}
TINY = {
    "grouped": tiny_models.grouped,
    "multiplier": tiny_models.multiplier,
    "squeeze_excite": tiny_models.squeeze_excite,
    "cell": tiny_models.cell,
}
LARGE = {"resnet50", "densenet121", "efficientnetb0", "mobilenetv3large", "nasnetmobile"}
# The one refusal a valid random architecture may get: some removals make later layers
# wider (a DenseNet layer's Concatenate), so the student outgrows the teacher.
SIZE_REFUSAL = "more trainable parameters than the teacher"


def teacher(name):
    if name not in _TEACHERS:
        if name in APPLICATIONS:
            model = APPLICATIONS[name]()
        elif name in TINY:
            model = TINY[name]()
        else:
            shape = (28, 28, 1) if name == "lenet5" else (32, 32, 3)
            model = models.build(name, shape, 10, width=1.0 if name == "lenet5" else 0.25)
        _TEACHERS[name] = (model, graph.inspect(model))
    return _TEACHERS[name]


def architectures(spec):
    removable = [layer.name for layer in spec.layers if layer.removable]
    shrinkable = [layer.name for layer in spec.layers if layer.shrinkable]
    return st.builds(
        lambda removed, factors: Architecture(
            frozenset(n for n, r in zip(removable, removed, strict=True) if r),
            {n: f for n, f in zip(shrinkable, factors, strict=True)},
        ),
        st.lists(st.booleans(), min_size=len(removable), max_size=len(removable)),
        st.lists(st.sampled_from(FACTORS), min_size=len(shrinkable), max_size=len(shrinkable)),
    )


def check(name, arch) -> bool:
    """Whether ``arch`` built (True) or was refused by size before building (False)."""
    model, spec = teacher(name)
    try:
        params, _ = graph.estimate(model, arch)
    except SurgeryError as err:
        assert SIZE_REFUSAL in str(err), f"{name}: {err}"
        return False
    student = graph.rebuild(model, arch)
    x = np.zeros((1, *spec.input_shape), "float32")
    assert tuple(student(x).shape) == (1, spec.num_outputs)
    assert graph.count_params(student) == params
    return True


PROPERTY_MODELS = [
    *models.available(),
    *TINY,
    "mobilenetv2",
    "mobilenetv3small",
    "efficientnetb0",
    "densenet121",
    "resnet50",
    "nasnetmobile",
]


@pytest.mark.parametrize("name", PROPERTY_MODELS)
def test_random_architectures_build_or_are_rejected(name):
    _, spec = teacher(name)
    examples = EXAMPLES if name not in LARGE else max(EXAMPLES // 4, 2)

    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=not SLOW,
        suppress_health_check=list(HealthCheck),
    )
    @given(architectures(spec))
    def run(arch):
        outcomes.append(check(name, arch))

    outcomes: list[bool] = []
    run()
    assert any(outcomes), f"{name}: none of {len(outcomes)} random architectures was built"


@pytest.mark.parametrize("name", [*APPLICATIONS, *TINY])
def test_identity_reproduces_keras_applications(name):
    model, spec = teacher(name)
    x = np.random.default_rng(0).normal(size=(2, *spec.input_shape)).astype("float32")
    student = graph.rebuild(model, Architecture())
    assert np.abs(np.array(model(x)) - np.array(student(x))).max() < 1e-5
    assert graph.count_params(student) == spec.params
