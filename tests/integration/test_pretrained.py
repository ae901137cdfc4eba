"""The model that ships inside the package, and its model card."""

import hashlib
import re
import tomllib
from pathlib import Path

import pytest

from molvae.api import PRETRAINED, MolVAE
from molvae.checkpoint import load_checkpoint
from molvae.cli import main

CARD = Path(__file__).resolve().parents[2] / "docs" / "model_card.md"


@pytest.fixture(scope="module")
def shipped():
    return MolVAE.load(device="cpu")


def _card_config() -> dict:
    """The TOML block under the card's "Configuration" heading."""
    text = CARD.read_text()
    section = text.split("## Configuration", 1)[1]
    block = re.search(r"```toml\n(.*?)```", section, re.S)
    assert block, "the model card's Configuration section has no TOML block"
    return tomllib.loads(block.group(1))


def test_shipped_model_is_small_and_loads_by_default(shipped):
    assert PRETRAINED.is_file() and PRETRAINED.stat().st_size <= 10 * 1024 * 1024
    assert shipped.meta["release"]["card"] == "docs/model_card.md"
    assert shipped.meta["data"]["n_train"] > 1_500_000  # all of MOSES-train, not a subset


def test_shipped_model_samples_valid_molecules(shipped):
    samples = shipped.sample(200, seed=0, valid_only=False)
    assert samples.attrs["raw_validity"] == 1.0 and samples.valid.all()
    assert samples.smiles.nunique() >= 198


def test_card_matches_the_shipped_checkpoint():
    card = _card_config()
    meta = load_checkpoint(PRETRAINED)["meta"]
    assert card["model"] == meta["model_config"]
    run = meta["run_config"]
    for section in ("anneal", "train"):
        for key, value in card[section].items():
            assert run[section][key] == value, f"card says {section}.{key} = {value!r}, checkpoint {run[section][key]!r}"
    assert card["release"]["name"] == meta["release"]["name"]
    assert card["release"]["sha256"] == hashlib.sha256(PRETRAINED.read_bytes()).hexdigest()
    assert card["release"]["selfies"] == meta["selfies"]["version"]
    assert card["release"]["epochs"] == pytest.approx(meta["history"][-1]["epoch"], abs=0.01)
    assert card["release"]["weights_from"] == meta["release"]["derived_from"]["name"]
    for key, value in card["prior"].items():
        assert meta["prior"][key] == value, f"card says prior.{key} = {value!r}, checkpoint {meta['prior'][key]!r}"


def test_shipped_model_samples_from_its_code_bank(shipped):
    bank = shipped.prior
    assert bank is not None and len(bank) == bank.info["size"] and bank.latent_dim == shipped.config.latent_dim
    assert bank.info["source"] == "moses:train" and bank.info["rejected"] == 0
    # its codes have the aggregate posterior's scale (mean squared radius near the latent size)
    radius = float((bank.mu.pow(2) + bank.sigma.pow(2)).sum(1).mean())
    assert 0.5 * shipped.config.latent_dim < radius < 1.5 * shipped.config.latent_dim
    samples = shipped.sample(100, seed=0)
    assert samples.attrs["prior"]["kind"] == "bank" and samples.attrs["prior"]["width"] == bank.width


def test_main_job_runs_on_the_shipped_model(tmp_path, capsys):
    out = tmp_path / "samples.csv"
    assert main(["sample", "-n", "50", "-o", str(out), "-q"]) == 0
    text = capsys.readouterr().out
    assert "properties of the valid molecules" in text and "qed" in text
    header = out.read_text().splitlines()[0].split(",")
    assert header == ["smiles", "valid", "selfies", "qed", "logp", "sa", "mw"]
    assert "prior=bank(" in text  # the main job draws from the shipped code bank
