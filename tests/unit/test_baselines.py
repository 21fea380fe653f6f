"""The hand-made baselines as library methods: L1-norm uniform-ratio pruning at a size,
the same widths from scratch, and a method registered from outside."""

import keras
import numpy as np
import pytest

from n2n_tf import graph, models
from n2n_tf.search.baselines import (
    METHODS,
    check_method,
    matching_factor,
    method_names,
    register_method,
    uniform_architecture,
)


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
    import toy_method  # noqa: F401 - registers ``half_the_layers``

    spec = graph.inspect(teacher)
    arch = METHODS["half_the_layers"].at_size(teacher, spec, int(spec.params * 0.7))
    assert 0 < len(arch.factors) < len([x for x in spec.layers if x.shrinkable])
    assert graph.estimate(teacher, arch)[0] < spec.params
    assert "half_the_layers" in method_names() and method_names()[:2] == ("n2n", "random")
    with pytest.raises(ValueError, match="Method with a name"):
        register_method(object())


def test_an_unknown_method_is_refused_in_one_line_naming_the_known_ones():
    with pytest.raises(ValueError, match="search.method must be one of: n2n, random, l1") as err:
        check_method("magic")
    assert "\n" not in str(err.value) and "Received: search.method='magic'" in str(err.value)


@pytest.mark.parametrize("method", ["l1", "half_the_layers", "random"])
def test_a_method_runs_through_the_compress_job(tmp_path, method):
    import json

    import toy_method  # noqa: F401

    from n2n_tf import data
    from n2n_tf.config import load_config
    from n2n_tf.jobs.compress import compress

    keras.utils.set_random_seed(0)
    sets = ["data.batch_size=128", "distill.epochs=1", "distill.finetune_epochs=1"]
    sets += ["search.rollouts=2", "search.removal_updates=1", "search.shrink_updates=1"]
    config = load_config(None, [*sets, "search.hidden=8", "search.width=0.5"])
    ds = data.load("digits", batch_size=128)
    teacher = models.build("lenet5", (8, 8, 1), 10)
    teacher_params = graph.count_params(teacher)
    max_params = int(teacher_params * 0.3)
    config = (
        load_config(None, [*sets, f"search.max_params={max_params}"]) if method == "l1" else config
    )
    result = compress(teacher, ds, config, out=tmp_path, formats=(), force=True, method=method)
    m = result.metrics
    assert m["method"] == method and m["student"]["params"] < teacher_params
    assert m["student"]["test_accuracy"] is not None
    assert (tmp_path / "final" / "student.keras").is_file()
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["method"] == method
    if method == "random":  # the search loop with random policies: its samples are kept
        assert (tmp_path / "random.jsonl").is_file() and m["students_trained"] > 0
        assert not (tmp_path / "policies").exists()
        return
    assert m["search"] is None and m["students_trained"] == 0  # no search, no scored students
    assert not (tmp_path / "history.jsonl").exists()
    if method == "l1":  # L1 at --max-params: the uniform width nearest that size
        assert abs(m["student"]["params"] - max_params) / max_params < 0.15
        assert len(set(m["student"]["architecture"]["factors"].values())) == 1
    else:
        narrowed = m["student"]["architecture"]["factors"]
        assert set(narrowed.values()) == {0.5} and len(narrowed) >= 1
    assert f"- **method**: {method} (no search)" in (tmp_path / "report.md").read_text()
