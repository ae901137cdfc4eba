"""molvae evaluate end to end, on small reference files (never the user's cache)."""

import json

import pandas as pd

from molvae.cli import main


def test_evaluate_writes_table_and_provenance(tmp_path, moses_300, capsys, monkeypatch):
    smiles = pd.read_csv(moses_300).SMILES
    ref, train = tmp_path / "ref.csv", tmp_path / "train.csv"
    smiles[:150].to_frame().to_csv(ref, index=False)
    smiles[150:].to_frame().to_csv(train, index=False)
    samples = tmp_path / "samples.csv"
    rows = smiles[100:200].tolist() + ["", "not-a-smiles", "C1CC"]
    pd.DataFrame({"smiles": rows, "valid": True}).to_csv(samples, index=False)

    args = ["evaluate", str(samples), "--test", str(ref), "--test-scaffolds", str(ref), "--train", str(train),
            "--workers", "1", "-q", "-o", str(tmp_path / "m")]
    assert main(args) == 0
    table = pd.read_csv(tmp_path / "m.csv").set_index("metric").value
    assert table["valid"] == 100 / 103
    assert table["Novelty"] == 0.5  # rows 100..149 are in the reference set, 150..199 in train
    assert table["SNN/Test"] < 1 and table["SNN/TestSF"] == table["SNN/Test"]
    for name in ("FCD/Test", "Frag/Test", "Scaf/Test", "IntDiv", "IntDiv2", "Filters", "logP", "SA", "QED", "weight"):
        assert name in table.index
    info = json.loads((tmp_path / "m.json").read_text())
    assert info["samples"]["rows"] == 103 and len(info["samples"]["sha256"]) == 64
    assert info["metrics"]["valid"] == table["valid"]
    assert "valid" in capsys.readouterr().out

    # the reference statistics of a user file are cached: a second run does not recompute them
    from molvae import metrics
    monkeypatch.setattr(metrics, "reference_stats", lambda *a, **k: (_ for _ in ()).throw(AssertionError("again")))
    assert main(args) == 0
    assert pd.read_csv(tmp_path / "m.csv").set_index("metric").value.equals(table)


def test_evaluate_missing_file_is_one_line(tmp_path, capsys):
    assert main(["evaluate", str(tmp_path / "none.csv"), "--test", str(tmp_path / "none.csv"), "-q"]) == 2
    assert "not found" in capsys.readouterr().err
