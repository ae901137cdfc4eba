"""The Python API on a tiny trained model."""

import numpy as np
import pandas as pd
import pytest
import torch

from molvae.api import MolVAE
from molvae.chem import canonical_smiles
from molvae.errors import MolvaeError


def test_checkpoint_round_trip(tiny_model, tmp_path):
    path = tiny_model.save(tmp_path / "copy.pt")
    again = MolVAE.load(path, device="cpu")
    assert again.vocab == tiny_model.vocab and again.config == tiny_model.config
    for k, v in tiny_model.model.state_dict().items():
        torch.testing.assert_close(again.model.state_dict()[k], v)
    smiles = ["CCO", "c1ccccc1"]
    np.testing.assert_allclose(again.encode(smiles), tiny_model.encode(smiles))


def test_checkpoint_records_provenance(tiny_run):
    from molvae.checkpoint import load_checkpoint

    meta = load_checkpoint(tiny_run / "best.pt")["meta"]
    assert meta["selfies"]["version"] and meta["selfies"]["constraints"]["C"] == 4
    assert meta["data"]["n_train"] + meta["data"]["n_val"] == 300
    assert meta["run_config"]["model"]["latent_dim"] == 8


def test_encode_decode_shapes(tiny_model):
    z = tiny_model.encode(["CCO", "c1ccccc1", "CC(=O)O"])
    assert z.shape == (3, 8) and np.isfinite(z).all()
    mu, logvar = tiny_model.encode(["CCO"], return_logvar=True)
    assert mu.shape == logvar.shape == (1, 8)
    out = tiny_model.decode(z)
    assert len(out) == 3


def test_encode_names_bad_rows(tiny_model):
    with pytest.raises(MolvaeError, match=r"row 1 \('xx'\)"):
        tiny_model.encode(["CCO", "xx"])
    z = tiny_model.encode(["CCO", "xx"], errors="nan")
    assert np.isfinite(z[0]).all() and np.isnan(z[1]).all()


def test_sample_is_seeded_and_valid(tiny_model):
    a = tiny_model.sample(50, seed=1)
    b = tiny_model.sample(50, seed=1)
    assert a.smiles.tolist() == b.smiles.tolist()
    assert a.valid.all() and 0 < a.attrs["raw_validity"] <= 1
    raw = tiny_model.sample(50, seed=1, valid_only=False)
    assert len(raw) == 50 and raw.valid.mean() == pytest.approx(raw.attrs["raw_validity"])


def test_relaxed_sampling_discards_slips_and_counts_them(tiny_model):
    """The same draws decoded under relaxed constraints: some are refused and discarded, every one kept
    is a valid molecule, raw_validity counts the discarded ones, and valid_only fills up with new draws."""
    plain = tiny_model.sample(200, seed=3, valid_only=False)
    relaxed = tiny_model.sample(200, seed=3, valid_only=False, relax=1)
    assert plain.selfies.tolist() == relaxed.selfies.tolist()  # the same draws
    kept = relaxed.valid.to_numpy()
    assert 0 < kept.mean() < 1 and relaxed.attrs["raw_validity"] == pytest.approx(kept.mean())
    assert all(canonical_smiles(s) == s for s in relaxed.smiles[kept])
    filled = tiny_model.sample(50, seed=3, relax=1)
    assert len(filled) == 50 and filled.valid.all() and filled.attrs["raw_validity"] < 1
    with pytest.raises(MolvaeError, match="relax"):
        tiny_model.sample(5, relax=-1)


def test_reconstruct_keeps_every_row(tiny_model, moses_300):
    smiles = pd.read_csv(moses_300).SMILES.tolist()[:20] + ["", "C1CC"]
    df = tiny_model.reconstruct(smiles)
    assert len(df) == 22 and list(df.columns) == ["input", "canonical", "reconstructed", "exact", "reason",
                                                  "in_domain", "domain_note"]
    assert (df.reason[:20] == "").all() and df.reason[20] == "empty SMILES"
    assert df.in_domain[:20].all() and not df.in_domain[20:].any()  # MOSES molecules, then no molecule
    assert not df.exact[20:].any()


def test_training_is_repeatable(moses_300, tmp_path):
    from conftest import tiny_config
    from molvae.api import train

    logs = []
    for name in ("a", "b"):
        train(tiny_config(moses_300, epochs=1), tmp_path / name, progress=False)
        logs.append(pd.read_csv(tmp_path / name / "log.csv").drop(columns=["elapsed_s", "train_mol_per_s", "data_wait_fraction"]))
    pd.testing.assert_frame_equal(logs[0], logs[1])


def test_sampling_in_worker_processes_and_streamed_csv_match(tiny_model, tmp_path):
    inline = tiny_model.sample(300, seed=3, batch_size=64, workers=0)
    pooled = tiny_model.sample(300, seed=3, batch_size=64, workers=1)
    pd.testing.assert_frame_equal(inline, pooled)  # the draws do not depend on the workers
    summary = tiny_model.sample_to_csv(tmp_path / "s.csv", 300, seed=3, batch_size=64, workers=1)
    streamed = pd.read_csv(tmp_path / "s.csv", keep_default_na=False)
    assert streamed.smiles.tolist() == inline.smiles.tolist() and len(streamed) == summary["n"] == 300
    assert summary["raw_validity"] == round(inline.attrs["raw_validity"], 4)
    assert summary["unique_of_valid"] == round(inline.smiles.nunique() / 300, 4)


def test_bf16_inference_gives_fp32_arrays_close_to_fp32(tiny_run):
    from molvae.api import MolVAE

    fp32 = MolVAE.load(tiny_run / "best.pt", device="cpu")
    bf16 = MolVAE.load(tiny_run / "best.pt", device="cpu", precision="bf16")
    smiles = ["CCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1"]
    a, b = fp32.encode(smiles), bf16.encode(smiles)
    assert b.dtype == np.float32 and np.isfinite(b).all()
    assert np.abs(a - b).max() < 0.05 * (np.abs(a).max() + 1)
    assert bf16.sample(50, seed=0).valid.all()


@pytest.mark.slow
def test_compiled_training_step_trains(moses_300, tmp_path):
    from conftest import tiny_config
    from molvae.api import train

    train(tiny_config(moses_300, epochs=2, compile=True), tmp_path, progress=False)
    log = pd.read_csv(tmp_path / "log.csv")
    assert log.train_loss.iloc[-1] < log.train_loss.iloc[0] and np.isfinite(log.val_nelbo).all()


def test_fine_tune_starts_from_the_checkpoint(tiny_run, tiny_model, tmp_path):
    """init_from: the weights, vocabulary and sizes come from the checkpoint; molecules with
    tokens outside its vocabulary are rejected; the provenance names the starting checkpoint."""
    from conftest import tiny_config
    from molvae.api import train
    from molvae.checkpoint import load_checkpoint

    data = tmp_path / "own.csv"
    pd.DataFrame({"smiles": ["CCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1", "CCN(CC)CC", "[Se]1C=CC=C1"] * 8}).to_csv(data, index=False)
    cfg = tiny_config(data, epochs=1, lr=1e-12, init_from=str(tiny_run / "best.pt"))
    cfg.model.latent_dim = 5  # ignored: the checkpoint decides the model
    train(cfg, tmp_path / "ft", progress=False)
    tuned = MolVAE.load(tmp_path / "ft" / "last.pt", device="cpu")
    assert tuned.vocab == tiny_model.vocab and tuned.config == tiny_model.config
    for k, v in tiny_model.model.state_dict().items():  # a vanishing learning rate: weights unchanged
        torch.testing.assert_close(tuned.model.state_dict()[k], v, rtol=1e-5, atol=1e-6)
    rejects = pd.read_csv(tmp_path / "ft" / "rejects.csv")
    assert len(rejects) == 8 and rejects.reason.str.contains("vocabulary").all()
    meta = load_checkpoint(tmp_path / "ft" / "last.pt")["meta"]
    assert meta["init_from"]["path"].endswith("best.pt") and len(meta["init_from"]["sha256"]) == 64


def test_fine_tune_can_grow_the_model_first(tiny_run, tiny_model, tmp_path):
    """train.grow: a fine-tune starts from the checkpoint grown to the sizes asked for, computing
    what it computed (the new latent dimensions unused); without init_from it is a ConfigError."""
    from conftest import tiny_config
    from molvae.api import train
    from molvae.errors import ConfigError

    data = tmp_path / "own.csv"
    pd.DataFrame({"smiles": ["CCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1", "CCN(CC)CC"] * 8}).to_csv(data, index=False)
    old = tiny_model.config
    sizes = f"latent_dim={old.latent_dim + 4},decoder_hidden={old.decoder_hidden + 8}"
    train(tiny_config(data, epochs=1, lr=1e-12, init_from=str(tiny_run / "best.pt"), grow=sizes),
          tmp_path / "ft", progress=False)
    grown = MolVAE.load(tmp_path / "ft" / "last.pt", device="cpu")
    assert (grown.config.latent_dim, grown.config.decoder_hidden) == (old.latent_dim + 4, old.decoder_hidden + 8)
    smiles = ["CCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1"]
    z = tiny_model.encode(smiles)
    z_grown = grown.encode(smiles)
    np.testing.assert_allclose(z_grown[:, :old.latent_dim], z, atol=1e-5)
    assert np.abs(z_grown[:, old.latent_dim:]).max() < 1e-6
    assert grown.decode(z_grown) == tiny_model.decode(z)
    with pytest.raises(ConfigError, match="init_from"):
        train(tiny_config(data, epochs=1, grow=sizes), tmp_path / "bad", progress=False)


def test_best_checkpoint_is_chosen_by_the_training_objective(tiny_run):
    """best.pt = the lowest validation recon + beta * KL at the final beta, not the ELBO (which
    would favour early low-KL epochs whenever beta < 1)."""
    from molvae.checkpoint import load_checkpoint

    log = pd.read_csv(tiny_run / "log.csv")
    beta = load_checkpoint(tiny_run / "best.pt")["meta"]["run_config"]["anneal"]["beta"]
    np.testing.assert_allclose(log.val_objective, log.val_recon + beta * log.val_kl, rtol=1e-4)
    best_epoch = load_checkpoint(tiny_run / "best.pt")["meta"]["history"][-1]["epoch"]
    assert best_epoch == log.epoch[log.val_objective.idxmin()]


def test_package_level_train_is_the_function_whatever_was_imported_first():
    import subprocess
    import sys

    for first in ("from molvae import load_config, train", "from molvae import MolVAE, train",
                  "import molvae.api; from molvae import train", "import molvae.trainer; from molvae import train"):
        code = f"{first}\nimport molvae.api\nassert train is molvae.api.train, train"
        subprocess.run([sys.executable, "-c", code], check=True)


def test_sampling_screens_out_slips_and_counts_them(tiny_model, monkeypatch):
    """A molecule the model could not read back is a slip: redrawn by default, kept with its reason
    when invalid draws are kept. A vocabulary without the oxygen tokens makes every O-molecule one."""
    import molvae.sampling as sampling
    from molvae.chem import slip_reason

    real = sampling.decode_screened
    monkeypatch.setattr(sampling, "decode_screened", lambda selfies, constraints, model_constraints, tokens, max_ring: real(
        selfies, constraints, model_constraints, frozenset(t for t in tokens if "O" not in t), max_ring))
    raw = tiny_model.sample(200, seed=2, valid_only=False)
    slipped = raw.slip != ""
    has_o = raw.smiles.str.contains("O|o")
    assert (raw.valid & has_o).any() and slipped[raw.valid & has_o].all()  # every O-molecule is a slip now
    assert raw.attrs["slips"] == raw.slip[slipped].value_counts().to_dict()
    assert raw.attrs["redrawn"] == pytest.approx(1 - (raw.valid & ~slipped).mean())
    screened = tiny_model.sample(100, seed=2)
    assert len(screened) == 100 and not screened.smiles.str.contains("O|o").any() and screened.attrs["redrawn"] > 0
    monkeypatch.undo()
    kept = tiny_model.sample(100, seed=2, screen=False)
    assert kept.attrs["slips"] == {} and "slip" not in kept
    clean = tiny_model.sample(100, seed=2)  # with the model's own vocabulary: nothing emitted is a slip
    tokens = frozenset(tiny_model.vocab.tokens)
    from molvae.chem import selfies_constraints

    with selfies_constraints(tiny_model.constraints):
        assert all(slip_reason(s, tokens) is None for s in clean.smiles)


# ----------------------------------------------------------------------------- one string is one molecule


def test_one_smiles_string_is_one_molecule(tiny_model):
    z = tiny_model.encode("CCO")
    assert z.shape == (1, tiny_model.config.latent_dim)
    np.testing.assert_array_equal(z, tiny_model.encode(["CCO"]))
    mu, logvar = tiny_model.encode("CCO", return_logvar=True)
    assert mu.shape == logvar.shape == (1, tiny_model.config.latent_dim)
    rec = tiny_model.reconstruct("CCO")
    assert rec.input.tolist() == ["CCO"] and rec.canonical.tolist() == ["CCO"]
    assert len(tiny_model.prepare("c1ccccc1O")) == 1
    assert tiny_model.decode(z[0]) == tiny_model.decode(z)  # one point (latent_dim,) is a batch of one
    assert len(tiny_model.decode(torch.from_numpy(z[0]))) == 1


def test_molecules_of_the_wrong_kind_are_refused_clearly(tiny_model):
    from molvae.errors import InvalidInput

    table = pd.DataFrame({"name": ["ethanol"], "smiles": ["CCO"]})
    with pytest.raises(InvalidInput, match="2 columns"):
        tiny_model.encode(table)
    np.testing.assert_array_equal(tiny_model.encode(table[["smiles"]]), tiny_model.encode("CCO"))
    with pytest.raises(InvalidInput, match="got int"):
        tiny_model.encode(42)
    with pytest.raises(InvalidInput, match="shape"):
        tiny_model.decode(np.zeros((2, 3)))


def test_python_errors_name_the_python_settings(tiny_model, tmp_path):
    """A Python caller is told the keyword arguments, never a command-line flag."""
    from molvae.errors import InputFileError
    from molvae.io import read_smiles

    with pytest.raises(MolvaeError) as exc:
        tiny_model.encode(["CCO", "CC(=O)[O-]", "CCN.Cl"])
    message = str(exc.value)
    assert "standardize=True makes it readable" in message and "keep the largest with largest_fragment=True" in message
    assert 'errors="nan" gives them rows of NaN' in message and "--" not in message
    numbers = tmp_path / "ids.csv"
    numbers.write_text("id,weight\n1,2\n3,4\n5,6\n")
    with pytest.raises(InputFileError) as exc:
        read_smiles(numbers)
    assert "column=NAME" in str(exc.value) and "--smiles-column" not in str(exc.value)
    clean = MolVAE.load(tiny_model.path, device="cpu", standardize=True, largest_fragment=True)
    assert np.isfinite(clean.encode(["CC(=O)[O-]", "CCN.Cl"])).all()  # the spelling the hint gives works


def test_repr_says_what_the_model_is(tiny_model):
    text = repr(tiny_model)
    assert text.startswith(f"MolVAE({tiny_model.path}: latent 8,") and f"vocabulary {len(tiny_model.vocab)} tokens" in text
    assert "prior N(0, I)" in text and "cpu, fp32" in text


def test_the_default_model_for_sampling_is_the_one_molvae_sample_uses():
    """MolVAE.load(use="sample") is what `molvae sample` loads; sampling from MolVAE.load() (the
    latent tools' model) says that it is not, and how to get it."""
    import warnings

    from molvae.cli.main import build_parser
    from molvae.shipped import default_model

    verb = build_parser().verbs["sample"]
    assert MolVAE.load(use=verb.get_default("model_use"), device="cpu").path == default_model("sample").path
    latent = MolVAE.load(device="cpu")
    with pytest.warns(UserWarning, match=rf'{default_model("sample").name}.*MolVAE.load\(use="sample"\)'):
        latent.sample(2, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        MolVAE.load(use="sample", device="cpu").sample(2, seed=0)
        MolVAE.load(default_model("latent").name, device="cpu").sample(2, seed=0)  # named: no warning
