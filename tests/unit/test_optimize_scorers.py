"""Scorers from outside molvae (a function, module:function, tdc:NAME), PMO's call counting and AUC."""

import math
import sys

import numpy as np
import pandas as pd
import pytest

from molvae import properties as P
from molvae.errors import ConfigError
from molvae.optimize import Objective, Oracle, Term, top_k_auc
from molvae.optimize.scorers import scorer_name

ASPIRIN = "CC(=O)Oc1ccccc1C(=O)O"


def nitrogen_count(smiles: str) -> float:  # importable as tests.unit... is not needed: named by module:qualname
    return float(smiles.count("N") + smiles.count("n"))


def test_a_function_is_a_term_and_gets_canonical_smiles():
    seen = []
    obj = Objective([Term(lambda s: seen.append(s) or 1.5, weight=2.0)])
    score, violation, values = obj.evaluate(P.as_mol("OC(=O)c1ccccc1OC(C)=O"), None)
    assert (score, violation) == (3.0, "") and seen == [P.canonical(ASPIRIN)]
    assert obj.scorer_names == ["<lambda>"]


def test_named_functions_resolve_and_are_written_back_by_name():
    term = Term(nitrogen_count)
    assert term.property == f"{__name__}:nitrogen_count"
    assert Term(term.property).function is nitrogen_count  # the spec's name imports it back
    assert Objective([term]).as_dict()["terms"] == [{"property": term.property, "goal": "maximize", "weight": 1.0}]
    assert scorer_name(len) == "builtins:len"
    assert Objective([Term("builtins:len")]).evaluate(P.as_mol("CCO"), "CCO")[0] == 3.0


@pytest.mark.parametrize("name, message", [
    ("no_such_module_xyz:f", "cannot import module 'no_such_module_xyz'"),
    ("os:no_such_function", "has no 'no_such_function'"),
    ("os:sep", "is a str, not a function"),
    (":f", "module:function"),
])
def test_bad_scorer_names_are_one_line_errors(name, message):
    with pytest.raises(ConfigError, match=message):
        Term(name)


def test_tdc_without_pytdc_says_how_to_install(monkeypatch):
    from molvae.optimize import scorers

    scorers.tdc_scorer.cache_clear()
    monkeypatch.setitem(sys.modules, "tdc", None)  # import tdc raises ImportError whether or not it is installed
    with pytest.raises(ConfigError, match=r'tdc:qed needs PyTDC.*pip install -e "\.\[bench\]"'):
        Term("tdc:qed")
    scorers.tdc_scorer.cache_clear()


@pytest.mark.parametrize("returned, reason", [(ValueError("boom"), "failed: ValueError: boom"),
                                              (math.nan, "returned nan"), ("high", "returned str")])
def test_a_failing_scorer_makes_the_molecule_infeasible_with_its_reason(returned, reason):
    def scorer(smiles):
        if isinstance(returned, Exception):
            raise returned
        return returned

    oracle = Oracle(Objective([Term(scorer)]), budget=5)
    out = oracle(["CCO"])
    assert out[0] == oracle.penalty()  # recorded, scored as infeasible
    row = oracle.table().iloc[0]
    assert not row.feasible and reason in row.violation and oracle.calls == 1


def test_calls_are_counted_as_pmo_counts_them():
    # a repeat (any spelling) and a string that is no molecule cost nothing; the budget is exact
    calls = []
    oracle = Oracle(Objective([Term(lambda s: calls.append(s) or float(len(s)))]), budget=3)
    y = oracle(["CCO", "OCC", "C1CC", "c1ccccc1", None, "CCN", "CCCl", "CC"], step=1)
    assert calls == ["CCO", "c1ccccc1", "CCN"] and oracle.calls == 3
    assert y[1] == y[0] and np.isnan(y[2]) and np.isnan(y[4]) and np.isnan(y[6])
    assert oracle.left == 0 and len(oracle.table()) == 3


def _table(scores):
    return pd.DataFrame({"score": scores, "feasible": [True] * len(scores)})


def test_top_k_auc_is_pmos_definition():
    # worked by hand with PMO's rule: read every 2 calls from 0, trapezoids, the last value held to the budget
    # 2 calls: top-2 mean 2 -> 2*(2+0)/2 = 2; 4 calls: top-2 mean 4 -> 2*(4+2)/2 = 6; calls 5-6 at 4 -> 8
    assert top_k_auc(_table([1, 3, 2, 5]), budget=6, k=2, every=2) == pytest.approx(16 / 6)
    # a constant score c over the whole budget: PMO's first trapezoid starts at 0, costing c * every / 2
    assert top_k_auc(_table([0.8] * 1000), budget=1000) == pytest.approx(0.8 * (1 - 50 / 1000))
    assert top_k_auc(_table([0.8] * 1000), budget=1000, every=1) == pytest.approx(0.8 * (1 - 0.5 / 1000))
    # infeasible molecules do not count; nothing found is 0
    t = _table([0.9, 0.5]).assign(feasible=[False, True])
    assert top_k_auc(t, budget=2, k=1, every=1) == pytest.approx((0 + 0.5 / 2) / 2)  # curve 0, 0, 0.5
    assert top_k_auc(_table([]), budget=10) == 0.0
