import numpy as np
import pytest

from molvae.chem import prepare_smiles, split_selfies
from molvae.errors import MoleculeRejected
from molvae.vocab import SPECIALS, Vocab


def _vocab(smiles):
    return Vocab.from_token_lists(split_selfies(prepare_smiles(s)[1]) for s in smiles)


def test_specials_first_and_sorted_rest():
    v = _vocab(["CCO", "c1ccccc1N"])
    assert tuple(v.tokens[:4]) == SPECIALS
    assert (v.pad, v.bos, v.eos, v.unk) == (0, 1, 2, 3)
    assert v.tokens[4:] == sorted(v.tokens[4:])
    assert _vocab(["c1ccccc1N", "CCO"]) == v  # order of the data does not matter


def test_encode_decode_round_trip():
    v = _vocab(["CCO", "c1ccccc1N", "CC(=O)O"])
    for s in ["CCO", "c1ccccc1N", "CC(=O)O"]:
        selfies = prepare_smiles(s)[1]
        assert v.decode(v.encode(selfies)) == selfies


def test_decode_stops_at_eos_and_skips_specials():
    v = _vocab(["CCO"])
    c, o = v.index["[C]"], v.index["[O]"]
    assert v.decode([c, v.unk, o, v.eos, c, c]) == "[C][O]"


def test_unknown_token_is_rejected_with_its_name():
    v = _vocab(["CCO"])
    with pytest.raises(MoleculeRejected, match=r"\[N\]"):
        v.encode("[C][N]")


def test_matrix_layout():
    v = _vocab(["CCO", "C"])
    tokens, lengths = v.to_matrix([v.encode("[C][C][O]"), v.encode("[C]")], max_len=4)
    assert tokens.shape == (2, 4) and tokens.dtype == np.uint8  # as wide as the longest + <eos>
    assert list(lengths) == [4, 2]
    assert tokens[0, 3] == v.eos and tokens[1, 1] == v.eos
    assert (tokens[1, 2:] == v.pad).all()
    with pytest.raises(ValueError):
        v.to_matrix([[4] * 6], max_len=4)


def test_vocab_validates():
    with pytest.raises(ValueError):
        Vocab(["[C]"])
    with pytest.raises(ValueError):
        Vocab(list(SPECIALS) + ["[C]", "[C]"])
