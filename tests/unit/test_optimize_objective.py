"""Objectives: terms (one score for floats and tensors), constraints, what similarity is measured to."""

import pytest
import torch

from molvae import properties as P
from molvae.errors import ConfigError
from molvae.optimize import Constraints, Objective, Oracle, Term, spec_objects

ASPIRIN = "CC(=O)Oc1ccccc1C(=O)O"


def test_constraints_and_terms():
    c = Constraints(similarity_min=0.5, sa_max=3.0, mw_min=100, mw_max=200, max_heavy_atoms=15,
                    smarts_required=["c1ccccc1"], smarts_forbidden=["[N+](=O)[O-]"])
    obj = Objective([Term("qed")], c, reference=ASPIRIN)  # similarity to the start, as a search binds it
    assert obj.evaluate(P.as_mol(ASPIRIN))[1] == ""
    assert "similarity" in obj.evaluate(P.as_mol("CCCCCCO"))[1]
    assert "forbidden" in Objective([Term("qed")], Constraints(smarts_forbidden=["[N+](=O)[O-]"])).evaluate(
        P.as_mol("O=[N+]([O-])c1ccccc1"))[1]
    assert "required" in Objective([Term("qed")], Constraints(smarts_required=["c1ccccc1"])).evaluate(P.as_mol("CCO"))[1]
    assert "MW" in Objective([Term("qed")], Constraints(mw_max=100)).evaluate(P.as_mol(ASPIRIN))[1]
    window = Term("logp", goal="window", low=1.0, high=2.0)
    assert window.score(1.5) == 0 and window.score(3.0) == -1.0 and window.score(0.5) == -0.5
    assert Term("mw", goal="target", target=300, weight=0.5).score(310) == -5.0
    assert Term("sa", goal="minimize").score(2.0) == -2.0


@pytest.mark.parametrize("term", [Term("qed"), Term("sa", goal="minimize", weight=0.3),
                                  Term("logp", goal="window", low=1.0, high=2.0, weight=0.5),
                                  Term("mw", goal="target", target=300, weight=0.01)])
def test_term_scores_floats_and_tensors_alike(term):
    values = [0.5, 1.0, 1.5, 2.0, 3.0, 290.0, 300.0, 315.0]
    x = torch.tensor(values, dtype=torch.float64, requires_grad=True)
    scores = term.score(x)
    assert scores.tolist() == [term.score(v) for v in values]
    scores.sum().backward()  # differentiable, for the gradient search's surrogate
    assert x.grad is not None


def test_similarity_is_measured_to_the_start_unless_a_reference_is_given():
    objective = Objective([Term("qed")], Constraints(similarity_min=0.5))
    with pytest.raises(ConfigError, match="needs a start molecule"):
        Oracle(objective, budget=3)
    assert objective.measured_to(ASPIRIN).reference == ASPIRIN
    assert Objective([Term("similarity")], reference="CCO").measured_to(ASPIRIN).reference == "CCO"
    assert Objective([Term("qed")]).measured_to(None).reference is None  # nothing to measure: nothing needed


def test_reference_for_similarity_differs_from_start():
    obj = Objective([Term("similarity")], reference=ASPIRIN)  # rediscovery: search from the prior
    assert obj.evaluate(P.as_mol(ASPIRIN))[0] == 1.0
    assert obj.evaluate(P.as_mol("CCO"))[0] < 0.2
    spec_obj, _ = spec_objects({"objective": {"terms": [{"property": "similarity"}], "reference": ASPIRIN}})
    assert spec_obj.reference == ASPIRIN
