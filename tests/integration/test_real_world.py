"""Real-world inputs and runs you can trust: SDF files, standardization, pathological rows, small
mistakes that used to end as tracebacks or silent losses, resume that keeps its settings, locked
run folders, Ctrl-C and temporary files."""

import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rdkit import Chem

from molvae.checkpoint import load_checkpoint
from molvae.cli import EXIT_USER_ERROR, main

from conftest import RDKIT_CONTRIB


def _exit_code(argv: list[str]) -> int:
    """main()'s exit status, also when argparse refuses a flag (it raises SystemExit)."""
    try:
        return main(argv)
    except SystemExit as exc:
        return exc.code


def _sdf(path: Path, smiles: list[str], corrupt_at: int | None = None) -> Path:
    """An SDF of `smiles` titled mol0, mol1, ...; with `corrupt_at`, that record's atom block is broken."""
    blocks = []
    for i, s in enumerate(smiles):
        mol = Chem.MolFromSmiles(s)
        mol.SetProp("_Name", f"mol{i}")
        block = Chem.MolToMolBlock(mol)
        if i == corrupt_at:
            lines = block.splitlines()
            lines[4] = "this is not an atom line"
            block = "\n".join(lines)
        blocks.append(block + "\n$$$$\n")
    path.write_text("".join(blocks))
    return path


# ----------------------------------------------------------------------------- inputs


def test_sdf_records_are_read_labelled_and_accounted_for(tiny_run, tmp_path):
    sdf = _sdf(tmp_path / "in.sdf", ["CCO", "c1ccccc1O", "CC(=O)O", "CCN"], corrupt_at=2)
    out = tmp_path / "rec.csv"
    assert main(["reconstruct", str(sdf), "-m", str(tiny_run / "best.pt"), "-o", str(out)]) == 0
    df = pd.read_csv(out, keep_default_na=False)
    assert df.row.tolist() == [0, 1, 2, 3] and df.label.tolist() == ["mol0", "mol1", "", "mol3"]
    assert "SDF record 3" in df.reason[2] and df.reason[0] == ""


def test_a_real_sdf_file_is_read():
    from molvae.io import read_smiles

    smiles = read_smiles(RDKIT_CONTRIB / "Fastcluster" / "testdata" / "cdk2.sdf")
    assert len(smiles) == 47 and len(smiles.attrs["labels"]) == 47
    assert all(Chem.MolFromSmiles(s) is not None for s in smiles)


def test_standardize_reads_stereo_and_charged_molecules(tiny_run, tmp_path):
    src = tmp_path / "in.csv"
    inputs = ["C[C@H](N)CC(=O)O", "CC[NH3+].[Cl-]", "CCO"]
    pd.DataFrame({"smiles": inputs}).to_csv(src, index=False)
    plain, standard = tmp_path / "plain.csv", tmp_path / "std.csv"
    model = str(tiny_run / "best.pt")
    assert main(["reconstruct", str(src), "-m", model, "-o", str(plain)]) == 0
    assert main(["reconstruct", str(src), "-m", model, "-o", str(standard), "--standardize"]) == 0
    before, after = pd.read_csv(plain, keep_default_na=False), pd.read_csv(standard, keep_default_na=False)
    assert before.reason[0] != "" and "--standardize" in before.reason[0]  # the hint
    assert (after.reason == "").all()
    assert after.input.tolist() == inputs and after.canonical.tolist()[:2] == ["CC(N)CC(=O)O", "CCN"]


def test_a_pathological_row_is_rejected_before_parsing(tiny_run, tmp_path):
    src = tmp_path / "in.csv"
    pd.DataFrame({"smiles": ["CCO", "C" * 100_000, "CCN"]}).to_csv(src, index=False)
    out = tmp_path / "p.csv"
    assert main(["properties", str(src), "-o", str(out), "-q"]) == 0
    rejects = pd.read_csv(tmp_path / "p.rejects.csv")
    assert rejects.row.tolist() == [1] and "100,000 characters" in rejects.reason[0]
    assert main(["encode", str(src), "-m", str(tiny_run / "best.pt"), "-o", str(tmp_path / "e.csv"), "-q"]) == 0
    assert "characters" in pd.read_csv(tmp_path / "e.rejects.csv").reason[0]


def test_a_column_of_numbers_is_not_smiles(tmp_path, capsys):
    src = tmp_path / "ids.csv"
    pd.DataFrame({"smiles": list(range(20))}).to_csv(src, index=False)
    assert main(["properties", str(src), "-o", str(tmp_path / "p.csv")]) == EXIT_USER_ERROR
    assert "does not look like SMILES" in capsys.readouterr().err


# ----------------------------------------------------------------------------- small mistakes


@pytest.mark.parametrize("argv, says", [
    (["sample", "-n", "5", "--temperature", "inf"], "finite"),
    (["explore", "CCO", "-n", "5", "--radius", "nan"], "finite"),
    (["encode", "moses:test", "--limit", "-1"], "at least 0"),
    (["encode", "moses:test", "--spellings", "-3"], "at least 0"),
    (["optimize", "--maximize", "qed", "--similarity-min", "2"], "at most 1"),
])
def test_out_of_range_flags_are_refused(argv, says, tmp_path, capsys):
    assert _exit_code([*argv, "-o", str(tmp_path / "out.csv")]) == EXIT_USER_ERROR
    assert says in capsys.readouterr().err


def test_a_mistyped_reference_is_a_user_error(tmp_path, capsys):
    src = tmp_path / "in.csv"
    src.write_text("smiles\nCCO\n")
    assert main(["properties", str(src), "--reference", "C1CC", "-o", str(tmp_path / "p.csv")]) == EXIT_USER_ERROR
    err = capsys.readouterr().err
    assert "C1CC" in err and "Traceback" not in err


def test_a_non_finite_setting_is_refused_before_training(moses_300, tmp_path, capsys):
    assert main(["train", "--data", str(moses_300), "--beta", "nan", "-o", str(tmp_path / "run")]) == EXIT_USER_ERROR
    assert "anneal.beta must be a finite number" in capsys.readouterr().err


def test_evaluate_warns_about_a_handful_of_molecules(tmp_path, capsys):
    src = tmp_path / "three.csv"
    src.write_text("smiles\nCCO\nc1ccccc1\nCC(=O)O\n")
    assert main(["evaluate", str(src), "--train", "none", "--test-scaffolds", "none", "-q"]) == 0
    assert "only 3 valid molecules" in capsys.readouterr().err


def test_a_path_that_is_not_a_checkpoint_says_so(tmp_path, capsys):
    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    assert main(["sample", "-m", os.devnull, "-n", "2", "-o", str(tmp_path / "s.csv")]) == EXIT_USER_ERROR
    assert "not a regular file" in capsys.readouterr().err
    assert main(["sample", "-m", str(empty), "-n", "2", "-o", str(tmp_path / "s.csv")]) == EXIT_USER_ERROR
    assert "is empty" in capsys.readouterr().err


def test_the_output_may_not_be_the_input(tmp_path, capsys):
    src = tmp_path / "in.csv"
    src.write_text("smiles\nCCO\n")
    assert main(["properties", str(src), "-o", str(src)]) == EXIT_USER_ERROR
    assert "is the input file" in capsys.readouterr().err and src.read_text() == "smiles\nCCO\n"


def test_interpolation_says_when_its_ends_are_not_reconstructed(tiny_run, tmp_path, capsys):
    from molvae.api import MolVAE
    from molvae.space import interpolate

    vae = MolVAE.load(tiny_run / "best.pt", device="cpu")
    df = interpolate(vae, "CCO", "OCC(=O)O", steps=4)
    assert set(df.attrs["unreconstructed"]) <= {"start", "end"}
    for name, row in (("start", 0), ("end", 4)):
        ends = {"start": "CCO", "end": "OCC(=O)O"}
        assert (name in df.attrs["unreconstructed"]) == (df.smiles[row] != Chem.CanonSmiles(ends[name]))
    assert main(["interpolate", "CCO", "CCO", "--steps", "2", "-m", str(tiny_run / "best.pt"),
                 "-o", str(tmp_path / "i.csv")]) == 0
    if pd.read_csv(tmp_path / "i.csv").smiles[0] != "CCO":
        assert "does not reconstruct the start molecule CCO" in capsys.readouterr().err


def test_anomaly_scores_run_one_way_and_rejects_count_as_detected(tiny_run):
    from molvae.api import MolVAE
    from molvae.space import auroc, score

    df = score(MolVAE.load(tiny_run / "best.pt", device="cpu"), ["CCO", "CCCO", "xx"], k=4)
    assert {"neg_elbo", "nll", "nll_per_token", "recon_nll"} <= set(df.columns)
    ok = df.reason == ""
    assert (df.recon_nll[ok] >= 0).all() and (df.nll[ok] > 0).all()
    # two anomalies scored below every normal molecule, one that could not be read at all
    normal, anomalies = [3.0, 4.0, 5.0], [1.0, 2.0, math.nan]
    assert auroc(anomalies, normal) == 0.0
    assert auroc(anomalies, normal, unscored="detected") == pytest.approx(1 / 3)


# ----------------------------------------------------------------------------- runs


def _train(data: Path, out: Path, *extra: str) -> list[str]:
    return ["train", "--data", str(data), "-o", str(out), "-q", "--embed-dim", "16", "--encoder-hidden", "32",
            "--latent-dim", "8", "--decoder-hidden", "32", "--decoder-layers", "1", "--batch-size", "32",
            "--epochs", "1", "--precision", "fp32", "--limit", "120", "--workers", "1", *extra]


def test_resume_keeps_the_run_settings_and_refuses_changes(moses_300, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(_train(moses_300, run)) == 0
    import tomllib

    saved = tomllib.loads((run / "config.toml").read_text())
    # a bare resume: the data, its limit and the model come from the checkpoint, only epochs change
    assert main(["train", "--resume", str(run / "last.pt"), "--epochs", "2", "-q"]) == 0
    resumed = tomllib.loads((run / "config.toml").read_text())
    assert resumed["train"].pop("epochs") == 2 and saved["train"].pop("epochs") == 1
    assert resumed == saved and resumed["data"]["limit"] == 120
    assert load_checkpoint(run / "last.pt")["meta"]["data"]["n_train"] + \
        load_checkpoint(run / "last.pt")["meta"]["data"]["n_val"] <= 120
    assert main(["train", "--resume", str(run / "last.pt"), "--latent-dim", "64"]) == EXIT_USER_ERROR
    assert "model.latent_dim is 8 in the run being resumed" in capsys.readouterr().err


def test_a_folder_with_a_run_is_not_overwritten_silently(moses_300, tmp_path, capsys):
    run, other = tmp_path / "run", tmp_path / "other"
    assert main(_train(moses_300, run)) == 0
    assert main(_train(moses_300, other)) == 0
    log = (other / "log.csv").read_text()
    assert main(_train(moses_300, run)) == EXIT_USER_ERROR
    assert "already holds a run" in capsys.readouterr().err
    # resuming one run into another run's folder is refused too
    assert main(["train", "--resume", str(run / "last.pt"), "-o", str(other), "--epochs", "2"]) == EXIT_USER_ERROR
    assert (other / "log.csv").read_text() == log
    assert main(_train(moses_300, run, "--overwrite")) == 0


def test_two_runs_cannot_share_a_folder(moses_300, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from pathlib import Path; from molvae.training import lock_run_folder; "
        f"lock_run_folder(Path({str(run)!r})); print('locked', flush=True); time.sleep(60)")],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        second = subprocess.run([sys.executable, "-m", "molvae", *_train(moses_300, run)], capture_output=True,
                                text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
        assert second.returncode == EXIT_USER_ERROR and "another molvae train is writing" in second.stderr
        assert not (run / "log.csv").exists()
    finally:
        holder.kill()
        holder.wait()


def test_ctrl_c_stops_sampling_promptly_and_leaves_no_partial_file(tiny_run, tmp_path):
    out = tmp_path / "many.csv"
    # started as a script's background job would be: with SIGINT ignored
    proc = subprocess.Popen([sys.executable, "-m", "molvae", "sample", "-m", str(tiny_run / "best.pt"), "-n",
                             "10000000", "-o", str(out), "-q", "--properties", "none"],
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"},
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    deadline = time.time() + 120
    while time.time() < deadline and not list(tmp_path.glob(".many.csv.tmp*")):
        time.sleep(0.1)
    assert proc.poll() is None, "sampling ended before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130 and "interrupted" in proc.stderr.read()
    assert not out.exists() and not list(tmp_path.glob(".many.csv.tmp*"))


def test_a_failed_write_names_the_users_path_and_leaves_no_temp_file(tiny_run, tmp_path, capsys):
    target = tmp_path / "a_folder"
    target.mkdir()
    (target / "keep").write_text("")
    assert main(["sample", "-m", str(tiny_run / "best.pt"), "-n", "3", "-o", str(target), "-q"]) == EXIT_USER_ERROR
    err = capsys.readouterr().err
    assert "a_folder" in err and ".tmp" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_folder"]


def test_a_refused_checkpoint_names_the_global_not_pytorchs_advice(tiny_run, tmp_path, capsys):
    import torch

    payload = torch.load(tiny_run / "best.pt", weights_only=True)
    payload["meta"]["note"] = np.random.default_rng(0)  # a pickled object, harmless but not plain data
    torch.save(payload, tmp_path / "odd.pt")
    assert main(["sample", "-m", str(tmp_path / "odd.pt"), "-n", "2", "-o", str(tmp_path / "s.csv")]) == EXIT_USER_ERROR
    err = capsys.readouterr().err
    assert "numpy" in err and "refuses to load" in err and "weights_only" not in err


def test_tensorboard_events_can_be_read_back(moses_300, tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run = tmp_path / "tb"
    # 2 epochs of 27 steps: the step scalars are written every 50 steps
    assert main([*_train(moses_300, run, "--tensorboard", "--epochs", "2", "--batch-size", "4")]) == 0
    events = EventAccumulator(str(run / "tensorboard"), size_guidance={"images": 0, "scalars": 0})
    events.Reload()
    scalars = set(events.Tags()["scalars"])
    assert {"step/loss", "step/recon", "step/kl", "step/beta", "step/molecules_per_s", "epoch/train_loss",
            "epoch/val_recon", "epoch/val_active_units", "epoch/train_mol_per_s"} <= scalars
    log = pd.read_csv(run / "log.csv")
    logged = [e.value for e in events.Scalars("epoch/val_recon")]
    np.testing.assert_allclose(logged, log.val_recon, rtol=1e-5)  # the same numbers as log.csv
    assert len(events.Images("epoch/kl_per_dimension")) == 2  # the KL-per-dimension figure, every epoch
