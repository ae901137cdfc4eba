import gzip

import numpy as np
import pandas as pd
import pytest

from conftest import RDKIT_CONTRIB, RDKIT_DATA
from molvae import data
from molvae.data import bucketed_batches, load_molecules, prepare, split_indices
from molvae.io import read_smiles
from molvae.errors import InputFileError


def test_read_csv_with_header_and_named_column(tmp_path):
    p = tmp_path / "a.csv"
    p.write_text("id,smi,value\n1,CCO,0.1\n2,c1ccccc1,0.2\n")
    assert read_smiles(p).tolist() == ["CCO", "c1ccccc1"]
    assert read_smiles(p, "smi").tolist() == ["CCO", "c1ccccc1"]
    with pytest.raises(InputFileError, match="no column named 'SMILES'"):
        read_smiles(p, "SMILES")


def test_read_csv_detects_the_smiles_column_by_content(tmp_path):
    p = tmp_path / "a.csv"
    p.write_text("name,structure\naspirin,CC(=O)Oc1ccccc1C(=O)O\nethanol,CCO\n")
    assert read_smiles(p).tolist() == ["CC(=O)Oc1ccccc1C(=O)O", "CCO"]


def test_headerless_csv_with_comment_lines_from_rdkit():
    # RDKit's NCI/first_200.tpsa.csv: '#' comment lines, then "smiles,tpsa" rows without a header
    s = read_smiles(RDKIT_DATA / "NCI" / "first_200.tpsa.csv")
    assert len(s) == 200 and s.iloc[0] == "CC1=CC(=O)C=CC1=O"


def test_smi_files_from_rdkit():
    s = read_smiles(RDKIT_DATA / "NCI" / "first_5K.smi")  # SMILES then an id
    assert len(s) == 4999 and s.iloc[0] == "CC1=CC(=O)C=CC1=O"  # the file has 4999 lines
    s = read_smiles(RDKIT_CONTRIB / "Fastcluster" / "cdk2.smi")  # an id then SMILES
    assert s.iloc[0] == "CC(C)C(=O)COc1nc(N)nc2[nH]cnc12"


def test_gzip_and_blank_rows_keep_row_numbers(tmp_path):
    p = tmp_path / "a.csv.gz"
    with gzip.open(p, "wt") as fh:
        fh.write("SMILES\nCCO\n\nCCN\n")
    s = read_smiles(p)
    assert s.tolist() == ["CCO", "", "CCN"]


def test_unreadable_inputs(tmp_path):
    with pytest.raises(InputFileError, match="not found"):
        read_smiles(tmp_path / "missing.csv")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(InputFileError):
        read_smiles(tmp_path / "empty.csv")
    (tmp_path / "numbers.csv").write_text("a,b\n1,2\n3,4\n")
    with pytest.raises(InputFileError, match="cannot find a SMILES column"):
        read_smiles(tmp_path / "numbers.csv")
    (tmp_path / "binary.csv").write_bytes(b"\xff\xfe\x00\x81" * 10)
    with pytest.raises(InputFileError):
        read_smiles(tmp_path / "binary.csv")


def test_prepare_keeps_every_row_somewhere():
    smiles = ["CCO", "xx", "", "FI(F)F", "C" * 30, "c1ccccc1"]
    m = prepare(smiles, max_len=20, progress=False)
    assert m.smiles == ["CCO", "c1ccccc1"]
    assert m.rows.tolist() == [0, 5]
    reasons = dict(zip(m.rejects.row, m.rejects.reason))
    assert set(reasons) == {1, 2, 3, 4}
    assert "parse" in reasons[1] and reasons[2] == "empty SMILES" and "SELFIES" in reasons[3]
    assert "30 tokens, over max_len=20" in reasons[4]
    assert m.tokens.shape == (2, 9) and m.lengths.tolist() == [4, 9]  # benzene: 8 tokens + <eos>


def test_prepare_with_fixed_vocab_rejects_unknown_tokens():
    base = prepare(["CCO", "CCC"], max_len=10, progress=False)
    m = prepare(pd.Series(["CCN", "OCC"], index=[10, 11]), max_len=10, vocab=base.vocab, progress=False)
    assert m.smiles == ["CCO"] and m.rows.tolist() == [11]
    assert m.rejects.row.tolist() == [10] and "[N]" in m.rejects.reason[0]


def test_parallel_matches_serial(monkeypatch, moses_300):
    smiles = read_smiles(moses_300).tolist() + ["bad"]
    serial = prepare(smiles, max_len=60, workers=1, progress=False)
    monkeypatch.setattr("molvae.parallel.PARALLEL_MIN_ROWS", 10)
    parallel = prepare(smiles, max_len=60, workers=2, progress=False)
    assert parallel.smiles == serial.smiles and parallel.vocab == serial.vocab
    assert np.array_equal(parallel.tokens, serial.tokens)
    assert parallel.rejects.equals(serial.rejects)


def test_cache_is_used_and_keyed_on_settings(tmp_path, moses_300, monkeypatch):
    first = load_molecules(moses_300, max_len=60, cache_dir=tmp_path, progress=False)
    assert len(list(tmp_path.glob("*.npz"))) == 1

    def boom(*a, **k):
        raise AssertionError("preprocessed again despite the cache")

    monkeypatch.setattr(data, "encode_many", boom)  # what preprocessing runs on every molecule
    second = load_molecules(moses_300, max_len=60, cache_dir=tmp_path, progress=False)
    assert second.smiles == first.smiles and second.vocab == first.vocab
    assert np.array_equal(second.tokens, first.tokens) and np.array_equal(second.rows, first.rows)
    assert second.rejects.equals(first.rejects)
    with pytest.raises(AssertionError, match="again"):  # another setting is another cache entry
        load_molecules(moses_300, max_len=50, cache_dir=tmp_path, progress=False)


def test_cache_keeps_rejects(tmp_path):
    p = tmp_path / "in.csv"
    p.write_text("smiles\nCCO\nbad\n")
    load_molecules(p, max_len=10, cache_dir=tmp_path / "c", progress=False)
    again = load_molecules(p, max_len=10, cache_dir=tmp_path / "c", progress=False)
    assert again.rejects.to_dict("records") == [{"row": 1, "input": "bad", "reason": "RDKit cannot parse the SMILES"}]


def test_limit_takes_a_reproducible_subset_with_file_row_numbers(moses_300, tmp_path):
    a = load_molecules(moses_300, max_len=60, limit=50, seed=3, cache_dir="", progress=False)
    b = load_molecules(moses_300, max_len=60, limit=50, seed=3, cache_dir="", progress=False)
    full = read_smiles(moses_300)
    assert len(a) == 50 and a.rows.tolist() == b.rows.tolist()
    assert a.rows.max() > 50  # drawn from the whole file
    from molvae.chem import canonical_smiles
    assert all(canonical_smiles(full[r]) == s for r, s in zip(a.rows, a.smiles))


def test_bucketed_batches():
    lengths = np.random.default_rng(0).integers(5, 60, size=1000)
    batches = bucketed_batches(lengths, 32, seed=1)
    assert sorted(np.concatenate(batches).tolist()) == list(range(1000))
    assert all(len(b) <= 32 for b in batches)
    again = bucketed_batches(lengths, 32, seed=1)
    assert all(np.array_equal(x, y) for x, y in zip(batches, again))
    spread = np.mean([np.ptp(lengths[b]) for b in batches])
    assert spread < 5  # similar lengths in a batch; a random batch would span ~50
    other = bucketed_batches(lengths, 32, seed=2)
    assert not all(np.array_equal(x, y) for x, y in zip(batches, other))


def test_split_indices():
    tr, va = split_indices(100, 0.1, seed=0)
    assert len(va) == 10 and len(tr) == 90 and not set(tr) & set(va)
    tr2, va2 = split_indices(100, 0.1, seed=0)
    assert np.array_equal(va, va2)
    assert len(split_indices(100, 0.5, 0, max_val=7)[1]) == 7
    assert len(split_indices(3, 0.01, 0)[1]) == 1


def test_cache_survives_a_multiline_cell(tmp_path):
    p = tmp_path / "in.csv"
    p.write_text('smiles,name\nCCO,a\n"x1\nx2",b\nCCN,c\n')
    first = load_molecules(p, max_len=10, cache_dir=tmp_path / "c", progress=False)
    again = load_molecules(p, max_len=10, cache_dir=tmp_path / "c", progress=False)
    assert first.rows.tolist() == again.rows.tolist() == [0, 2]
    assert again.rejects.row.tolist() == [1] and again.smiles == ["CCO", "CCN"]
    assert again.rejects.input.tolist() == ["x1 x2"]


SCRIPT = """
from molvae.chem import canonical_many
from molvae.parallel import map_chunks
out = map_chunks(canonical_many, ["OCC"] * 30, workers=2, progress=False)
print(len(out), out[0])
"""


@pytest.mark.parametrize("guarded", [False, True])
def test_scripts_without_a_main_guard_run_in_one_process(tmp_path, monkeypatch, guarded):
    """Spawned workers re-import the main script: without the guard that would recurse, so molvae
    works in-process and says why; with the guard it uses the workers."""
    import subprocess
    import sys

    body = SCRIPT if not guarded else "if __name__ == '__main__':\n" + "".join(f"    {ln}\n" for ln in SCRIPT.strip().splitlines())
    script = tmp_path / "user_script.py"
    script.write_text("import molvae.parallel\nmolvae.parallel.PARALLEL_MIN_ROWS = 10\n" + body)
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.split() == ["30", "CCO"]
    assert ("no `if __name__" in run.stderr) is not guarded
    assert "bootstrapping phase" not in run.stderr
    piped = subprocess.run([sys.executable, "-"], input=script.read_text(), capture_output=True, text=True, timeout=120)
    assert piped.returncode == 0 and piped.stdout.split() == ["30", "CCO"], piped.stderr[-2000:]


def test_reasons_name_the_setting_as_the_caller_spells_it(tmp_path, moses_300):
    """The advice in a reason is the Python keyword by default and the verb's flag on the command
    line, also when the set comes from the cache, which keeps the bare reasons."""
    from molvae.errors import spelled_as

    vocab = load_molecules(moses_300, max_len=60, cache_dir="", progress=False).vocab
    src = tmp_path / "in.csv"
    src.write_text("smiles\nCCN.Cl\nCC(=O)[O-]\nCCO\n")
    load = dict(max_len=60, vocab=vocab, cache_dir=tmp_path / "c", progress=False)
    python = load_molecules(src, **load).rejects.reason.tolist()
    assert python == ["2 fragments (a salt or mixture); keep the largest with largest_fragment=True",
                      "tokens not in the model's vocabulary: [O-1]; standardize=True makes it readable"]
    with spelled_as({"standardize": "--standardize"}):  # a verb with --standardize and no --largest-fragment
        cli = load_molecules(src, **load).rejects.reason.tolist()  # from the cache
        assert cli == ["2 fragments (a salt or mixture)",
                       "tokens not in the model's vocabulary: [O-1]; --standardize makes it readable"]
        assert data.prepare(["CC(=O)[O-]"], max_len=60, vocab=vocab, progress=False).rejects.reason.tolist() == cli[1:]
