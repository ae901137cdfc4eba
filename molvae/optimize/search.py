"""How to search (:class:`SearchConfig`: the settings every method shares, and the method's own) and
:func:`optimize`, which runs one search until its oracle budget is spent."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Union

import numpy as np
import pandas as pd
import torch

from molvae.errors import ConfigError
from molvae.optimize.bo import BOConfig
from molvae.optimize.cmaes import CMAESConfig
from molvae.optimize.gradient import GradientConfig
from molvae.optimize.objective import Objective, checked_smiles
from molvae.optimize.oracle import BudgetExhausted, Oracle
from molvae.optimize.policy import PolicyConfig
from molvae.optimize.random_search import RandomConfig
from molvae.optimize.state import SearchState

if TYPE_CHECKING:
    from molvae.api import MolVAE

MethodConfig = Union[RandomConfig, CMAESConfig, BOConfig, GradientConfig, PolicyConfig]
METHODS: dict[str, type] = {"random": RandomConfig, "cmaes": CMAESConfig, "bo": BOConfig, "gradient": GradientConfig,
                            "policy": PolicyConfig}


@dataclass
class SearchConfig:
    """How to search; ``budget`` counts oracle calls. `start` is the one place for the start molecule:
    the search starts from its code, and similarity is measured to it unless the objective names a
    reference. Each method's own settings sit in the field of its name (``gradient.climb_radius``);
    only the chosen method's are used (:attr:`method_config`)."""

    method: str = "cmaes"
    budget: int = 500
    seed: int = 0
    batch_size: int = 20
    start: str | None = None       # SMILES to start from (default: the prior)
    start_molecules: str | list[str] | None = None  # or: molecules (SMILES, a file, moses:...) scored first
    start_count: int = 100         # how many of start_molecules to score (a random sample when more)
    sigma: float = 0.5             # initial spread around the start (prior: 1.0 is used)
    time_limit_minutes: float | None = None  # the search stops at its first round after this (None: no limit)
    random: RandomConfig = field(default_factory=RandomConfig)
    cmaes: CMAESConfig = field(default_factory=CMAESConfig)
    bo: BOConfig = field(default_factory=BOConfig)
    gradient: GradientConfig = field(default_factory=GradientConfig)
    policy: PolicyConfig = field(default_factory=PolicyConfig)

    def __post_init__(self):
        if self.method not in METHODS:
            raise ConfigError(f"unknown optimizer {self.method!r}; choose one of {', '.join(METHODS)}")
        for name, kind in METHODS.items():
            if not isinstance(getattr(self, name), kind):
                raise ConfigError(f"{name} settings must be a {kind.__name__}, got {getattr(self, name)!r}")
        if self.time_limit_minutes is not None and not self.time_limit_minutes > 0:
            raise ConfigError(f"time_limit_minutes must be a positive number, got {self.time_limit_minutes}")
        if self.batch_size < 1:
            raise ConfigError(f"batch_size must be at least 1, got {self.batch_size}")
        if self.start_count < 1:
            raise ConfigError(f"start_count must be at least 1, got {self.start_count}")
        if self.start and self.start_molecules is not None:
            raise ConfigError("give start (one molecule) or start_molecules (several), not both; "
                              "[objective] reference sets what similarity is measured to")
        if self.start:
            checked_smiles(self.start, "start")

    @property
    def method_config(self) -> MethodConfig:
        """The chosen method's settings; its ``run(state)`` is the search."""
        return getattr(self, self.method)


def optimize(vae: "MolVAE", objective: Objective, config: SearchConfig, progress: bool = False) -> pd.DataFrame:
    """Run one optimizer until its oracle budget is spent (or the search stalls, or
    ``config.time_limit_minutes`` pass); returns every evaluated molecule in call order (see :meth:`Oracle.table`) with a ``method``
    column, and why the search ended in ``table.attrs["stopped"]`` (see :class:`BudgetExhausted`).

    The search starts from the prior, from one molecule (``config.start``, also what similarity is
    measured to unless the objective has a reference) or from several (``config.start_molecules``: the
    oracle scores ``start_count`` of them first, within the budget, and the optimizer takes their
    codes and scores as its first observations). `progress`: a progress bar over the oracle calls.
    Start molecules that could not be used are in ``table.attrs["start_rejects"]``, a list of
    ``(row, input, reason)`` (see :func:`score_start_molecules`)."""
    oracle = Oracle(objective.measured_to(config.start), config.budget, progress=progress, desc=config.method,
                    time_limit=None if config.time_limit_minutes is None else 60.0 * config.time_limit_minutes)
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)

    def ask(z: np.ndarray, step: int) -> np.ndarray:
        smiles = vae.decode(np.asarray(z, dtype=np.float32), greedy=True)
        return oracle(smiles, step)

    start_rejects = None
    try:
        init = None  # (codes, scores) of start molecules the oracle has scored
        if config.start_molecules is not None:
            init, start_rejects = score_start_molecules(vae, oracle, config, rng)
            z0, sigma = init[0][int(np.argmax(init[1]))], config.sigma
        elif config.start:
            z0, sigma = vae.encode([config.start])[0].astype(np.float64), config.sigma
        else:
            z0, sigma = np.zeros(vae.config.latent_dim), 1.0
        state = SearchState(ask, oracle, z0, sigma, rng, config.batch_size, config.seed, init,
                            predictor=getattr(vae, "predictor", None), vae=vae)
        config.method_config.run(state)
        stopped = "rounds"  # the method's own bound on rounds (MAX_ROUNDS)
    except BudgetExhausted as end:
        stopped = end.reason
    finally:
        oracle.close()
    table = oracle.table()
    table.insert(0, "method", config.method)
    table.attrs["stopped"] = stopped
    if start_rejects is not None:  # plain data: pandas compares attrs when it combines tables
        table.attrs["start_rejects"] = list(start_rejects.itertuples(index=False, name=None))
    return table


def score_start_molecules(vae: "MolVAE", oracle: Oracle, config: SearchConfig,
                          rng: np.random.Generator) -> tuple[tuple[np.ndarray, np.ndarray], pd.DataFrame]:
    """Score `config.start_count` of the start molecules (a seeded random sample when there are more)
    with the oracle, as calls of round 0, and encode them: the (codes, scores) a search starts from,
    and the rejects (``row, input, reason``: the row in the file, or the position in the list) of
    the chosen molecules that could not be used. Each is read as the model reads it (standardized,
    or its largest fragment kept, when ``vae`` is set to); molecules that do not parse or that the
    model cannot encode are left out (a parsed one still costs its call)."""
    from molvae.data import rejects_frame

    pool = config.start_molecules
    if isinstance(pool, str):
        from molvae.io import read_smiles, resolve_data_path

        pool = read_smiles(resolve_data_path(pool))
    pool = pool if isinstance(pool, pd.Series) else pd.Series(list(pool), dtype=object)
    if not len(pool):
        raise ConfigError("start_molecules is empty")
    if len(pool) > config.start_count:
        pool = pool.iloc[rng.choice(len(pool), size=config.start_count, replace=False)]
    mols = vae.prepare(pool.reset_index(drop=True))
    read = pool.tolist()  # each molecule as the model reads it where it can, else as given
    for position, canon in zip(mols.rows, mols.smiles):
        read[position] = canon
    y = oracle(read, 0)
    z = mols.scatter(vae.encode_set(mols)[0], len(pool)).astype(np.float64)
    ok = ~np.isnan(y) & ~np.isnan(z).any(axis=1)
    reasons = dict(zip(mols.rejects.row, mols.rejects.reason))
    rejects = rejects_frame([(int(row), str(smiles), reasons.get(i) or "not scored: no oracle calls were left")
                             for i, (row, smiles) in enumerate(pool.items()) if not ok[i]])
    if not ok.any():
        if oracle.left <= 0:
            raise BudgetExhausted
        raise ConfigError(f"none of the {len(pool)} start molecules could be both scored and encoded by this model"
                          + (f" (e.g. row {rejects.row.iloc[0]}: {rejects.reason.iloc[0]})" if len(rejects) else ""))
    return (z[ok], y[ok]), rejects
