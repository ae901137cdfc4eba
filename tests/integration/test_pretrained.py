"""The models that ship inside the package, and their model card."""

import hashlib
import json
import math
import re
import tomllib
from pathlib import Path

import pytest
from rdkit import Chem

from molvae.api import PRETRAINED, MolVAE
from molvae.checkpoint import load_checkpoint
from molvae.domain import largest_ring
from molvae.cli import main
from molvae.errors import CheckpointError
from molvae.cli.main import build_parser
from molvae.io import provenance
from molvae.shipped import DEFAULTS, SHIPPED, USES, default_model, resolve_model, shipped_model

CARD = Path(__file__).resolve().parents[2] / "docs" / "model_card.md"
NAMES = [m.name for m in SHIPPED]


@pytest.fixture(scope="module", params=NAMES)
def shipped(request):
    vae = MolVAE.load(request.param, device="cpu")
    # the file under each name is that release (not, say, a copy of another shipped model)
    assert vae.meta["release"]["name"] == request.param and vae.path == shipped_model(request.param).path
    return vae


def _card_config(name: str) -> dict:
    """The TOML block under the card's "Configuration: NAME" heading."""
    text = CARD.read_text()
    heading = f"## Configuration: {name}\n"
    assert heading in text, f"the model card has no section {heading.strip()!r}"
    section = text.split(heading, 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```toml\n(.*?)```", section, re.S)
    assert block, f"the model card's Configuration section of {name} has no TOML block"
    return tomllib.loads(block.group(1))


def _epochs_trained(meta: dict) -> float:
    """Epochs of the run the checkpoint comes from: where it stood (its progress, recorded since the
    campaign), else the last finished epoch, or the step within the first."""
    if meta.get("progress") is not None:
        return meta["progress"]
    if meta["history"]:
        return meta["history"][-1]["epoch"]
    batches = math.ceil(meta["data"]["n_train"] / meta["run_config"]["train"]["batch_size"])
    return meta["step"] / batches


def test_every_verb_has_a_shipped_default_and_the_latent_one_is_the_api_default():
    assert set(DEFAULTS) == set(USES) and set(DEFAULTS.values()) <= set(NAMES)
    assert PRETRAINED == default_model("latent").path
    assert resolve_model(None, use="sample") == default_model("sample").path
    assert resolve_model(DEFAULTS["latent"], use="sample") == default_model("latent").path
    with pytest.raises(CheckpointError, match="molvae-moses-v0.4"):
        resolve_model("molvae-moses-v9", use="sample")  # neither a file nor a shipped name: the names are listed


def test_shipped_models_are_small_and_load_by_name(shipped):
    path = resolve_model(shipped.meta["release"]["name"])
    assert path.is_file() and path.stat().st_size <= 10 * 1024 * 1024
    assert shipped.meta["release"]["card"] == "docs/model_card.md"
    assert shipped.meta["data"]["n_train"] > 1_500_000  # all of MOSES-train, not a subset
    # an output's provenance names the model by its name or by its file alike
    name = shipped.meta["release"]["name"]
    by_name, by_path = provenance(name)["model"], provenance(path)["model"]
    assert by_name == by_path and by_name["name"] == name and by_name["path"] == str(path.resolve())


def test_shipped_models_sample_valid_molecules(shipped):
    samples = shipped.sample(200, seed=0, valid_only=False)
    assert samples.attrs["raw_validity"] == 1.0 and samples.valid.all()
    assert samples.smiles.nunique() >= 198


@pytest.mark.parametrize("name", NAMES)
def test_card_matches_the_shipped_checkpoint(name):
    path = resolve_model(name)
    card = _card_config(name)
    meta = load_checkpoint(path)["meta"]
    assert card["model"] == meta["model_config"]
    run = meta["run_config"]
    for section in ("anneal", "train"):
        for key, value in card[section].items():
            assert run[section][key] == value, f"card says {section}.{key} = {value!r}, checkpoint {run[section][key]!r}"
    assert card["release"]["name"] == meta["release"]["name"] == name
    assert card["release"]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert card["release"]["selfies"] == meta["selfies"]["version"]
    assert card["release"]["epochs"] == pytest.approx(_epochs_trained(meta), abs=0.01)
    assert card["release"].get("weights_from") == meta["release"].get("derived_from", {}).get("name")
    for key, value in card.get("domain", {}).items():  # the property ranges encode and reconstruct mark against
        recorded = meta["domain"]["max_ring"] if key == "max_ring" else meta["domain"]["ranges"][key]
        assert recorded == value, f"card says domain.{key} = {value}, checkpoint {meta['domain']}"
    for key, value in card["prior"].items():
        assert meta["prior"][key] == value, f"card says prior.{key} = {value!r}, checkpoint {meta['prior'][key]!r}"


def test_shipped_models_sample_from_their_code_banks(shipped):
    bank = shipped.prior
    assert bank is not None and len(bank) == bank.info["size"] and bank.latent_dim == shipped.config.latent_dim
    assert bank.info["source"] == "moses:train" and bank.info["rejected"] == 0
    # its codes have the aggregate posterior's scale (mean squared radius near the latent size)
    radius = float((bank.mu.pow(2) + bank.sigma.pow(2)).sum(1).mean())
    assert 0.5 * shipped.config.latent_dim < radius < 1.5 * shipped.config.latent_dim
    samples = shipped.sample(100, seed=0)
    assert samples.attrs["prior"]["kind"] == "bank" and samples.attrs["prior"]["width"] == bank.width
    assert samples.attrs["temperature"] == bank.temperature  # decoded at the temperature stored with the bank
    # the sampling default screens out rings larger than its training molecules' largest (MOSES: 7 atoms)
    if shipped.domain.max_ring:
        assert shipped.domain.max_ring == 7
        assert largest_ring(Chem.MolFromSmiles(s) for s in samples.smiles) <= 7


def test_main_job_runs_on_the_sampling_model(tmp_path, capsys):
    out = tmp_path / "samples.csv"
    assert main(["sample", "-n", "50", "-o", str(out), "-q"]) == 0
    text = capsys.readouterr().out
    assert "properties of the valid molecules" in text and "qed" in text
    header = out.read_text().splitlines()[0].split(",")
    assert header == ["smiles", "valid", "selfies", "qed", "logp", "sa", "mw"]
    assert "prior=bank(" in text  # the main job draws from the shipped code bank
    assert f"[model: {DEFAULTS['sample']}]" in text  # and says which model it used
    made_by = (tmp_path / "samples.csv.meta.json").read_text()
    assert DEFAULTS["sample"] in made_by and DEFAULTS["latent"] not in made_by


def test_models_lists_each_shipped_model_with_what_it_is_the_default_for(capsys):
    assert main(["models"]) == 0
    text = capsys.readouterr().out
    lines = {line.split()[0]: line for line in text.splitlines() if "default for:" in line}
    for verb, parser in build_parser().verbs.items():  # each verb that loads a model, on its model's line
        use = parser.get_default("model_use")
        if use:
            assert re.search(rf"default for: .*\b{verb}\b", lines[DEFAULTS[use]]), (verb, text)


def test_each_verb_that_loads_a_model_names_the_work_it_does():
    parsers = build_parser().verbs
    uses = {verb: p.get_default("model_use") for verb, p in parsers.items() if p.get_default("model_use")}
    assert set(uses.values()) <= set(USES)
    assert uses["sample"] == uses["fit-prior"] == "sample"
    assert uses["optimize"] == "optimize"
    assert all(uses[verb] == "latent" for verb in ("encode", "reconstruct", "explore", "fit-predictor", "diagnose"))


def test_a_latent_verb_takes_a_shipped_model_by_name_and_records_it(tmp_path, capsys):
    src = tmp_path / "in.csv"
    src.write_text("smiles\nCCO\nc1ccccc1O\n")
    out = tmp_path / "z.csv"
    for name in NAMES:
        assert main(["encode", str(src), "-m", name, "-o", str(out), "-q"]) == 0
        made_by = json.loads((tmp_path / "z.csv.meta.json").read_text())["model"]
        assert made_by["name"] == name and made_by["sha256"] == hashlib.sha256(shipped_model(name).path.read_bytes()).hexdigest()
    assert main(["encode", str(src), "-m", "molvae-moses-v9", "-o", str(out), "-q"]) == 2
    err = capsys.readouterr().err
    assert "molvae-moses-v9" in err and "Traceback" not in err
