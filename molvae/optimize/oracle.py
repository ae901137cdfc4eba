"""The oracle: RDKit scores proposals under an exact budget of calls and records every one.

One call is spent per molecule not seen before in the run (a molecule proposed again costs nothing,
as in the PMO benchmark). Infeasible molecules (a broken constraint) are recorded with the reason;
the optimizers see them as one standard deviation below the worst feasible score seen so far."""

from __future__ import annotations

import time
from typing import Sequence

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from molvae.chem import as_smiles_list, canonical_smiles, mol_from_smiles, quiet_rdkit
from molvae.errors import ConfigError
from molvae.optimize.objective import Objective


# why a search ends, for a person: the reasons of BudgetExhausted (and "rounds", a method's own bound)
STOP_REASONS = {"budget": "no oracle calls left", "stalled": "rounds in a row found no new molecule",
                "collapsed": "the policy's agent wrote only molecules already scored",
                "time limit": "the time limit passed", "rounds": "the method's bound on rounds"}


class BudgetExhausted(Exception):
    """Raised inside an optimizer loop to end the search; `reason` says why (a key of `STOP_REASONS`)."""

    def __init__(self, reason: str = "budget"):
        super().__init__(reason)
        self.reason = reason


class Oracle:
    """RDKit evaluation with an exact budget. Each distinct molecule costs one call; repeats and
    decodings that are no molecule cost nothing. Every proposal is recorded (:attr:`history`).
    Similarity is measured to the objective's reference (see :meth:`Objective.measured_to`).
    `progress`: a progress bar over the calls, with the best feasible score so far (:meth:`close` ends it).
    `time_limit`: seconds after which :attr:`out_of_time` is true (searches check it between rounds)."""

    def __init__(self, objective: Objective, budget: int, progress: bool = False, desc: str = "optimize",
                 time_limit: float | None = None):
        if budget < 1:
            raise ConfigError(f"budget must be at least 1 oracle call, got {budget}")
        if time_limit is not None and not time_limit > 0:
            raise ConfigError(f"time_limit must be a positive number of seconds, got {time_limit}")
        objective.check_reference()
        self.objective, self.budget = objective, budget
        self.calls = 0
        self.cache: dict[str, tuple[float, str, dict]] = {}
        self.history: list[dict] = []
        self.start_time = time.perf_counter()
        self.time_limit = time_limit
        self.best = -np.inf
        self.bar = tqdm(total=budget, desc=desc, unit="call", disable=not progress)

    def close(self) -> None:
        """End the progress bar (if any)."""
        self.bar.close()

    @property
    def left(self) -> int:
        return self.budget - self.calls

    @property
    def elapsed(self) -> float:
        """Seconds since the oracle was made (the search's wall time so far)."""
        return time.perf_counter() - self.start_time

    @property
    def out_of_time(self) -> bool:
        return self.time_limit is not None and self.elapsed >= self.time_limit

    def __call__(self, smiles: Sequence[str | None], step: int = 0) -> np.ndarray:
        """Scores for optimizers: the objective where feasible, a penalty where not, NaN for
        proposals that got no evaluation (no molecule, or the budget ran out in this batch). One
        string is one molecule."""
        smiles = as_smiles_list(smiles)
        out = np.full(len(smiles), np.nan)
        before = self.calls
        with quiet_rdkit():
            for i, smi in enumerate(smiles):
                canon = canonical_smiles(smi) if smi else None
                if canon is None:
                    continue
                if canon not in self.cache:
                    if self.left <= 0:
                        break
                    self.calls += 1
                    self.cache[canon] = self.objective.evaluate(mol_from_smiles(canon), canon)
                    score, violation, values = self.cache[canon]
                    if not violation and score > self.best:
                        self.best = score
                    self.history.append({"call": self.calls, "step": step, "smiles": canon, "score": score,
                                         "feasible": not violation, "violation": violation, **values,
                                         "seconds": round(self.elapsed, 3)})
                score, violation, _ = self.cache[canon]
                out[i] = score if not violation else self.penalty()
        if self.calls > before:
            if np.isfinite(self.best):
                self.bar.set_postfix(best=f"{self.best:.4g}", refresh=False)  # shown by the update
            self.bar.update(self.calls - before)
        return out

    def penalty(self) -> float:
        """What an infeasible proposal scores: one standard deviation below the worst feasible score."""
        feasible = [h["score"] for h in self.history if h["feasible"]]
        if not feasible:
            return -1.0
        return min(feasible) - (float(np.std(feasible)) if len(feasible) > 1 else 1.0)

    def fill(self, y: np.ndarray) -> np.ndarray:
        """Optimizer targets from :meth:`__call__`'s scores: NaN (no molecule) becomes the penalty."""
        return np.where(np.isnan(y), self.penalty(), y)

    def table(self) -> pd.DataFrame:
        """Every evaluated molecule in call order, with the best-so-far feasible score."""
        df = pd.DataFrame(self.history)
        if len(df):
            df["best_so_far"] = df.score.where(df.feasible).cummax()
        return df
