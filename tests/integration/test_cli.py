"""End-to-end: the molvae command trains, resumes, samples and reconstructs."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from molvae.checkpoint import load_checkpoint
from molvae.cli import main

TINY = ["--embed-dim", "16", "--encoder-hidden", "32", "--latent-dim", "8", "--decoder-hidden", "64",
        "--decoder-layers", "1", "--batch-size", "32", "--workers", "1", "-q"]


def test_train_resume_sample_reconstruct(tmp_path, moses_300, capsys):
    out = tmp_path / "run"
    assert main(["train", "--data", str(moses_300), "--epochs", "2", "-o", str(out), *TINY]) == 0
    printed = capsys.readouterr().out
    assert "[model]" in printed and "latent_dim = 8" in printed  # resolved config is printed
    assert (out / "config.toml").read_text().count("latent_dim = 8") == 1
    log = pd.read_csv(out / "log.csv")
    assert log.epoch.tolist() == [1, 2]
    assert {"train_loss", "train_recon", "train_kl", "train_beta", "val_nelbo", "val_token_acc"} <= set(log.columns)
    # collapse diagnostics per epoch: active units, mutual information, KL per latent dimension
    assert {"val_active_units", "val_active_fraction", "val_mutual_info", "val_recon_exact"} <= set(log.columns)
    assert log.val_recon_exact.between(0, 1).all()
    assert log.val_active_units.between(0, 8).all() and (log.val_mutual_info < np.log(30) + 0.2).all()
    kl = pd.read_csv(out / "kl_per_dim.csv")
    assert kl.epoch.tolist() == [1, 2] and kl.shape[1] == 1 + 8 and (kl.drop(columns="epoch") >= 0).all().all()

    # resume for more epochs: history continues, nothing is redone
    assert main(["train", "--data", str(moses_300), "--epochs", "6", "-o", str(out), "--resume",
                 str(out / "last.pt"), *TINY]) == 0
    log = pd.read_csv(out / "log.csv")
    assert log.epoch.tolist() == [1, 2, 3, 4, 5, 6]
    assert pd.read_csv(out / "kl_per_dim.csv").epoch.tolist() == [1, 2, 3, 4, 5, 6]
    assert log.step.is_monotonic_increasing
    assert load_checkpoint(out / "last.pt")["training"]["epoch"] == 6

    samples = tmp_path / "samples.csv"
    assert main(["sample", "-m", str(out / "best.pt"), "-n", "200", "-o", str(samples), "-q"]) == 0
    df = pd.read_csv(samples, keep_default_na=False)
    assert len(df) == 200 and df.valid.all()
    from molvae.chem import canonical_smiles
    assert all(canonical_smiles(s) == s for s in df.smiles)  # valid and canonical
    assert df.smiles.nunique() / len(df) > 0.5
    meta = json.loads((tmp_path / "samples.csv.meta.json").read_text())
    assert meta["summary"]["n"] == 200 and len(meta["model"]["sha256"]) == 64
    assert meta["summary"]["raw_validity"] >= 0.9  # valid before any invalid draw was replaced

    inp = tmp_path / "in.csv"
    inp.write_text("smiles\nCCO\nnot-a-smiles\nCC(=O)Nc1ccc(O)cc1\n")
    rec = tmp_path / "rec.csv"
    assert main(["reconstruct", str(inp), "-m", str(out / "best.pt"), "-o", str(rec)]) == 0
    df = pd.read_csv(rec, keep_default_na=False)
    assert df.row.tolist() == [0, 1, 2]
    assert df.reason[1] == "RDKit cannot parse the SMILES" and df.reason[0] == ""


def test_user_mistakes_are_one_line_errors(tmp_path, capsys):
    assert main(["sample", "-m", str(tmp_path / "nope.pt")]) == 2
    err = capsys.readouterr().err
    assert "checkpoint not found" in err and "Traceback" not in err
    assert main(["train", "--data", str(tmp_path / "none.csv"), "-o", str(tmp_path / "r"), "-q"]) == 2
    assert "input file not found" in capsys.readouterr().err
    assert main(["train", "--epochs", "two", "-o", str(tmp_path / "r")]) == 2
    assert "train.epochs must be int" in capsys.readouterr().err
    bad = tmp_path / "bad.csv"
    bad.write_text("smiles\nxx\nyy\n")
    assert main(["train", "--data", str(bad), "-o", str(tmp_path / "r2"), "-q"]) == 2
    assert "no usable training molecules" in capsys.readouterr().err
    assert pd.read_csv(tmp_path / "r2" / "rejects.csv").row.tolist() == [0, 1]


def test_fine_tune_prints_the_sizes_it_trains_and_refuses_a_bad_growth(tiny_run, tmp_path, moses_300, capsys):
    ft = ["train", "--data", str(moses_300), "--epochs", "1", "--init-from", str(tiny_run / "best.pt"), "-q"]
    assert main([*ft, "--grow", "latent_dim=12", "-o", str(tmp_path / "ft")]) == 0
    printed = capsys.readouterr().out
    assert "latent_dim = 12" in printed and "decoder_hidden = 64" in printed  # the checkpoint's sizes, grown
    assert main([*ft, "--grow", "latent_dim=4", "-o", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "latent_dim can only grow, from 8; got 4" in err and "Traceback" not in err
    assert main(["train", "--data", str(moses_300), "--grow", "latent_dim=12", "-o", str(tmp_path / "r"), "-q"]) == 2
    assert "train.grow needs train.init_from" in capsys.readouterr().err


def test_help_explains_every_option():
    out = subprocess.run([sys.executable, "-m", "molvae.cli", "train", "--help"], capture_output=True, text=True).stdout
    for flag in ("--latent-dim", "--schedule", "--word-dropout", "--free-bits", "--epochs", "--resume", "--config"):
        assert flag in out
    assert "(default: 64)" in out


@pytest.mark.parametrize("flag, value", [("-n", "0"), ("-n", "many"), ("--temperature", "0"), ("--batch-size", "-3")])
def test_sample_rejects_bad_numbers(flag, value, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["sample", flag, value])
    assert exc.value.code == 2 and "Traceback" not in capsys.readouterr().err


def test_collapse_warning_fires_on_a_collapsed_run(tmp_path, moses_300, capsys):
    # a KL weight of 10 from the first step, no word dropout, no free bits: the decoder learns to ignore z
    out = tmp_path / "collapsed"
    assert main(["train", "--data", str(moses_300), "--epochs", "2", "-o", str(out), "--schedule", "constant",
                 "--beta", "10", "--word-dropout", "0", "--free-bits", "0", "--precision", "fp32", *TINY, "--val-fraction", "0.1"]) == 0
    assert "posterior collapse: 0 active latent dimensions" in capsys.readouterr().err
    log = pd.read_csv(out / "log.csv")
    assert (log.val_active_units == 0).all() and (log.val_kl < 0.5).all()


def test_diagnose_prints_figures_and_writes_plots(tiny_run, tmp_path, moses_300, capsys):
    out = tmp_path / "diag"
    assert main(["diagnose", "-m", str(tiny_run / "best.pt"), "--data", str(moses_300), "--limit", "100",
                 "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "active_units" in printed and "mutual_info" in printed and "recon_exact" in printed
    figures = json.loads((out / "diagnostics.json").read_text())["figures"]
    assert figures["molecules"] == 100 and 0 <= figures["active_units"] <= 8
    assert 0 <= figures["mutual_info"] <= np.log(100) + 1e-9
    kl = pd.read_csv(out / "kl_per_dim.csv")
    assert len(kl) == 8 and kl.kl_nats.sum() == pytest.approx(figures["kl"], rel=1e-6)
    for png in ("kl_per_dim.png", "training_curves.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_properties_verb_accounts_for_every_row(tmp_path, capsys):
    from conftest import RDKIT_DATA

    nci = RDKIT_DATA / "NCI" / "first_200.props.sdf"  # SDF is read: every record is written or rejected
    assert main(["properties", str(nci), "-o", str(tmp_path / "x.csv"), "-q"]) == 0
    sdf_written = pd.read_csv(tmp_path / "x.csv")
    sdf_rejected = pd.read_csv(tmp_path / "x.rejects.csv")
    assert len(sdf_written) + len(sdf_rejected) == 200 and "label" in sdf_written.columns
    binary = tmp_path / "x.bin"  # a wrong file type is a clear error
    binary.write_bytes(bytes(range(256)) * 4)
    assert main(["properties", str(binary), "-o", str(tmp_path / "y.csv")]) == 2
    assert "error" in capsys.readouterr().err
    src = tmp_path / "in.csv"
    pd.DataFrame({"smiles": ["CC(=O)Oc1ccccc1C(=O)O", "", "C1CC", "Cn1cnc2c1c(=O)n(C)c(=O)n2C"]}).to_csv(src, index=False)
    out = tmp_path / "props.csv"
    assert main(["properties", str(src), "-o", str(out), "--properties", "qed,penalized_logp", "--reference", "CCO", "-q"]) == 0
    written, rejects = pd.read_csv(out), pd.read_csv(tmp_path / "props.rejects.csv")
    assert written.row.tolist() == [0, 3] and rejects.row.tolist() == [1, 2]
    assert list(written.columns) == ["row", "input", "canonical", "qed", "penalized_logp", "similarity"]
    assert written.qed[0] == pytest.approx(0.5501, abs=1e-4)
    # the same name in another format keeps its own rejects: the CSV run's are not overwritten
    assert main(["properties", str(src), "-o", str(tmp_path / "props.sdf"), "-q"]) == 0
    assert pd.read_csv(tmp_path / "props.rejects.csv").row.tolist() == [1, 2]
    assert pd.read_csv(tmp_path / "props.sdf.rejects.csv").row.tolist() == [1, 2]


# ----------------------------------------------------------------------------- flags every verb shares

# verbs that read no molecules for a model: sample writes them, evaluate scores them as they are
# (standardizing would change the metrics), models lists files
READS_NO_MOLECULES = {"sample", "evaluate", "models"}


def _options(parser) -> set[str]:
    return {option for action in parser._actions for option in action.option_strings}


def test_every_verb_has_the_shared_flags():
    from molvae.cli.main import build_parser

    verbs = build_parser().verbs
    assert {"reconstruct", "explore", "interpolate", "map", "optimize", "train"} <= set(verbs)
    for verb, parser in verbs.items():
        assert {"-q", "--quiet"} <= _options(parser), f"{verb} has no -q"
        if verb not in READS_NO_MOLECULES:
            assert {"--standardize", "--largest-fragment"} <= _options(parser), f"{verb} has no --standardize"


@pytest.mark.parametrize("verb", ["reconstruct", "explore", "interpolate", "map"])
def test_quiet_is_the_verbs_own_flag(verb, tiny_run, tmp_path, capsys):
    args = {"reconstruct": [str(tmp_path / "in.csv")], "map": [str(tmp_path / "in.csv")],
            "explore": ["CCO", "-n", "3", "--properties", "none"], "interpolate": ["CCO", "c1ccccc1O", "--steps", "2"]}[verb]
    (tmp_path / "in.csv").write_text("smiles\nCCO\nc1ccccc1O\nCC(=O)Nc1ccc(O)cc1\n")
    out = tmp_path / ("out.png" if verb == "map" else "out.csv")
    assert main([verb, *args, "-m", str(tiny_run / "best.pt"), "-o", str(out), "-q"]) == 0
    assert out.is_file() and "usage: molvae [-h]" not in capsys.readouterr().err


@pytest.mark.parametrize("verb", ["explore", "interpolate", "optimize"])
def test_a_hint_names_a_flag_the_verb_has(verb, tiny_run, tmp_path, capsys):
    """A charged start molecule is refused with the hint to standardize, spelled as this verb's flag;
    the verb takes that flag, and with it reads the molecule."""
    charged = "CC(=O)[O-]"  # the tiny model, like MOSES, has no charged atoms
    args = {"explore": [charged, "-n", "3", "--properties", "none"],
            "interpolate": [charged, "c1ccccc1O", "--steps", "2"],
            "optimize": ["--maximize", "qed", "--start", charged, "--budget", "4", "--batch-size", "2",
                         "--train", "none"]}[verb]
    model = ["-m", str(tiny_run / "best.pt"), "-q"]
    ext = "" if verb == "optimize" else ".csv"  # optimize writes a folder; the others a table named by its format
    assert main([verb, *args, *model, "-o", str(tmp_path / f"a{ext}")]) == 2
    err = capsys.readouterr().err
    assert "--standardize makes it readable" in err and "standardize=True" not in err and 'errors="nan"' not in err
    assert main([verb, *args, *model, "-o", str(tmp_path / f"b{ext}"), "--standardize"]) == 0


def test_hints_in_the_rejects_name_the_verbs_flags(tiny_run, tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("smiles\nCCN.Cl\nCC(=O)[O-]\n")
    assert main(["reconstruct", str(src), "-m", str(tiny_run / "best.pt"), "-o", str(tmp_path / "r.csv"), "-q"]) == 0
    reasons = pd.read_csv(tmp_path / "r.csv").reason.tolist()
    assert reasons[0].endswith("keep the largest with --largest-fragment")
    assert reasons[1].endswith("; --standardize makes it readable")


def test_optimize_refuses_a_folder_that_holds_files(tiny_run, tmp_path, capsys):
    out = tmp_path / "opt"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    run = ["optimize", "--maximize", "qed", "--budget", "3", "--batch-size", "3", "-m", str(tiny_run / "best.pt"),
           "--train", "none", "-o", str(out), "-q"]
    assert main(run) == 2
    err = capsys.readouterr().err
    assert "already holds files (notes.txt)" in err and "--overwrite" in err
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]  # nothing written
    assert main([*run, "--overwrite"]) == 0
    assert (out / "proposals.csv").is_file() and (out / "notes.txt").read_text() == "mine"  # only its own files


def test_encode_and_map_keep_the_input_beside_the_standardized_molecule(tiny_run, tmp_path):
    src = tmp_path / "in.csv"
    inputs = ["C[C@H](N)CC(=O)O", "CC[NH3+].[Cl-]", "OCC"]
    pd.DataFrame({"smiles": inputs}).to_csv(src, index=False)
    model = ["-m", str(tiny_run / "best.pt"), "--standardize", "-q"]
    assert main(["encode", str(src), "-o", str(tmp_path / "e.csv"), *model]) == 0
    table = pd.read_csv(tmp_path / "e.csv")
    assert list(table.columns[:3]) == ["row", "input", "smiles"]
    assert table.input.tolist() == inputs and table.smiles.tolist() == ["CC(N)CC(=O)O", "CCN", "CCO"]
    assert main(["map", str(src), "-o", str(tmp_path / "m.png"), "--color", "none", *model]) == 0
    coords = pd.read_csv(tmp_path / "m.csv")
    assert coords.input.tolist() == inputs and coords.smiles.tolist() == ["CC(N)CC(=O)O", "CCN", "CCO"]


def test_a_semicolon_separated_csv_is_read(tiny_run, tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("name;smiles;pIC50\naspirin;CC(=O)Oc1ccccc1C(=O)O;5.1\nethanol;CCO;3.0\n")
    out = tmp_path / "p.csv"
    assert main(["properties", str(src), "-o", str(out), "--properties", "mw", "-q"]) == 0
    assert pd.read_csv(out).canonical.tolist() == ["CC(=O)Oc1ccccc1C(=O)O", "CCO"]


def test_training_on_a_tiny_set_says_so(tmp_path, capsys):
    data = tmp_path / "seven.csv"
    data.write_text("smiles\n" + "\n".join(["CCO", "CCN", "c1ccccc1", "CC(=O)O", "CCCl", "c1ccncc1", "CC(C)O", "xx"]) + "\n")
    assert main(["train", "--data", str(data), "--epochs", "1", "-o", str(tmp_path / "run"), *TINY]) == 0
    err = capsys.readouterr().err
    assert "only 7 usable molecules to train on" in err and "--init-from" in err
    assert "only 1 validation molecule: too few to tell whether the posterior collapsed" in err
    assert "posterior collapse:" not in err
