import pandas as pd
import pytest
import selfies as sf

from molvae.chem import (canonical_many, canonical_smiles, default_constraints, encode_many, prepare_smiles,
                         selfies_constraints, selfies_to_smiles, split_selfies)
from molvae.errors import MoleculeRejected


def test_canonical_smiles_is_independent_of_input_form():
    assert canonical_smiles("OCC") == canonical_smiles("C(O)C") == "CCO"
    assert canonical_smiles("C1=CC=CC=C1") == "c1ccccc1"


@pytest.mark.parametrize("bad", ["", "   ", "not a smiles", "C1CC", "[CH5]", None])
def test_canonical_smiles_rejects_bad_input_quietly(bad, capfd):
    assert canonical_smiles(bad) is None
    assert "SMILES Parse Error" not in capfd.readouterr().err


@pytest.mark.parametrize("bad, reason", [
    ("", "empty SMILES"),
    ("C1CC", "RDKit cannot parse"),
    ("FI(F)F", "SELFIES cannot encode"),  # iodine with three bonds breaks the default constraints
])
def test_prepare_smiles_rejects_with_reason(bad, reason):
    with pytest.raises(MoleculeRejected, match=reason):
        prepare_smiles(bad)


def test_selfies_round_trip_on_moses(moses_300):
    smiles = pd.read_csv(moses_300).SMILES
    for s in smiles:
        canon, encoded = prepare_smiles(s)
        assert selfies_to_smiles(encoded) == canon
        assert "".join(split_selfies(encoded)) == encoded


def test_selfies_to_smiles_handles_empty():
    assert selfies_to_smiles("") is None
    assert selfies_to_smiles("[Ring1]") is None  # decodes to nothing


def test_constraints_are_set_for_the_block_and_restored():
    before = sf.get_semantic_constraints()
    hypervalent = dict(default_constraints(), I=3)
    with selfies_constraints(hypervalent):
        assert prepare_smiles("FI(F)F")[0] == "FI(F)F"
    assert sf.get_semantic_constraints() == before
    with pytest.raises(MoleculeRejected):
        prepare_smiles("FI(F)F")


def test_encode_many_returns_tokens_or_reasons():
    out = encode_many(["CCO", "xx", "FI(F)F"])
    assert out[0] == ("CCO", ["[C]", "[C]", "[O]"])
    assert out[1][0] is None and "parse" in out[1][1]
    assert out[2][0] is None and "SELFIES" in out[2][1]


def test_chem_does_not_import_torch():
    import subprocess
    import sys

    code = "import sys, molvae.chem; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_relaxed_constraints_keep_molecules_and_expose_slips():
    """Strings that encode real molecules decode the same under relaxed constraints; a string that
    over-fills an atom is repaired by the default constraints but refused once they are relaxed."""
    from molvae.chem import decode_many, default_constraints, encode_many, relaxed_constraints

    relaxed = relaxed_constraints(None, 1)
    assert relaxed["C"] == default_constraints()["C"] + 1
    smiles = ["CCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1", "O=S(=O)(N)c1ccccc1"]
    encoded = [" ".join(toks).replace(" ", "") for _, toks in encode_many(smiles)]
    assert decode_many(encoded, relaxed) == decode_many(encoded) == canonical_many(smiles)
    slip = "[C][#C][=C]"  # a triple then a double bond on one carbon: five bonds
    assert decode_many([slip]) == ["C#CC"]  # repaired into another molecule by the default constraints
    assert decode_many([slip], relaxed) == [None]  # kept as written, and refused by RDKit


def test_slip_reason_names_radicals_and_tokens_outside_the_vocabulary():
    from molvae.chem import selfies_constraints, slip_reason, split_selfies

    import selfies as sf

    tokens = frozenset(split_selfies(sf.encoder("CC(=O)OC1CCCCC1")))
    with selfies_constraints(None):
        assert slip_reason("CC(=O)OC", tokens) is None
        assert slip_reason("[NH]c1ccccc1", tokens | {"[NH1]"}) == "radical"
        assert slip_reason("CCN", tokens) == "unreadable token [N]"
        assert slip_reason("not a smiles", tokens) == "not a molecule"


def test_one_smiles_string_is_one_molecule():
    import numpy as np
    from rdkit import Chem

    from molvae.chem import as_smiles_list
    from molvae.errors import InvalidInput

    assert as_smiles_list("CCO") == ["CCO"]
    assert as_smiles_list(np.str_("CCO")) == ["CCO"] and as_smiles_list(np.array("CCO")) == ["CCO"]
    assert as_smiles_list(["CCO", None, ""]) == ["CCO", None, ""]
    assert as_smiles_list(pd.Series(["CCO", "CCN"], index=[5, 9])) == ["CCO", "CCN"]
    assert as_smiles_list(np.array(["CCO", "CCN"])) == ["CCO", "CCN"]
    assert as_smiles_list(pd.DataFrame({"smiles": ["CCO"]})) == ["CCO"]  # its values, not its column name
    for bad, message in [(pd.DataFrame({"a": ["CCO"], "b": [1]}), "2 columns"), (3.5, "got float"),
                         (None, "got NoneType"), (b"CCO", "bytes"), (Chem.MolFromSmiles("CCO"), "RDKit Mol")]:
        with pytest.raises(InvalidInput, match=message):
            as_smiles_list(bad)
