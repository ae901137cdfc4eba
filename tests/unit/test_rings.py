"""The ring-size decoding constraint: its bans checked against what selfies.decoder then writes."""

import numpy as np
import pandas as pd
import pytest
import selfies as sf
from rdkit import Chem

from molvae.chem import default_constraints, selfies_constraints
from molvae.domain import largest_ring, recorded_ranges
from molvae.errors import MolvaeError
from molvae.rings import RingLimit, _Derivation, resolve_max_ring
from molvae.vocab import SPECIALS

# fused rings, a spiro atom, a branch before the closure, a macrocycle, rings after branches
MOLECULES = ["c1ccc2ccccc2c1", "C1CCC2(CC1)CCNC2", "O=C(NC1CCCCC1)c1ccc(Cl)cc1", "C1CCCCCCCCCCC1",
             "CC(C)(C)c1ccc(C2=NN(C)C(=O)C2)cc1", "Cc1nc2c(s1)CCCC2N", "O=C1CCC(=O)N1c1cccc2ccccc12"]


def _ring_prefixes():
    """Every prefix of the molecules' SELFIES that ends with a ring symbol whose index is still to come."""
    for smiles in MOLECULES:
        symbols = list(sf.split_selfies(sf.encoder(Chem.MolToSmiles(Chem.MolFromSmiles(smiles)))))
        for end in range(1, len(symbols) + 1):
            derivation = _Derivation(symbols[:end])
            if derivation.pending is not None and not derivation.pending[2]:
                yield symbols[:end]


def _largest(symbols) -> int:
    with selfies_constraints(default_constraints()):
        return largest_ring([Chem.MolFromSmiles(sf.decoder("".join(symbols)))])


@pytest.mark.parametrize("limit", [5, 6, 8])
def test_banned_indices_are_exactly_those_that_close_a_larger_ring(limit):
    tokens = list(SPECIALS) + sorted(sf.get_semantic_robust_alphabet() | {"[Ring1]", "[Ring2]"})
    constraint = RingLimit(tokens, limit, default_constraints())
    prefixes = list(_ring_prefixes())
    assert len(prefixes) >= 8
    banned_somewhere = allowed_somewhere = 0
    for prefix in prefixes:
        if len(list(sf.split_selfies(prefix[-1]))) != 1 or "Ring2" in prefix[-1]:
            continue  # one index symbol: each candidate token completes it
        ban = constraint.banned(np.array([[tokens.index(s) for s in prefix]]))
        before = _largest(prefix[:-1])
        for i, token in enumerate(tokens[len(SPECIALS):], start=len(SPECIALS)):
            largest = _largest(prefix + [token])  # the string ends there: selfies forms its ring bonds now
            is_banned = ban is not None and bool(ban[0, i])
            if is_banned:
                banned_somewhere += 1
                assert largest > limit, (prefix, token)
            else:
                allowed_somewhere += 1
                assert largest <= max(limit, before), (prefix, token, largest)
    assert banned_somewhere and allowed_somewhere  # the check saw both sides


def test_two_symbol_indices_are_banned_symbol_by_symbol():
    # 20 carbons in a chain, then [Ring2]: its index (16a + b) reaches 17 + 16a + b atoms back
    tokens = list(SPECIALS) + sorted(sf.get_semantic_robust_alphabet() | {"[Ring2]"})
    constraint = RingLimit(tokens, 8, default_constraints())
    prefix = ["[C]"] * 20 + ["[Ring2]"]
    first = constraint.banned(np.array([[tokens.index(s) for s in prefix]]))
    value = {t: sf.grammar_rules.INDEX_CODE.get(t, 0) for t in tokens}
    # a first symbol of value 0 keeps indices 0..15 open (rings of 2..17 atoms: some within 8); any other value does not
    assert not first[0, tokens.index("[C]")] and first[0, tokens.index("[Ring1]")]
    second = constraint.banned(np.array([[tokens.index(s) for s in prefix + ["[C]"]]]))
    for t in tokens[len(SPECIALS):]:
        assert bool(second[0, tokens.index(t)]) == (value[t] + 2 > 8), t  # the ring holds value + 2 atoms


def test_rows_without_a_pending_ring_are_left_alone():
    tokens = list(SPECIALS) + ["[C]", "[N]", "[Ring1]", "[=C]"]
    constraint = RingLimit(tokens, 6)
    ids = np.array([[4, 5, 4, 4], [4, 4, 4, 4]])
    assert constraint.banned(ids) is None
    assert constraint.banned(np.zeros((2, 0), dtype=int)) is None


def test_the_limit_is_read_from_the_data_and_given_or_refused_clearly():
    assert largest_ring([Chem.MolFromSmiles(s) for s in MOLECULES]) == 12
    assert recorded_ranges(["c1ccccc1CC", "C1CCCCCCC1"])["max_ring"] == 8
    assert resolve_max_ring("auto", 7) == 7 and resolve_max_ring("auto", 0) is None
    assert resolve_max_ring("none", 7) is None and resolve_max_ring(None, 7) is None
    assert resolve_max_ring("9") == 9 and resolve_max_ring(6) == 6
    for bad in ("2", "seven", "6.5", -1):
        with pytest.raises(MolvaeError, match="max_ring"):
            resolve_max_ring(bad)


def test_sampling_under_a_limit_writes_no_larger_ring(tiny_model):
    free = tiny_model.sample(300, seed=0)
    limited = tiny_model.sample(300, seed=0, max_ring=5)

    def largest(df: pd.DataFrame) -> list[int]:
        return [largest_ring([Chem.MolFromSmiles(s)]) for s in df.smiles]

    assert max(largest(free)) > 5  # the tiny model does write larger rings unconstrained
    assert max(largest(limited)) <= 5 and len(limited) == 300
