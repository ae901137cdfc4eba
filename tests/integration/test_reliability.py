"""Reliability: odd input rows, user and internal errors, killed training runs, untrusted checkpoints."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch

from molvae.checkpoint import load_checkpoint
from molvae.cli import EXIT_INTERNAL_ERROR, EXIT_USER_ERROR, main
from molvae.errors import CheckpointError

from conftest import RDKIT_DATA

# (input, kind of reason it is rejected with; "" = accepted), covering the list of odd rows
ROWS = [
    ("CCO", ""),
    ("", "empty SMILES"),
    ("   ", "empty SMILES"),
    ("not a smiles", "RDKit cannot parse the SMILES"),
    ("C1CC", "RDKit cannot parse the SMILES"),  # unclosed ring
    ("CCN.Cl", "N fragments (a salt or mixture); keep the largest with --largest-fragment"),
    ("C" * 120, "SELFIES has N tokens, over max_len=N"),
    ("C[C@H](N)C(=O)O", "unknown"),   # stereo: MOSES (and so the tiny model) has none
    ("[13CH3]CO", "unknown"),         # isotope: a token the tiny model never saw
    ("C[N+](C)(C)C", "unknown"),      # charge: likewise
    ("c1ccccc1O", ""),
]


def _write_nasty_csv(path: Path) -> None:
    """The rows above as a CSV with a byte-order mark and Windows line endings, one field quoted."""
    lines = ["smiles"] + [f'"{s}"' if s.strip() == "" else s for s, _ in ROWS]
    path.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(lines).encode() + b"\r\n")


def _kind(reason: str) -> str:
    from molvae.space import reason_kind

    return "unknown" if "not in the model's vocabulary" in reason else reason_kind(reason)


@pytest.mark.parametrize("verb", ["encode", "score", "reconstruct", "properties"])
def test_every_row_is_accounted_for(verb, tiny_run, tmp_path, capsys):
    src = tmp_path / "nasty.csv"
    _write_nasty_csv(src)
    out = tmp_path / f"{verb}.csv"
    args = [verb, str(src), "-o", str(out)] + ([] if verb == "properties" else ["-m", str(tiny_run / "best.pt")])
    args += ["-k", "2"] if verb == "score" else []
    assert main(args) == 0
    text = capsys.readouterr().out
    table = pd.read_csv(out, keep_default_na=False)
    if verb in ("encode", "properties"):  # accepted rows in OUT, rejected ones in OUT.rejects.csv
        rejects = pd.read_csv(out.with_name(out.stem + ".rejects.csv"), keep_default_na=False)
        assert sorted(table.row.tolist() + rejects.row.tolist()) == list(range(len(ROWS)))
        reasons = dict(zip(rejects.row, rejects.reason))
    else:  # one row per input, the reason column set where rejected
        assert table.row.tolist() == list(range(len(ROWS)))
        reasons = {r: x for r, x in zip(table.row, table.reason) if x}
    for row, (smiles, expected) in enumerate(ROWS):
        if verb == "properties":  # no model: only what RDKit cannot read is rejected
            expected = expected if expected in ("empty SMILES", "RDKit cannot parse the SMILES") else ""
        got = _kind(reasons.get(row, ""))
        assert got == expected, f"{verb} row {row} {smiles!r}: {reasons.get(row)!r}"
    assert "rejected rows by reason" in text


def test_salts_can_keep_their_largest_fragment(tiny_run, tmp_path):
    src = tmp_path / "salts.csv"
    src.write_text("smiles\nCCO.Cl\nCl.c1ccccc1O\nCCO\n")
    out = tmp_path / "r.csv"
    assert main(["reconstruct", str(src), "-m", str(tiny_run / "best.pt"), "-o", str(out)]) == 0
    assert (pd.read_csv(out, keep_default_na=False).reason != "").sum() == 2
    assert main(["reconstruct", str(src), "-m", str(tiny_run / "best.pt"), "-o", str(out), "--largest-fragment"]) == 0
    table = pd.read_csv(out, keep_default_na=False)
    assert (table.reason == "").all() and table.canonical.tolist() == ["CCO", "Oc1ccccc1", "CCO"]


@pytest.mark.parametrize("content, message", [
    (b"", "is empty"),
    (b"smiles\r\n", "no data rows"),
    (b"name,weight\nfoo,1\nbar,2\n", "SMILES"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10", "cannot read"),
])
def test_unusable_files_are_one_line_user_errors(content, message, tmp_path, capsys):
    src = tmp_path / "in.csv"
    src.write_bytes(content)
    assert main(["properties", str(src), "-o", str(tmp_path / "p.csv")]) == EXIT_USER_ERROR
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_wrong_column_name_lists_the_columns(tmp_path, capsys):
    src = tmp_path / "in.csv"
    src.write_text("id,smiles\n1,CCO\n")
    assert main(["properties", str(src), "--smiles-column", "SMILES_X", "-o", str(tmp_path / "p.csv")]) == EXIT_USER_ERROR
    err = capsys.readouterr().err
    assert "SMILES_X" in err and "smiles" in err and "Traceback" not in err


def test_an_unwritable_output_is_a_user_error(tmp_path, capsys):
    src = tmp_path / "in.csv"
    src.write_text("smiles\nCCO\n")
    (tmp_path / "file").write_text("")
    assert main(["properties", str(src), "-o", str(tmp_path / "file" / "p.csv")]) == EXIT_USER_ERROR
    assert "Traceback" not in capsys.readouterr().err


def test_a_bug_is_an_internal_error_with_its_traceback(monkeypatch, tmp_path, capsys):
    import molvae.properties

    def broken(*args, **kwargs):
        raise ZeroDivisionError("planted bug")

    monkeypatch.setattr(molvae.properties, "compute", broken)
    src = tmp_path / "in.csv"
    src.write_text("smiles\nCCO\n")
    assert main(["properties", str(src), "-o", str(tmp_path / "p.csv")]) == EXIT_INTERNAL_ERROR
    err = capsys.readouterr().err
    assert "Traceback" in err and "planted bug" in err and "internal error" in err


# ----------------------------------------------------------------------------- checkpoints


class _Planted:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_a_malicious_checkpoint_is_refused_and_runs_nothing(tiny_run, tmp_path, capsys):
    marker = tmp_path / "pwned"
    payload = torch.load(tiny_run / "best.pt", weights_only=True)
    payload["meta"]["note"] = _Planted(marker)
    torch.save(payload, tmp_path / "evil.pt")
    with pytest.raises(CheckpointError, match="not a readable molvae checkpoint"):
        load_checkpoint(tmp_path / "evil.pt")
    assert main(["sample", "-m", str(tmp_path / "evil.pt"), "-n", "2", "-o", str(tmp_path / "s.csv")]) == EXIT_USER_ERROR
    assert "Traceback" not in capsys.readouterr().err
    assert not marker.exists()


def test_a_truncated_checkpoint_gets_a_clear_error(tiny_run, tmp_path, capsys):
    data = (tiny_run / "best.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="not a readable molvae checkpoint"):
        load_checkpoint(tmp_path / "cut.pt")
    assert main(["sample", "-m", str(tmp_path / "cut.pt"), "-n", "2", "-o", str(tmp_path / "s.csv")]) == EXIT_USER_ERROR
    assert "Traceback" not in capsys.readouterr().err


# ----------------------------------------------------------------------------- kill -9 and resume


def _train_cmd(data: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "molvae", "train", "--data", str(data), "-o", str(out), "-q",
            "--embed-dim", "16", "--encoder-hidden", "32", "--latent-dim", "8", "--decoder-hidden", "64",
            "--decoder-layers", "1", "--dropout", "0", "--batch-size", "16", "--epochs", "4", "--precision", "fp32",
            "--threads", "1", "--workers", "1", "--warmup-epochs", "2", "--checkpoint-minutes", "0.0005", *extra]


def test_a_run_killed_with_sigkill_resumes_to_the_same_model(moses_300, tmp_path):
    env = {**os.environ, "MOLVAE_CACHE": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"}
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    subprocess.run(_train_cmd(moses_300, straight), env=env, check=True, capture_output=True)

    proc = subprocess.Popen(_train_cmd(moses_300, killed), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    # kill once it has checkpointed in the second epoch, mid-epoch
    while time.time() < deadline and proc.poll() is None:
        last = killed / "last.pt"
        if last.is_file():
            state = load_checkpoint(last)["training"]  # atomic writes: never a half-written file
            if state["epoch"] >= 1 and state["batch_in_epoch"] > 2:
                break
        time.sleep(0.05)
    assert proc.poll() is None, "the run finished before it could be killed; make it longer"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = load_checkpoint(killed / "last.pt")["training"]
    assert before["epoch"] < 4

    subprocess.run(_train_cmd(moses_300, killed, "--resume", str(killed / "last.pt")), env=env, check=True,
                   capture_output=True)
    a, b = load_checkpoint(straight / "last.pt"), load_checkpoint(killed / "last.pt")
    assert b["training"]["epoch"] == a["training"]["epoch"] == 4
    for key, value in a["state_dict"].items():
        torch.testing.assert_close(b["state_dict"][key], value, msg=f"weights differ after resume: {key}")
    cols = ["epoch", "step", "train_loss", "train_beta", "val_nelbo"]
    pd.testing.assert_frame_equal(pd.read_csv(straight / "log.csv")[cols], pd.read_csv(killed / "log.csv")[cols])


def test_nci_molecules_are_all_accounted_for(tiny_run, tmp_path):
    """Real molecules from outside the project: the first 300 NCI rows shipped with RDKit."""
    src = RDKIT_DATA / "NCI" / "first_5K.smi"
    out = tmp_path / "nci.csv"
    assert main(["encode", str(src), "--limit", "300", "-m", str(tiny_run / "best.pt"), "-o", str(out)]) == 0
    kept = pd.read_csv(out)
    rejects = pd.read_csv(out.with_name("nci.rejects.csv"))
    assert len(kept) + len(rejects) == 300 and len(rejects) > 0 and rejects.reason.str.len().gt(0).all()
