"""Shared fixtures: small data under tests/data and a tiny model trained once per session."""

from pathlib import Path

import pytest
import rdkit

DATA = Path(__file__).parent / "data"
RDKIT_DATA = Path(rdkit.__file__).parent / "Data"
RDKIT_CONTRIB = Path(rdkit.__file__).parent / "Contrib"


@pytest.fixture(scope="session")
def moses_300() -> Path:
    """300 molecules from the MOSES training set."""
    return DATA / "moses_300.csv"


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory, monkeypatch):
    # Tests never read or write the user's preprocessing cache.
    monkeypatch.setenv("MOLVAE_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


def tiny_config(train_path: Path, **train):
    from molvae.config import load_config

    overrides = {
        "data.train": str(train_path), "data.val_fraction": 0.1, "data.workers": 1,
        "model.embed_dim": 16, "model.encoder_hidden": 32, "model.latent_dim": 8,
        "model.decoder_hidden": 64, "model.decoder_layers": 1, "model.dropout": 0.0,
        "train.batch_size": 32, "train.epochs": 2, "train.precision": "fp32", "anneal.warmup_epochs": 1.0,
    }
    overrides.update({f"train.{k}": v for k, v in train.items()})
    return load_config(None, overrides)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, moses_300) -> Path:
    """Folder of a tiny model trained for a few epochs on 300 MOSES molecules."""
    import os

    from molvae.api import train

    out = tmp_path_factory.mktemp("tiny_run")
    os.environ.setdefault("MOLVAE_CACHE", str(out / "cache"))
    train(tiny_config(moses_300, epochs=8), out, progress=False)
    return out


@pytest.fixture(scope="session")
def tiny_model(tiny_run):
    from molvae.api import MolVAE

    return MolVAE.load(tiny_run / "best.pt", device="cpu")
