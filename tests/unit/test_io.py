"""Reading users' files and writing molvae's JSON records."""

import json
import math

import numpy as np
import pytest

from molvae.io import read_smiles, write_json


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
