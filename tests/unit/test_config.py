import pytest

from molvae.config import RunConfig, load_config
from molvae.errors import ConfigError


def test_defaults_then_file_then_overrides(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text('[model]\nlatent_dim = 32\n[train]\nepochs = 3\nlr = 0.01\n[data]\nsmiles_column = "smi"\n')
    cfg = load_config(path, {"train.epochs": "5", "anneal.schedule": "cyclical"})
    assert cfg.model.latent_dim == 32 and cfg.train.lr == 0.01 and cfg.data.smiles_column == "smi"
    assert cfg.train.epochs == 5 and cfg.anneal.schedule == "cyclical"
    assert cfg.model.decoder_hidden == RunConfig().model.decoder_hidden


def test_toml_round_trip(tmp_path):
    cfg = load_config(None, {"model.latent_dim": 12, "data.val": "v.csv", "anneal.beta": 0.25})
    path = tmp_path / "config.toml"
    path.write_text(cfg.to_toml())
    assert load_config(path) == cfg


@pytest.mark.parametrize("text, match", [
    ("[model]\nlatent = 3\n", "unknown setting"),
    ("[modle]\nlatent_dim = 3\n", "unknown config section"),
    ('[train]\nepochs = "many"\n', "train.epochs must be int"),
    ("[train]\nepochs = 2.5\n", "train.epochs must be int"),
    ("[train\n", "not valid TOML"),
])
def test_bad_files_are_config_errors(tmp_path, text, match):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=match):
        load_config(path)


def test_missing_file():
    with pytest.raises(ConfigError, match="not found"):
        load_config("/nonexistent/run.toml")


@pytest.mark.parametrize("key, value, match", [
    ("train.epochs", 0, "train.epochs must be above 0"),
    ("train.lr", -0.1, "train.lr must be above 0"),
    ("anneal.free_bits", -1, "anneal.free_bits must be at least 0"),
    ("anneal.word_dropout", 1.0, r"anneal.word_dropout must be in \[0, 1\)"),
    ("data.val_fraction", 1.5, "data.val_fraction"),
])
def test_out_of_range_values_are_config_errors(key, value, match):
    with pytest.raises(ConfigError, match=match):
        load_config(None, {key: value})
