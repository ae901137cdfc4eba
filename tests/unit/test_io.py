"""Reading users' files with the rest of each row, writing tables of molecules by extension, and
writing molvae's JSON records."""

import gzip
import json
import math

import numpy as np
import pandas as pd
import pytest
from rdkit import Chem

from molvae.errors import ConfigError
from molvae.io import (MoleculeWriter, output_format, output_stem, read_molecules, read_smiles, read_table, write_json,
                       write_molecules)

TABLE = pd.DataFrame({"row": [0, 1, 2], "smiles": ["CCO", "", "c1ccccc1O"], "qed": [0.41, float("nan"), 0.5],
                      "valid": [True, False, True], "name": ["ethanol", "nothing", "phenol"]})


def test_a_csv_keeps_its_other_columns_on_their_rows(tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("name,smiles,id,activity\naspirin,CC(=O)Oc1ccccc1C(=O)O,A1,5.2\nbad,xx,A2,\nethanol,CCO,A3,1\n")
    molecules = read_molecules(src)
    assert molecules.smiles.tolist() == ["CC(=O)Oc1ccccc1C(=O)O", "xx", "CCO"]
    assert list(molecules.columns.columns) == ["name", "id", "activity"]
    assert molecules.columns.activity.tolist() == ["5.2", "", "1"]  # as the file holds them
    assert molecules.head(1).columns.name.tolist() == ["aspirin"]


def test_a_smi_file_names_its_second_column_name(tmp_path):
    src = tmp_path / "in.smi"
    src.write_text("CCO ethanol\nc1ccccc1 benzene extra\n")
    molecules = read_molecules(src)
    assert molecules.smiles.tolist() == ["CCO", "c1ccccc1"]
    assert molecules.columns.to_dict("list") == {"name": ["ethanol", "benzene"], "column_3": ["", "extra"]}


def test_an_sdf_keeps_its_title_and_tags(tmp_path):
    src = tmp_path / "in.sdf"
    with Chem.SDWriter(str(src)) as writer:
        for i, smi in enumerate(["CCO", "c1ccccc1O"]):
            mol = Chem.MolFromSmiles(smi)
            mol.SetProp("_Name", f"mol{i}")
            mol.SetProp("pIC50", str(5 + i))
            if i:
                mol.SetProp("vendor", "acme")
            writer.write(mol)
    molecules = read_molecules(src)
    assert molecules.columns.to_dict("list") == {"label": ["mol0", "mol1"], "pIC50": ["5", "6"], "vendor": ["", "acme"]}


@pytest.mark.parametrize("name", ["out.sdf", "out.sdf.gz"])
def test_sdf_output_holds_every_row_with_its_columns_as_tags(tmp_path, name):
    path = write_molecules(TABLE, tmp_path / name, float_format="%.3g")
    raw = gzip.open(path, "rb") if name.endswith(".gz") else open(path, "rb")
    with raw:
        mols = list(Chem.ForwardSDMolSupplier(raw))
    assert len(mols) == 3 and all(m is not None for m in mols)  # the row without a molecule is an empty record
    assert [Chem.MolToSmiles(m) for m in mols] == ["CCO", "", "Oc1ccccc1"]
    assert [m.GetProp("_Name") for m in mols] == ["ethanol", "nothing", "phenol"]  # titled by the name column
    assert [m.GetProp("qed") for m in mols] == ["0.41", "", "0.5"] and mols[1].GetProp("valid") == "False"
    assert mols[0].GetConformer().Is3D() is False and mols[0].GetConformer().GetAtomPosition(0).x != 0  # 2-D coordinates
    assert not mols[0].HasProp("smiles")  # the molecule is the record, not a tag
    back = read_table(path)
    assert back.row.tolist() == ["0", "1", "2"]


@pytest.mark.parametrize("name, sep", [("out.csv", ","), ("out.tsv", "\t"), ("out.csv.gz", ",")])
def test_csv_and_tsv_output(tmp_path, name, sep):
    path = write_molecules(TABLE, tmp_path / name)
    back = pd.read_csv(path, sep=sep, keep_default_na=False)
    assert back.smiles.tolist() == ["CCO", "", "c1ccccc1O"] and list(back.columns) == list(TABLE.columns)


def test_an_empty_table_still_has_its_header(tmp_path):
    with MoleculeWriter(tmp_path / "e.csv", columns=["smiles", "valid"]):
        pass
    assert (tmp_path / "e.csv").read_text() == "smiles,valid\n"


@pytest.mark.parametrize("name", ["out.smi", "out.txt", "out.xlsx", "out", "out.gz"])
def test_an_unknown_output_extension_is_refused_naming_the_known_ones(name):
    with pytest.raises(ConfigError, match=r"\.csv, \.tsv or \.sdf"):
        output_format(name)


def test_a_failed_write_leaves_no_file(tmp_path):
    with pytest.raises(RuntimeError):
        with MoleculeWriter(tmp_path / "x.sdf") as out:
            out.write(TABLE)
            raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []


def _refuse(constant):
    raise ValueError(f"not strict JSON: {constant}")


def test_json_records_are_strict_json(tmp_path):
    """NaN and infinities (an undefined figure) are written as null, which every parser reads."""
    info = {"top3": math.nan, "best": np.float32(-np.inf), "n": np.int64(3), "scores": np.array([1.5, np.nan]),
            "nested": [{"r2": float("inf")}, (np.float64(0.25), None)], "path": tmp_path, 4: True}
    path = write_json(tmp_path / "x.json", info)
    back = json.loads(path.read_text(), parse_constant=_refuse)
    assert back == {"top3": None, "best": None, "n": 3, "scores": [1.5, None], "nested": [{"r2": None}, [0.25, None]],
                    "path": str(tmp_path), "4": True}


@pytest.mark.parametrize("sep", [";", "\t", ","])
def test_the_delimiter_of_a_csv_is_found(tmp_path, sep):
    path = tmp_path / "in.csv"
    path.write_text(sep.join(["name", "smiles", "pIC50"]) + "\n" + sep.join(["aspirin", "CC(=O)Oc1ccccc1C(=O)O", "5,1"
                    if sep != "," else "5.1"]) + "\n" + sep.join(["ethanol", "CCO", "3"]) + "\n")
    assert read_smiles(path).tolist() == ["CC(=O)Oc1ccccc1C(=O)O", "CCO"]
    tsv = tmp_path / "in.tsv"
    tsv.write_text(path.read_text())
    assert read_smiles(tsv).tolist() == ["CC(=O)Oc1ccccc1C(=O)O", "CCO"]


def test_a_one_column_csv_with_triple_bonds_keeps_its_delimiter(tmp_path):
    path = tmp_path / "in.csv"
    path.write_text("C#N\nCC#CC\nCCO\n")  # no header, no delimiter at all
    assert read_smiles(path).tolist() == ["C#N", "CC#CC", "CCO"]


@pytest.mark.parametrize("name, stem", [("out.csv", "out"), ("out.CSV.gz", "out"), ("map.png", "map"),
                                        ("grid.svg", "grid"), ("bank.pt", "bank"), ("out.sdf", "out.sdf"), ("out.sdf.gz", "out.sdf"),
                                        ("enc.npy", "enc.npy"), ("out.tsv", "out.tsv"), ("plain", "plain"),
                                        (".csv", ".csv")])
def test_side_files_of_one_name_in_two_formats_differ(name, stem):
    assert output_stem(f"runs/{name}") == stem
