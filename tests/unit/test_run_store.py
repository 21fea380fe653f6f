"""The run store: one place for a run directory's paths, whole rows, atomic writes."""

import json

import pytest

from n2n_tf.run_store import RunStore


def test_paths_are_the_documented_layout(tmp_path):
    store = RunStore(tmp_path)
    assert store.history() == tmp_path / "history.jsonl"
    assert store.history(random=True) == tmp_path / "random.jsonl"
    assert store.state(random=True) == tmp_path / "checkpoint_random" / "state.json"
    assert store.policy("shrink") == tmp_path / "policies" / "shrink.weights.h5"
    assert store.final_student == tmp_path / "final" / "student.keras"
    assert (store.plan, store.config) == (tmp_path / "plan.json", tmp_path / "config.yaml")


def test_rows_are_appended_whole_and_cut_back_on_resume(tmp_path):
    store = RunStore(tmp_path / "run")
    path = store.history()
    store.append_rows(path, [{"update": 0}, {"update": 1}])
    store.append_rows(path, [{"update": 2}])
    assert [json.loads(x)["update"] for x in path.read_text().splitlines()] == [0, 1, 2]
    store.keep_rows(path, 2)
    assert [json.loads(x)["update"] for x in path.read_text().splitlines()] == [0, 1]
    store.keep_rows(store.history(random=True), 5)  # nothing there: nothing made
    assert not store.history(random=True).exists()


def test_a_failed_write_leaves_the_old_file(tmp_path):
    store = RunStore(tmp_path)
    store.write_json(store.report_json, {"reward": 0.5})
    with pytest.raises(TypeError), store.atomic(store.report_json) as tmp:
        tmp.write_text("{half")
        raise TypeError("killed mid-write")
    assert store.read_json(store.report_json) == {"reward": 0.5}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]
    assert store.read_json(store.plan) is None
