"""Shared fixtures: small data under tests/data and a tiny model trained once per session."""

import os
from pathlib import Path

_WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
if _WORKERS > 1:
    # Workers sharing the cores split them (before numpy, torch or RDKit start their thread pools):
    # two workers of two OpenMP threads each on two cores spin against each other and ran the suite
    # slower than one process did. (`pytest -n 0` keeps the default threads.)
    _threads = str(max(1, (os.cpu_count() or 1) // _WORKERS))
    for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[_var] = _threads

import pytest  # noqa: E402
import rdkit  # noqa: E402

DATA = Path(__file__).parent / "data"
RDKIT_DATA = Path(rdkit.__file__).parent / "Data"
RDKIT_CONTRIB = Path(rdkit.__file__).parent / "Contrib"


def token_batch(vocab_size: int, b: int = 5, t: int = 9, seed: int = 0):
    """Random token ids (b, t), each row ending in <eos> then padding, and their lengths (b,); row 0 is full."""
    import torch

    from molvae.model import SpecialIds

    ids = SpecialIds()
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(2, t + 1, (b,), generator=g)
    lengths[0] = t
    tokens = torch.randint(4, vocab_size, (b, t), generator=g)
    for i, n in enumerate(lengths):
        tokens[i, n - 1] = ids.eos
        tokens[i, n:] = ids.pad
    return tokens, lengths


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
