"""What the verbs write: the format their output's extension names, the input's own columns on the
right rows, and which inputs lie outside the model's domain."""

import gzip
import json

import pandas as pd
import pytest
from rdkit import Chem

from molvae.cli import main
from molvae.io import read_table

ROWS = [  # name, smiles, id, activity
    ("aspirin", "CC(=O)Oc1ccccc1C(=O)O", "A1", "5.2"),
    ("broken", "C1CC", "A2", ""),
    ("phenol", "Oc1ccccc1", "A3", "1"),
    ("iodo", "Ic1ccc(Br)cc1", "A4", "2.5"),  # an element outside the training molecules'
    ("ammonium", "CC[NH3+]", "A5", "3"),  # a charge
    ("big", "CC(C)" * 18 + "C(=O)Nc1ccc(O)cc1", "A6", "7"),  # 895 Da, longer than the model reads
]


def _csv(tmp_path):
    src = tmp_path / "in.csv"
    pd.DataFrame(ROWS, columns=["name", "smiles", "id", "activity"]).to_csv(src, index=False)
    return src


def _sdf(tmp_path):
    src = tmp_path / "in.sdf"
    with Chem.SDWriter(str(src)) as writer:
        for name, smi, ident, activity in ROWS:
            mol = Chem.MolFromSmiles(smi, sanitize=smi != "C1CC") or Chem.Mol()
            mol.SetProp("_Name", name)
            mol.SetProp("id", ident)
            mol.SetProp("activity", activity)
            writer.write(mol)
    return src


def _model(tiny_run):
    return ["-m", str(tiny_run / "best.pt"), "--device", "cpu"]


# ----------------------------------------------------------------------------- output formats


def test_sample_writes_an_sdf_when_asked_for_one(tiny_run, tmp_path, capsys):
    args = ["sample", *_model(tiny_run), "-n", "10", "--seed", "3", "-q"]
    assert main([*args, "-o", str(tmp_path / "s.csv")]) == 0
    assert main([*args, "-o", str(tmp_path / "out" / "s.sdf")]) == 0
    assert main([*args, "-o", str(tmp_path / "s.sdf.gz")]) == 0
    expected = pd.read_csv(tmp_path / "s.csv", keep_default_na=False)
    mols = list(Chem.SDMolSupplier(str(tmp_path / "out" / "s.sdf")))
    assert len(mols) == 10 and all(m is not None for m in mols)
    assert [Chem.MolToSmiles(m) for m in mols] == expected.smiles.tolist()
    assert [float(m.GetProp("qed")) for m in mols] == pytest.approx(expected.qed.tolist())
    with gzip.open(tmp_path / "s.sdf.gz", "rb") as fh:
        assert [Chem.MolToSmiles(m) for m in Chem.ForwardSDMolSupplier(fh)] == expected.smiles.tolist()
    assert "properties of the valid molecules" in capsys.readouterr().out  # read back from the SDF


@pytest.mark.parametrize("verb", ["sample", "reconstruct", "properties", "score", "explore", "interpolate"])
def test_an_unknown_output_extension_is_refused_before_any_work(verb, tmp_path, capsys):
    args = {"sample": ["sample"], "reconstruct": ["reconstruct", str(_csv(tmp_path))],
            "properties": ["properties", str(_csv(tmp_path))], "score": ["score", str(_csv(tmp_path))],
            "explore": ["explore", "CCO"], "interpolate": ["interpolate", "CCO", "CCN"]}[verb]
    model = [] if verb == "properties" else ["-m", str(tmp_path / "no-such-model.pt")]
    assert main([*args, *model, "-o", str(tmp_path / "out.smi")]) == 2
    err = capsys.readouterr().err
    assert "cannot tell the output format of" in err and ".csv, .tsv or .sdf" in err  # not the missing model
    assert not (tmp_path / "out.smi").exists()


# ----------------------------------------------------------------------------- the input's own columns


@pytest.mark.parametrize("make", [_csv, _sdf])
@pytest.mark.parametrize("verb", ["encode", "reconstruct", "properties"])
def test_the_inputs_columns_come_through_on_their_rows(verb, make, tiny_run, tmp_path):
    src = make(tmp_path)
    out = tmp_path / f"{verb}.csv"
    model = [] if verb == "properties" else _model(tiny_run)
    assert main([verb, str(src), *model, "-o", str(out), *([] if verb == "reconstruct" else ["-q"])]) == 0
    table = pd.read_csv(out, keep_default_na=False, dtype=str)
    rejects = tmp_path / f"{verb}.rejects.csv"
    if rejects.exists():
        table = pd.concat([table, pd.read_csv(rejects, keep_default_na=False, dtype=str)])
    table = table.sort_values("row", key=lambda r: r.astype(int))
    assert table.row.tolist() == [str(i) for i in range(len(ROWS))]  # every row, written or rejected
    names = "label" if make is _sdf else "name"
    assert table[names].tolist() == [r[0] for r in ROWS]
    assert table.id.tolist() == [r[2] for r in ROWS] and table.activity.tolist() == [r[3] for r in ROWS]
    written = pd.read_csv(out, nrows=0).columns.tolist()
    assert written[0] == "row" and written[1] == names  # the input's columns follow row


def test_a_column_the_verb_writes_too_is_prefixed(tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("smiles,qed,input\nCCO,0.9,x\n")
    assert main(["properties", str(src), "--properties", "qed", "-o", str(tmp_path / "p.csv"), "-q"]) == 0
    table = pd.read_csv(tmp_path / "p.csv")
    assert list(table.columns) == ["row", "input_qed", "input_input", "input", "canonical", "qed"]
    assert table.input_qed[0] == 0.9 and table.input[0] == "CCO"


def test_properties_as_sd_tags_keep_the_inputs_title_and_tags(tmp_path):
    assert main(["properties", str(_sdf(tmp_path)), "--properties", "mw", "-o", str(tmp_path / "p.sdf"), "-q"]) == 0
    mols = list(Chem.SDMolSupplier(str(tmp_path / "p.sdf")))
    assert [m.GetProp("_Name") for m in mols] == ["aspirin", "phenol", "iodo", "ammonium", "big"]  # C1CC is rejected
    assert mols[0].GetProp("activity") == "5.2" and float(mols[0].GetProp("mw")) == pytest.approx(180.159, abs=1e-3)
    assert pd.read_csv(tmp_path / "p.sdf.rejects.csv").label.tolist() == ["broken"]


def test_a_reconstruction_sdf_keeps_rows_the_model_could_not_read_as_empty_records(tiny_run, tmp_path):
    assert main(["reconstruct", str(_csv(tmp_path)), *_model(tiny_run), "-o", str(tmp_path / "r.sdf")]) == 0
    mols = list(Chem.SDMolSupplier(str(tmp_path / "r.sdf")))
    assert [m.GetProp("_Name") for m in mols] == [r[0] for r in ROWS]
    assert mols[1].GetNumAtoms() == 0 and mols[1].GetProp("reason") == "RDKit cannot parse the SMILES"


# ----------------------------------------------------------------------------- the model's domain


def test_inputs_outside_the_models_domain_are_marked(tiny_run, tmp_path, capsys):
    src = _csv(tmp_path)
    assert main(["reconstruct", str(src), *_model(tiny_run), "-o", str(tmp_path / "r.csv")]) == 0
    printed = capsys.readouterr().out
    table = pd.read_csv(tmp_path / "r.csv", keep_default_na=False)
    assert table.in_domain.tolist() == [True, False, True, False, False, False]
    notes = dict(zip(table.name, table.domain_note))
    assert notes["iodo"].startswith("element I not among the training molecules' C, N, O")
    assert notes["ammonium"] == "charged atoms (the training molecules have none)"
    assert notes["big"].startswith("the model cannot read it: SELFIES has") and "max_len" in notes["big"]
    assert notes["broken"] == "no molecule"
    assert "4 of 6 input rows outside the model's domain" in printed and "molvae score" in printed

    assert main(["encode", str(src), *_model(tiny_run), "-o", str(tmp_path / "e.csv"), "-q"]) == 0
    assert "4 of 6 input rows outside the model's domain" in capsys.readouterr().out
    encoded = pd.read_csv(tmp_path / "e.csv", keep_default_na=False)
    assert encoded.in_domain.tolist() == [True, True]
    assert json.loads((tmp_path / "e.csv.meta.json").read_text())["summary"]["out_of_domain"] == 4


def test_a_recorded_weight_range_marks_small_molecules(tiny_run, moses_300, tmp_path, capsys):
    model = tmp_path / "with_bank.pt"
    assert main(["fit-prior", str(moses_300), "-m", str(tiny_run / "best.pt"), "--size", "100", "-o", str(model), "-q"]) == 0
    assert "its domain: elements" in capsys.readouterr().out
    src = tmp_path / "in.csv"
    src.write_text("smiles\nCCO\n" + pd.read_csv(moses_300).iloc[0, 0] + "\n")
    assert main(["reconstruct", str(src), "-m", str(model), "-o", str(tmp_path / "r.csv")]) == 0
    table = pd.read_csv(tmp_path / "r.csv", keep_default_na=False)
    assert table.in_domain.tolist() == [False, True]
    assert table.domain_note[0].startswith("mw 46.07 outside the training molecules'")


# ----------------------------------------------------------------------------- draw


def test_draw_makes_a_grid_from_a_file_with_legends_from_a_column(tmp_path, capsys):
    src = _sdf(tmp_path)
    assert main(["draw", str(src), "-o", str(tmp_path / "g.png"), "--legend", "activity"]) == 0
    assert "5 of 6 rows drawn, legend activity; no readable molecule in 1, drawn as * (rows 1)" in capsys.readouterr().out
    assert (tmp_path / "g.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["draw", str(_csv(tmp_path)), "-o", str(tmp_path / "g.svg"), "--limit", "3"]) == 0
    assert "2 of 3 rows drawn, legend name" in capsys.readouterr().out
    svg = (tmp_path / "g.svg").read_text()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    assert main(["draw", str(src), "-o", str(tmp_path / "g.jpg")]) == 2
    assert "name it .png or .svg" in capsys.readouterr().err
    assert main(["draw", str(src), "-o", str(tmp_path / "h.png"), "--legend", "pIC50"]) == 2
    assert "no such column; its columns are ['row', 'label', 'id', 'activity']" in capsys.readouterr().err
