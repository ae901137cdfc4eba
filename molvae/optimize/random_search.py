"""Random search: Gaussian draws around the start (or from the prior), the baseline every method must beat."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from molvae.optimize.state import MAX_ROUNDS, SearchState


@dataclass
class RandomConfig:
    """Random search has no settings of its own: `sigma` and `batch_size` are the search's."""

    def run(self, state: SearchState) -> None:
        """Gaussian draws around the start (or from the prior); with start molecules, around the codes
        of the best `batch_size` of them in turn."""
        init, size = state.init, state.batch_size
        centres = state.z0[None] if init is None else init[0][np.argsort(-init[1])[:size]]
        for step in range(1, MAX_ROUNDS):
            state.begin_round()
            picks = centres[np.arange(size) % len(centres)]
            state.ask(picks + state.sigma * state.rng.standard_normal(picks.shape), step)
