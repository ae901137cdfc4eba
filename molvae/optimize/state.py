"""What every optimizer is given: a :class:`SearchState` with the way to ask the oracle about latent
points, where to start, and when to stop."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from molvae.optimize.oracle import BudgetExhausted, Oracle

MAX_ROUNDS = 10_000   # a bound on every optimizer loop; the budget or a stall ends a search long before
STALL_ROUNDS = 50     # rounds in a row without a molecule not seen before that end a search


@dataclass
class SearchState:
    """One search in progress, as the optimizers see it.

    `ask(z, step)` decodes latent points ``(n, latent_dim)`` and returns the oracle's scores ``(n,)``
    (NaN where no molecule was evaluated). The search starts at `z0` with spread `sigma`; `init`
    holds the codes ``(m, latent_dim)`` and scores ``(m,)`` of start molecules the oracle has already
    scored (None without start molecules). `predictor` is the model's latent property predictor, if any;
    `vae` the model (:class:`molvae.api.MolVAE`), which methods that learn copy rather than change."""

    ask: Callable[[np.ndarray, int], np.ndarray]
    oracle: Oracle
    z0: np.ndarray
    sigma: float
    rng: np.random.Generator
    batch_size: int
    seed: int
    init: tuple[np.ndarray, np.ndarray] | None = None
    predictor: Any = None
    vae: Any = None   # the model itself, for methods that learn from the oracle (policy)
    _calls: int = field(default=-1, init=False, repr=False)
    _idle_rounds: int = field(default=0, init=False, repr=False)

    def begin_round(self) -> None:
        """Called before each round: raises :class:`BudgetExhausted` when the budget is spent, when the
        oracle's time limit has passed, or when `STALL_ROUNDS` rounds in a row found no molecule not
        seen before (the search has stalled)."""
        if self.oracle.left <= 0:
            raise BudgetExhausted("budget")
        if self.oracle.out_of_time:
            raise BudgetExhausted("time limit")
        self._idle_rounds = self._idle_rounds + 1 if self.oracle.calls == self._calls else 0
        self._calls = self.oracle.calls
        if self._idle_rounds >= STALL_ROUNDS:
            raise BudgetExhausted("stalled")

    def targets(self, z: np.ndarray, step: int) -> np.ndarray:
        """Ask about `z` and return what an optimizer fits: scores with the penalty for no molecule."""
        return self.oracle.fill(self.ask(z, step))
