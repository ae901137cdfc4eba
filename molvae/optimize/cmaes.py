"""CMA-ES (the ``cma`` package): a robust black-box evolution strategy, restarted from the next-best
start molecule once a run has converged."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from molvae.optimize.state import MAX_ROUNDS, SearchState

PATIENCE = 10  # rounds in a row without a new molecule after which a run counts as converged


@dataclass
class CMAESConfig:
    """CMA-ES has no settings of its own: population `batch_size` and spread `sigma` are the search's."""

    def run(self, state: SearchState) -> None:
        """CMA-ES. A run that has converged (CMA-ES stops, or `PATIENCE` rounds in a row bring no
        molecule not seen before) is followed by a fresh one centred on the next-best start molecule's
        code (from one start or the prior: the same centre with a new seed), so the budget is spent,
        not left over."""
        init = state.init
        centres = [state.z0] if init is None else list(init[0][np.argsort(-init[1], kind="stable")])
        step = 0
        for restart in range(MAX_ROUNDS):
            es = strategy(centres[restart % len(centres)], state, restart)
            idle = 0
            while not es.stop() and idle < PATIENCE and step < MAX_ROUNDS:
                step += 1
                state.begin_round()
                calls = state.oracle.calls
                z = np.asarray(es.ask())
                y = state.targets(z, step)
                es.tell(list(z), list(-y))  # cma minimizes
                idle = idle + 1 if state.oracle.calls == calls else 0


def strategy(centre: np.ndarray, state: SearchState, restart: int):
    """A fresh CMA-ES around `centre` with the search's spread and population, seeded per restart."""
    import cma

    return cma.CMAEvolutionStrategy(centre, state.sigma, {"popsize": state.batch_size,
                                                          "seed": int(state.seed) + 1 + restart, "verbose": -9})
