"""A model's domain from its vocabulary and recorded ranges (molvae.domain)."""

import pandas as pd
from rdkit import Chem

from molvae.domain import Domain, recorded_ranges

MOSES_LIKE = ["<pad>", "<bos>", "<eos>", "<unk>", "[#Branch1]", "[#C]", "[=C]", "[=N]", "[=O]", "[=Ring1]", "[Br]",
              "[Branch1]", "[C]", "[Cl]", "[F]", "[NH1]", "[N]", "[O]", "[Ring1]", "[S]"]


def test_the_vocabulary_gives_the_elements_and_what_the_training_molecules_lacked():
    domain = Domain.of_model(MOSES_LIKE, 80)
    assert domain.elements == ("C", "N", "O", "F", "S", "Cl", "Br")  # by atomic number; Branch and Ring are no atoms
    assert not (domain.charges or domain.stereo or domain.isotopes or domain.fragments) and not domain.ranges
    assert "no property ranges" in domain.describe() and "at most 80 SELFIES tokens" in domain.describe()
    rich = Domain.of_model(MOSES_LIKE + ["[N+1]", "[C@@H1]", "[/C]", "[13C]", "."], 80)
    assert rich.charges and rich.stereo and rich.isotopes and rich.fragments


def test_problems_name_what_is_outside():
    domain = Domain.of_model(MOSES_LIKE, 80)
    assert domain.problems(Chem.MolFromSmiles("CC(=O)Oc1ccccc1C(=O)O")) == []
    assert domain.problems(Chem.MolFromSmiles("Ic1ccc(Br)cc1")) == ["element I not among the training molecules' C, N, O, F, S, Cl, Br"]
    assert domain.problems(Chem.MolFromSmiles("CC[NH3+]")) == ["charged atoms (the training molecules have none)"]
    assert domain.problems(Chem.MolFromSmiles("C[C@H](N)O")) == ["stereo (the training molecules have none)"]
    assert domain.problems(Chem.MolFromSmiles("CCN.Cl")) == ["2 fragments (the training molecules have one)"]


def test_recorded_ranges_bound_the_molecular_weight():
    train = ["CC(=O)Oc1ccccc1C(=O)O", "Cn1cnc2c1c(=O)n(C)c(=O)n2C"]  # 180.16 and 194.19 Da
    record = recorded_ranges(train + ["not a smiles"], source="two molecules")
    assert record == {"ranges": {"mw": [180.15, 194.2]}, "max_ring": 6, "source": "two molecules", "molecules": 2}
    domain = Domain.of_model(MOSES_LIKE, 80, {"domain": record})
    assert domain.problems(Chem.MolFromSmiles(train[0])) == []
    assert domain.problems(Chem.MolFromSmiles("CCO")) == ["mw 46.07 outside the training molecules' 180.15 to 194.2"]
    assert domain.problems(Chem.MolFromSmiles("O=C1CCCCCCCN1CCC")) == [  # 183.3 Da, a ring of 9
        "a ring of 9 atoms, larger than the training molecules' largest (6)"]
    assert "mw 180.15 to 194.2 (recorded from two molecules)" in domain.describe()


def test_mark_without_the_model_judges_each_input():
    marks = Domain.of_model(MOSES_LIKE, 80).mark(["CCO", "", "CC[NH3+]"])
    assert isinstance(marks, pd.DataFrame) and marks.in_domain.tolist() == [True, False, False]
    assert marks.domain_note.tolist() == ["", "no molecule", "charged atoms (the training molecules have none)"]
