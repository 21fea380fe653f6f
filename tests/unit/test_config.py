import pytest
import yaml

from n2n_tf.config import (
    Config,
    default_config_path,
    from_dict,
    load_config,
    parse_override,
    save_config,
    to_dict,
)


def test_defaults_round_trip_through_yaml(tmp_path):
    config = load_config(default_config_path(), ["data.image_size=[16, 16]"])
    path = save_config(config, tmp_path / "run" / "config.yaml")
    assert load_config(path) == config
    assert config.data.image_size == (16, 16)


def test_embedded_demo_config_loads():
    config = load_config(default_config_path())
    assert isinstance(config, Config)
    assert config.data.dataset == "mnist5k"


def test_unknown_key_is_rejected_with_suggestion():
    with pytest.raises(
        ValueError, match=r"Unknown config key `teacher.epoch`.*Did you mean `epochs`"
    ):
        from_dict({"teacher": {"epoch": 3}})


def test_unknown_section_is_rejected():
    with pytest.raises(ValueError, match=r"Unknown config key `dta`.*Did you mean `data`"):
        from_dict({"dta": {}})


@pytest.mark.parametrize(
    ("override", "pattern"),
    [
        ("data.val_fraction=1.5", r"`data.val_fraction` must be in \[0.0, 0.9\]"),
        ("teacher.epochs=0", r"`teacher.epochs` must be in \[1, 10000\]"),
        ("teacher.optimizer=adma", r"must be one of: adam, sgd. Did you mean `adam`"),
        ("teacher.epochs=three", r"expects a value of type int"),
        ("data.cache=1", r"expects a value of type bool"),
        ("data.image_size=[1, 2, 3]", r"expects a list of 2 values"),
    ],
)
def test_bad_values_are_rejected_with_the_allowed_range(override, pattern):
    with pytest.raises(ValueError, match=pattern):
        load_config(None, [override])


def test_overrides_win_over_the_file_in_order(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"teacher": {"epochs": 5, "arch": "vgg11"}}))
    config = load_config(path, [{"teacher": {"epochs": 7}}, "teacher.epochs=9"])
    assert config.teacher.epochs == 9
    assert config.teacher.arch == "vgg11"


def test_ints_are_accepted_for_floats():
    assert load_config(None, ["teacher.learning_rate=1"]).teacher.learning_rate == 1.0


def test_parse_override_requires_equals():
    assert parse_override("a.b=[1, 2]") == {"a": {"b": [1, 2]}}
    with pytest.raises(ValueError, match="section.key=value"):
        parse_override("teacher.epochs")


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(ValueError, match="Config file not found"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("data: [unclosed")
    with pytest.raises(ValueError, match="not valid YAML"):
        load_config(bad)


def test_config_is_frozen():
    config = Config()
    with pytest.raises(AttributeError):
        config.data = None
    assert to_dict(config)["runtime"]["seed"] == 0


def test_every_preset_in_configs_loads():
    from pathlib import Path

    presets = sorted(Path(default_config_path()).parent.glob("*.yaml"))
    names = {p.stem for p in presets}
    assert {"demo", "cifar10-resnet18", "cifar10-resnet34", "cifar10-vgg19"} <= names
    assert {"cifar100-resnet18", "svhn-resnet18", "mnist-vgg13"} <= names
    for path in presets:
        assert isinstance(load_config(path), Config), path


def test_a_saved_config_loads_again_with_its_empty_lists(tmp_path):
    from n2n_tf.config import save_config

    config = load_config(None, ["search.compare=[l1]"])
    assert config.search.screen_reward == () and config.search.compare == ("l1",)
    save_config(config, tmp_path / "config.yaml")
    assert load_config(str(tmp_path / "config.yaml")) == config  # --resume reads it back
    assert load_config(None, ["search.compare=[]"]).search.compare == ()
    with pytest.raises(ValueError, match="non-empty list"):
        load_config(None, ["search.stages=[]"])  # a list that must not be empty
