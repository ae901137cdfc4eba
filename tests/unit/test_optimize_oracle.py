"""The oracle's exact budget, and when a search stops."""

import numpy as np
import pandas as pd
import pytest

from molvae.optimize import BudgetExhausted, Objective, Oracle, SearchState, Term
from molvae.optimize.state import STALL_ROUNDS


def test_budget_is_honoured_exactly_and_repeats_are_free():
    objective = Objective([Term("qed")])
    oracle = Oracle(objective, budget=3)
    scores = oracle(["CCO", "OCC", "c1ccccc1", None, "C1CC", "CCN", "CCCl"])
    assert oracle.calls == 3 and oracle.left == 0
    assert scores[0] == scores[1]  # OCC is CCO again: no second call
    assert [h["smiles"] for h in oracle.history] == ["CCO", "c1ccccc1", "CCN"]
    assert pd.isna(scores[3]) and pd.isna(scores[4]) and pd.isna(scores[6])  # no molecule / over budget


def test_the_progress_bar_counts_calls_and_shows_the_best_feasible_score(capsys):
    objective = Objective([Term("qed")])
    oracle = Oracle(objective, budget=3, progress=True, desc="qed-search")
    oracle(["CCO", "OCC"])  # one call: the second is CCO again
    assert oracle.bar.n == oracle.calls == 1
    oracle(["CCO", "c1ccccc1", "CCN", "CCCl"])  # two more calls, then the budget is spent
    oracle.close()
    assert oracle.bar.n == oracle.calls == 3
    best = max(h["score"] for h in oracle.history)
    assert oracle.best == best
    err = capsys.readouterr().err
    assert "qed-search" in err and "3/3" in err and f"best={best:.4g}" in err


class _Oracle:
    """Stands in for an oracle whose call count the test sets."""

    def __init__(self, left: int = 10):
        self.calls, self.left, self.out_of_time = 0, left, False


def test_a_search_stops_when_the_budget_is_spent_or_it_stalls():
    oracle = _Oracle()
    state = SearchState(lambda z, step: np.zeros(len(z)), oracle, np.zeros(2), 1.0, np.random.default_rng(0), 4, 0)
    for _ in range(STALL_ROUNDS):  # the first round, then rounds without a new molecule
        state.begin_round()
    with pytest.raises(BudgetExhausted):
        state.begin_round()
    fresh = SearchState(state.ask, _Oracle(), state.z0, 1.0, state.rng, 4, 0)
    for _ in range(3 * STALL_ROUNDS):  # a new molecule every round: never stalls
        fresh.oracle.calls += 1
        fresh.begin_round()
    fresh.oracle.left = 0
    with pytest.raises(BudgetExhausted):
        fresh.begin_round()
