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
