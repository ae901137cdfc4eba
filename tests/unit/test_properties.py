import math

import pytest
from rdkit import Chem
from rdkit.Chem import QED, Crippen, Descriptors, rdMolDescriptors

from molvae import properties as P
from molvae.errors import ConfigError

ASPIRIN = "CC(=O)Oc1ccccc1C(=O)O"
CAFFEINE = "Cn1cnc2c1c(=O)n(C)c(=O)n2C"


@pytest.mark.parametrize("smiles", [ASPIRIN, CAFFEINE])
def test_values_match_rdkit(smiles):
    mol = Chem.MolFromSmiles(smiles)
    row = P.compute([smiles], ["qed", "logp", "mw", "tpsa", "rings"]).iloc[0]
    assert row.qed == pytest.approx(QED.qed(mol))
    assert row.logp == pytest.approx(Crippen.MolLogP(mol))
    assert row.mw == pytest.approx(Descriptors.MolWt(mol))
    assert row.tpsa == pytest.approx(rdMolDescriptors.CalcTPSA(mol))
    assert row.rings == {ASPIRIN: 1, CAFFEINE: 2}[smiles]


def test_known_values():
    # published figures: aspirin MW 180.16, QED 0.55; caffeine MW 194.19, logP (Crippen) -1.03
    df = P.compute([ASPIRIN, CAFFEINE], "mw,qed,logp,hbd")
    assert df.mw.round(2).tolist() == [180.16, 194.19]
    assert round(df.qed[0], 2) == 0.55
    assert round(df.logp[1], 2) == -1.03
    assert df.hbd.tolist() == [1.0, 0.0]


def test_sa_score_orders_simple_before_complex():
    simple, complex_ = P.compute(["CCO", "C[C@H]1C[C@@]2(O)[C@H]3CC[C@]4(C)[C@@H](CC[C@@H]4O)[C@@H]3CC[C@]2(C)C1"],
                                 ["sa"]).sa
    assert 1 <= simple < complex_ <= 10


def test_invalid_rows_are_nan_and_rows_keep_their_order():
    df = P.compute(["C1CC", ASPIRIN, None, ""], ["qed"])
    assert len(df) == 4
    assert math.isnan(df.qed[0]) and math.isnan(df.qed[2]) and math.isnan(df.qed[3])
    assert df.qed[1] > 0


def test_resolve_names():
    assert P.resolve(None) == list(P.DEFAULT)
    assert P.resolve("none") == [] and P.resolve("") == []
    assert P.resolve(" qed , sa ") == ["qed", "sa"]
    with pytest.raises(ConfigError, match="unknown property 'foo'"):
        P.resolve("qed,foo")


def test_user_property(monkeypatch):
    monkeypatch.setitem(P.REGISTRY, "nitrogens", None)  # restored after the test
    P.register("nitrogens", lambda mol: sum(a.GetSymbol() == "N" for a in mol.GetAtoms()))
    assert P.compute([CAFFEINE, ASPIRIN], ["nitrogens"]).nitrogens.tolist() == [4.0, 0.0]
    with pytest.raises(ConfigError):
        P.register("bad name", len)


def test_penalized_logp_both_forms():
    # cyclononane: logP 3.5109 (Crippen), SA 1.0 (the scorer's floor), largest ring 9 -> penalty 3
    row = P.compute(["C1CCCCCCCC1"], "penalized_logp,penalized_logp_raw,logp,sa").iloc[0]
    assert P.largest_ring_penalty("C1CCCCCCCC1") == 3 and P.largest_ring_penalty("c1ccccc1") == 0
    assert row.penalized_logp_raw == pytest.approx(row.logp - row.sa - 3)
    (lm, ls), (sm, ss), (rm, rs) = P.PLOGP_NORMALIZATION.values()
    assert row.penalized_logp == pytest.approx((row.logp - lm) / ls + (-row.sa - sm) / ss + (-3 - rm) / rs)
    # the ZINC250k constants are JT-VAE's, to the digit
    assert (lm, ls) == (2.4570953396190123, 1.434324401111988)
    # an aspirin-sized drug scores near the ZINC mean; a long alkane chain games the score (why a length limit matters)
    chain, drug = P.compute(["C" * 30, ASPIRIN], ["penalized_logp"]).penalized_logp
    assert chain > 5 > drug


def test_fsp3_and_rule_of_five_violations():
    # aspirin: 1 sp3 carbon of 9, no violation. Cyclosporin A (1202 Da, 5 N-H donors, 23 N+O acceptors,
    # Crippen logP ~3.3): two violations. A C40 alkane-diol: logP and weight, two.
    cyclosporin = ("CC[C@H]1C(=O)N(CC(=O)N([C@H](C(=O)N[C@H](C(=O)N([C@H](C(=O)N[C@H](C(=O)N[C@@H](C(=O)N([C@H]"
                   "(C(=O)N([C@H](C(=O)N([C@H](C(=O)N([C@H](C(=O)N1)[C@@H]([C@H](C)C/C=C/C)O)C)C(C)C)C)CC(C)C)C)"
                   "CC(C)C)C)C)C)CC(C)C)C)C(C)C)CC(C)C)C)C")
    df = P.compute([ASPIRIN, cyclosporin, "OC" + "C" * 38 + "CO", "O"], "fsp3,lipinski_violations")
    mol = Chem.MolFromSmiles(cyclosporin)
    assert df.fsp3[0] == pytest.approx(1 / 9) and df.fsp3[3] == 0.0
    assert df.fsp3[1] == pytest.approx(rdMolDescriptors.CalcFractionCSP3(mol))
    assert rdMolDescriptors.CalcNumLipinskiHBD(mol) == 5 and rdMolDescriptors.CalcNumLipinskiHBA(mol) > 10
    assert df.lipinski_violations.tolist() == [0.0, 2.0, 2.0, 0.0]


def test_every_property_has_a_line_in_the_glossary():
    text = P.glossary()
    assert all(f"  {name} " in text for name in P.REGISTRY)
    assert "fsp3" in P.known() and "lipinski_violations" in P.known()


def test_one_smiles_string_is_one_molecule():
    """The functions that take many molecules take one string as one molecule, not as its characters."""
    one = P.compute("CCO", ["mw"])
    assert one.mw.tolist() == pytest.approx([46.069], abs=1e-3)
    assert P.tanimoto("CCO", "CCO") == [1.0]
    values, rejects = P.table("CCO", ["mw"])
    assert values.canonical.tolist() == ["CCO"] and values.row.tolist() == [0] and not len(rejects)
    assert P.molecule_properties("CCO", ["mw"], cache_dir="").shape == (1, 1)
