"""Novelty: whether molecules are in a training file, exactly, without canonicalizing it on a first run."""

import pandas as pd
import pytest
from rdkit import __version__ as rdkit_version

from molvae import novelty
from molvae.cache import file_sha256
from molvae.chem import canonical_smiles
from molvae.io import resolve_data_path

# stored rows: canonical ones, one stored in a non-canonical spelling (OCC is CCO), one that does not parse
ROWS = ["c1ccccc1", "OCC", "CC(=O)O", "xx"]
ASKED = ["CCO", "c1ccccc1", "OCC", "CCN", "CC(O)=O", "not a molecule"]
EXPECTED = [True, True, True, False, True, False]  # by canonical SMILES


@pytest.fixture
def train(tmp_path):
    path = tmp_path / "train.csv"
    path.write_text("smiles\n" + "\n".join(ROWS) + "\n")
    return path


def _no_index(monkeypatch):
    from molvae import data

    monkeypatch.setattr(data, "canonicalize", lambda *a, **k: pytest.fail("built the full index"))


def test_recorded_rows_answer_exactly_without_the_index(train, tmp_path, monkeypatch):
    record = tmp_path / "record.csv"
    novelty.record_rows(train, novelty.noncanonical_rows(train)).to_csv(record, index=False)
    assert pd.read_csv(record).stored.tolist() == ["OCC", "xx"]
    monkeypatch.setattr(novelty, "RECORD", record)
    novelty.recorded_exceptions.cache_clear()
    _no_index(monkeypatch)
    assert novelty.in_training_set(ASKED, train, cache_dir=tmp_path / "c").tolist() == EXPECTED
    assert novelty.in_training_set("CCO", train, cache_dir=tmp_path / "c").tolist() == [True]


def test_an_unmeasured_file_builds_the_index_once_and_only_when_needed(train, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(novelty, "RECORD", tmp_path / "none.csv")
    novelty.recorded_exceptions.cache_clear()
    cache = tmp_path / "c"
    # every molecule asked stands as a canonical row of its own: answered from the stored rows
    with monkeypatch.context() as m:
        _no_index(m)
        assert novelty.in_training_set(["c1ccccc1", "CC(=O)O"], train, cache_dir=cache).tolist() == [True, True]
    # CCO is stored only as OCC: that needs every row's canonical form, built once with a message
    assert novelty.in_training_set(ASKED, train, cache_dir=cache, progress=True).tolist() == EXPECTED
    assert "building that index once" in capsys.readouterr().err
    _no_index(monkeypatch)  # cached now
    assert novelty.in_training_set(ASKED, train, cache_dir=cache).tolist() == EXPECTED


def test_the_shipped_record_covers_moses_train_under_this_rdkit():
    """The record applies to the shipped MOSES-train with the installed RDKit (else a first
    `molvae optimize` canonicalizes 1.6 M molecules), and answers exactly on its non-canonical rows."""
    path = resolve_data_path("moses:train")
    novelty.recorded_exceptions.cache_clear()
    exceptions = novelty.recorded_exceptions(file_sha256(path), rdkit_version)
    assert exceptions is not None, f"no record for moses:train under RDKit {rdkit_version}: run scripts/record_noncanonical.py"
    stored, canonical = next(iter(exceptions.items()))
    assert canonical_smiles(stored) == canonical != stored
    rows = pd.read_csv(novelty.RECORD)
    assert (rows.row[rows.sha256 == file_sha256(path)] >= 0).sum() == len(exceptions) == 276
