"""The ring-size screen of molvae sample: the limit read from the training molecules, and what it takes out."""

import pytest
import selfies as sf
from rdkit import Chem

from molvae.chem import slip_reason
from molvae.cli import main
from molvae.domain import Domain, largest_ring, recorded_ranges
from molvae.errors import MolvaeError
from molvae.sampling import resolve_max_ring

TOKENS = frozenset(sf.get_semantic_robust_alphabet() | {"[Ring1]", "[Ring2]"} | {f"[{b}Branch{n}]" for b in ("", "=", "#") for n in (1, 2)})


def test_the_limit_is_the_largest_ring_of_the_training_molecules():
    assert largest_ring([Chem.MolFromSmiles(s) for s in ("c1ccc2ccccc2c1", "C1CCCCCCCCCCC1")]) == 12
    assert largest_ring([Chem.MolFromSmiles("CCO"), None]) == 0
    recorded = recorded_ranges(["c1ccccc1CC", "C1CCCCCCC1", "C1CC2CCC1C2"])
    assert recorded["max_ring"] == 8
    domain = Domain.of_model(["<pad>", "[C]"], 80, {"domain": recorded})
    assert domain.max_ring == 8 and "rings of at most 8 atoms" in domain.describe()
    assert Domain.of_model(["<pad>", "[C]"], 80, {}).max_ring == 0  # a checkpoint that records none


def test_a_ring_over_the_limit_is_a_slip_and_nothing_else_is():
    assert slip_reason("C1CCCCCCC1", TOKENS, max_ring=7) == "a ring of more than 7 atoms"
    assert slip_reason("C1CCCCCC1", TOKENS, max_ring=7) is None  # 7 atoms: within
    assert slip_reason("c1ccc2ccccc2c1", TOKENS, max_ring=6) is None  # fused rings: two of 6, not one of 10
    assert slip_reason("C1CCCCCCC1", TOKENS) is None  # no limit


def test_the_limit_is_given_or_refused_clearly():
    assert resolve_max_ring("auto", 7) == 7 and resolve_max_ring("auto", 0) is None
    assert resolve_max_ring("none", 7) is None and resolve_max_ring(None, 7) is None
    assert resolve_max_ring("9") == 9 and resolve_max_ring(6) == 6
    for bad in ("2", "seven", "6.5", -1, ""):
        with pytest.raises(MolvaeError, match="max_ring"):
            resolve_max_ring(bad)


def test_sampling_under_a_limit_writes_no_larger_ring_and_counts_what_it_redrew(tiny_model):
    free = tiny_model.sample(300, seed=0, max_ring="none")
    limited = tiny_model.sample(300, seed=0, max_ring=5)
    assert max(largest_ring([Chem.MolFromSmiles(s)]) for s in free.smiles) > 5  # the tiny model writes them
    assert max(largest_ring([Chem.MolFromSmiles(s)]) for s in limited.smiles) <= 5 and len(limited) == 300
    assert limited.attrs["slips"]["a ring of more than 5 atoms"] > 0
    # the tiny model's checkpoint records no ring limit: "auto" (the default) screens none
    assert tiny_model.domain.max_ring == 0 and tiny_model.sample(300, seed=0).smiles.tolist() == free.smiles.tolist()
    with pytest.raises(MolvaeError, match="screening is off"):
        tiny_model.sample(10, seed=0, max_ring=5, screen=False)


def test_the_cli_records_the_limit_and_refuses_a_bad_one(tiny_run, tmp_path, capsys):
    out = tmp_path / "s.csv"
    assert main(["sample", "-m", str(tiny_run / "best.pt"), "-n", "50", "--max-ring", "6", "-o", str(out), "-q",
                 "--properties", "none"]) == 0
    assert '"max_ring": 6' in (tmp_path / "s.csv.meta.json").read_text()
    assert main(["sample", "-m", str(tiny_run / "best.pt"), "-n", "5", "--max-ring", "big", "-o", str(out), "-q"]) == 2
    err = capsys.readouterr().err
    assert "max_ring must be" in err and "Traceback" not in err
