"""Configs from files and dicts, overrides, and the errors they raise."""
from __future__ import annotations

import pytest

import trainer_engine as te
from conftest import config_text


def test_file_and_dict_and_overrides(tiny_config):
    c = te.load_config(tiny_config, {"optim.lr": 0.02, "train.epochs": 3})
    assert c.path == str(tiny_config)
    assert c.overrides == ["optim.lr=0.02", "train.epochs=3"]
    resolved = c.resolved_yaml
    assert "lr: 0.02" in resolved and "epochs: 3" in resolved
    d = te.load_config({"model": {"preset": "simple_cnn"}, "data": {"train": "/x", "image_size": 32}},
                       ["data.batch_size=16"])
    assert "batch_size: 16" in d.resolved_yaml and "image_size: 32" in d.resolved_yaml
    assert te.load_config(c) is c
    assert "epochs: 5" in te.load_config(c, ["train.epochs=5"]).resolved_yaml


def test_unknown_key_names_file_line_key_and_suggestion(tiny_data, tmp_path):
    path = tmp_path / "typo.yaml"
    path.write_text(config_text(tiny_data).replace("  lr: 0.05", "  lrr: 0.05"))
    line = 1 + config_text(tiny_data).splitlines().index("  lr: 0.05")
    with pytest.raises(te.ConfigError) as e:
        te.load_config(path)
    assert isinstance(e.value, ValueError)
    msg = str(e.value)
    assert f"{path}:{line}" in msg and "optim.lrr" in msg and "did you mean 'lr'" in msg


def test_bad_override_and_bad_value(tiny_config):
    with pytest.raises(te.ConfigError, match="optim.lrr"):
        te.load_config(tiny_config, ["optim.lrr=0.1"])
    with pytest.raises(ValueError, match="train.epochs"):
        te.load_config(tiny_config, {"train.epochs": "many"})


def test_wrong_types_and_missing_file(tmp_path):
    with pytest.raises(TypeError, match="keys must be strings"):
        te.load_config({"model": {1: 2}})
    with pytest.raises(TypeError, match="object"):
        te.load_config({"model": object()})
    with pytest.raises(TypeError):
        te.load_config(42)
    with pytest.raises(TypeError):
        te.load_config({"model": {}}, "optim.lr=1")
    with pytest.raises(FileNotFoundError) as e:
        te.load_config(tmp_path / "none.yaml")
    assert e.value.filename == str(tmp_path / "none.yaml")
