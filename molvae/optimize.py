"""Latent-space optimization: propose molecules with target properties, scored by RDKit.

An :class:`Objective` turns a molecule into one number (a weighted sum of property terms) and
says whether it meets the hard constraints. An :class:`Oracle` evaluates proposals with RDKit,
spends one call per new molecule (a molecule proposed again costs nothing, as in the PMO
benchmark), stops exactly at its budget and records every proposal. The optimizers search the
VAE's latent space and decode each point greedily:

- ``random``   draws around the start (or from the prior): the baseline every method must beat;
- ``cmaes``    CMA-ES (the ``cma`` package), a robust black-box evolution strategy, restarted from the
               next-best start molecule once a run has converged;
- ``bo``       Bayesian optimization with BoTorch: a GP on the latent points, batches chosen by
               qLogEI inside a trust region that grows on success and shrinks on failure (TuRBO);
- ``gradient`` LIMO-style: gradient ascent on a surrogate of the score with a prior penalty
               (-lambda * |z|^2 / 2) keeping z where the decoder is reliable, then the oracle
               re-scores what the decoder makes of it. The surrogate is the model's property
               predictor (molvae fit-predictor) corrected by an MLP fitted to the oracle's
               answers, or that MLP alone when the model has no predictor for the terms.

Infeasible molecules (a broken constraint) are recorded with the reason; the optimizers see them
as one standard deviation below the worst feasible score seen so far.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np
import pandas as pd
import torch
from rdkit import Chem

from molvae import properties as props
from molvae.chem import canonical_smiles, mol_from_smiles, quiet_rdkit
from molvae.errors import ConfigError

if TYPE_CHECKING:
    from molvae.api import MolVAE

GOALS = ("maximize", "minimize", "window", "target")
METHODS = ("random", "cmaes", "bo", "gradient")


@dataclass
class Term:
    """One property's contribution: ``weight * f(value)`` with f set by `goal`.

    maximize: value; minimize: -value; window: 0 inside [low, high], minus the distance outside;
    target: -|value - target|."""

    property: str
    goal: str = "maximize"
    weight: float = 1.0
    low: float | None = None
    high: float | None = None
    target: float | None = None

    def __post_init__(self):
        if self.goal not in GOALS:
            raise ConfigError(f"objective term {self.property!r}: goal must be one of {', '.join(GOALS)}, got {self.goal!r}")
        if self.property not in props.REGISTRY and self.property != "similarity":
            raise ConfigError(f"objective term: unknown property {self.property!r}; known: similarity, {', '.join(props.REGISTRY)}")
        if self.goal == "window" and (self.low is None or self.high is None or self.low > self.high):
            raise ConfigError(f"objective term {self.property!r}: a window needs low <= high")
        if self.goal == "target" and self.target is None:
            raise ConfigError(f"objective term {self.property!r}: goal 'target' needs target = VALUE")

    def score(self, value: float) -> float:
        if self.goal == "maximize":
            s = value
        elif self.goal == "minimize":
            s = -value
        elif self.goal == "window":
            s = -max(self.low - value, 0.0, value - self.high)
        else:
            s = -abs(value - self.target)
        return self.weight * s


@dataclass
class Constraints:
    """Hard constraints; a molecule that breaks one is infeasible (recorded, never returned as best)."""

    similarity_min: float | None = None   # Tanimoto (Morgan r=2, 2048 bits) to the start molecule
    sa_max: float | None = None
    mw_min: float | None = None
    mw_max: float | None = None
    max_heavy_atoms: int | None = None
    smarts_required: list[str] = field(default_factory=list)
    smarts_forbidden: list[str] = field(default_factory=list)

    def __post_init__(self):
        self._required = [_smarts(s) for s in self.smarts_required]
        self._forbidden = [_smarts(s) for s in self.smarts_forbidden]

    def violation(self, mol: Chem.Mol, values: dict[str, float]) -> str:
        """'' if every constraint holds, else the first one broken, in words."""
        if self.similarity_min is not None and values["similarity"] < self.similarity_min:
            return f"similarity {values['similarity']:.3f} < {self.similarity_min}"
        if self.sa_max is not None and values["sa"] > self.sa_max:
            return f"SA {values['sa']:.2f} > {self.sa_max}"
        if self.mw_min is not None and values["mw"] < self.mw_min:
            return f"MW {values['mw']:.1f} < {self.mw_min}"
        if self.mw_max is not None and values["mw"] > self.mw_max:
            return f"MW {values['mw']:.1f} > {self.mw_max}"
        if self.max_heavy_atoms is not None and mol.GetNumHeavyAtoms() > self.max_heavy_atoms:
            return f"{mol.GetNumHeavyAtoms()} heavy atoms > {self.max_heavy_atoms}"
        for text, patt in zip(self.smarts_required, self._required):
            if not mol.HasSubstructMatch(patt):
                return f"lacks required {text}"
        for text, patt in zip(self.smarts_forbidden, self._forbidden):
            if mol.HasSubstructMatch(patt):
                return f"has forbidden {text}"
        return ""


def _smarts(text: str) -> Chem.Mol:
    patt = Chem.MolFromSmarts(text)
    if patt is None:
        raise ConfigError(f"not a valid SMARTS pattern: {text!r}")
    return patt


@dataclass
class Objective:
    """Weighted sum of terms under constraints. Similarity (term or constraint) is measured to
    `reference`, by default the `start` molecule (a rediscovery task sets a target instead)."""

    terms: list[Term]
    constraints: Constraints = field(default_factory=Constraints)
    start: str | None = None
    reference: str | None = None

    def __post_init__(self):
        if not self.terms:
            raise ConfigError("the objective needs at least one term")
        ref = self.reference or self.start
        needs_ref = self.constraints.similarity_min is not None or any(t.property == "similarity" for t in self.terms)
        if needs_ref and not ref:
            raise ConfigError("a similarity term or constraint needs a start molecule (or a reference)")
        self._start_fp = props.fingerprint(props.canonical(ref)) if ref else None
        names = {t.property for t in self.terms} | {"qed", "logp", "sa", "mw"}
        self._names = sorted(n for n in names if n != "similarity")

    @classmethod
    def from_dict(cls, spec: dict[str, Any]) -> "Objective":
        """From the ``[objective]``, ``[constraints]`` and ``[search]`` tables of a spec file."""
        obj = spec.get("objective", {})
        terms = [Term(**t) for t in obj.get("terms", [])]
        for goal in ("maximize", "minimize"):
            if goal in obj:
                terms.append(Term(property=obj[goal], goal=goal))
        try:
            constraints = Constraints(**spec.get("constraints", {}))
        except TypeError as exc:
            raise ConfigError(f"[constraints]: {exc}") from None
        return cls(terms, constraints, spec.get("search", {}).get("start"), obj.get("reference"))

    def evaluate(self, mol: Chem.Mol) -> tuple[float, str, dict[str, float]]:
        """(score, violation ('' when feasible), property values) for a parsed molecule."""
        from rdkit import DataStructs

        values = {n: float(props.REGISTRY[n](mol)) for n in self._names}
        if self._start_fp is not None:
            values["similarity"] = DataStructs.TanimotoSimilarity(self._start_fp, props.fingerprint(mol))
        score = sum(t.score(values[t.property]) for t in self.terms)
        return score, self.constraints.violation(mol, values), values


class BudgetExhausted(Exception):
    """Raised inside an optimizer loop when the oracle has no calls left."""


class Oracle:
    """RDKit evaluation with an exact budget. Each distinct molecule costs one call; repeats and
    decodings that are no molecule cost nothing. Every proposal is recorded (:attr:`history`)."""

    def __init__(self, objective: Objective, budget: int):
        if budget < 1:
            raise ConfigError(f"budget must be at least 1 oracle call, got {budget}")
        self.objective, self.budget = objective, budget
        self.calls = 0
        self.cache: dict[str, tuple[float, str, dict]] = {}
        self.history: list[dict] = []
        self.start_time = time.perf_counter()

    @property
    def left(self) -> int:
        return self.budget - self.calls

    def __call__(self, smiles: Sequence[str | None], step: int = 0) -> np.ndarray:
        """Scores for optimizers: the objective where feasible, a penalty where not, NaN for
        proposals that got no evaluation (no molecule, or the budget ran out in this batch)."""
        out = np.full(len(smiles), np.nan)
        with quiet_rdkit():
            for i, smi in enumerate(smiles):
                canon = canonical_smiles(smi) if smi else None
                if canon is None:
                    continue
                if canon not in self.cache:
                    if self.left <= 0:
                        break
                    self.calls += 1
                    self.cache[canon] = self.objective.evaluate(mol_from_smiles(canon))
                    score, violation, values = self.cache[canon]
                    self.history.append({"call": self.calls, "step": step, "smiles": canon, "score": score,
                                         "feasible": not violation, "violation": violation, **values,
                                         "seconds": round(time.perf_counter() - self.start_time, 3)})
                score, violation, _ = self.cache[canon]
                out[i] = score if not violation else self.penalty()
        return out

    def penalty(self) -> float:
        feasible = [h["score"] for h in self.history if h["feasible"]]
        if not feasible:
            return -1.0
        return min(feasible) - (float(np.std(feasible)) if len(feasible) > 1 else 1.0)

    def table(self) -> pd.DataFrame:
        """Every evaluated molecule in call order, with the best-so-far feasible score."""
        df = pd.DataFrame(self.history)
        if len(df):
            df["best_so_far"] = df.score.where(df.feasible).cummax()
        return df


# ----------------------------------------------------------------------------- search


@dataclass
class SearchConfig:
    """How to search; ``budget`` counts oracle calls."""

    method: str = "cmaes"
    budget: int = 500
    seed: int = 0
    batch_size: int = 20
    start: str | None = None       # SMILES to start from (default: the prior)
    start_molecules: str | list[str] | None = None  # or: molecules (SMILES, a file, moses:...) scored first
    start_count: int = 100         # how many of start_molecules to score (a random sample when more)
    sigma: float = 0.5             # initial spread around the start (prior: 1.0 is used)
    prior_weight: float = 0.1      # gradient: lambda of the prior penalty
    climb_radius: float = 1.0      # gradient: how far (latent units) one round's climb may move a point
    trust_region: bool = True      # bo: TuRBO-style box

    def __post_init__(self):
        if self.method not in METHODS:
            raise ConfigError(f"unknown optimizer {self.method!r}; choose one of {', '.join(METHODS)}")
        if self.batch_size < 1:
            raise ConfigError(f"batch_size must be at least 1, got {self.batch_size}")
        if self.climb_radius <= 0:
            raise ConfigError(f"climb_radius must be positive, got {self.climb_radius}")
        if self.start_count < 1:
            raise ConfigError(f"start_count must be at least 1, got {self.start_count}")
        if self.start and self.start_molecules is not None:
            raise ConfigError("give start (one molecule) or start_molecules (several), not both; "
                              "[objective] reference sets what similarity is measured to")


def optimize(vae: "MolVAE", objective: Objective, config: SearchConfig, progress: bool = False) -> pd.DataFrame:
    """Run one optimizer until its oracle budget is spent (or the search stalls); returns every
    evaluated molecule in call order (see :meth:`Oracle.table`) with a ``method`` column.

    The search starts from the prior, from one molecule (``config.start``) or from several
    (``config.start_molecules``: the oracle scores ``start_count`` of them first, within the
    budget, and the optimizer takes their codes and scores as its first observations)."""
    oracle = Oracle(objective, config.budget)
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)

    def ask(z: np.ndarray, step: int) -> np.ndarray:
        smiles = vae.decode(np.asarray(z, dtype=np.float32), greedy=True)
        return oracle(smiles, step)

    runners: dict[str, Callable] = {"random": _random, "cmaes": _cmaes, "bo": _bo, "gradient": _gradient}
    state = {"calls": -1, "idle": 0}

    def stop() -> None:
        """Called before each round: ends the search when the budget is spent, or when 50 rounds
        in a row found no molecule not seen before (the search has stalled)."""
        if oracle.left <= 0:
            raise BudgetExhausted
        state["idle"] = state["idle"] + 1 if oracle.calls == state["calls"] else 0
        state["calls"] = oracle.calls
        if state["idle"] >= 50:
            raise BudgetExhausted

    try:
        init = None  # (codes, scores) of start molecules the oracle has scored
        if config.start_molecules is not None:
            init = _score_start_molecules(vae, oracle, config, rng)
            z0, sigma = init[0][int(np.argmax(init[1]))], config.sigma
        elif config.start:
            z0, sigma = vae.encode([config.start])[0].astype(np.float64), config.sigma
        else:
            z0, sigma = np.zeros(vae.config.latent_dim), 1.0
        extra = {}
        if config.method == "gradient":
            extra["surrogate"] = surrogate_objective(objective, getattr(vae, "predictor", None))
        runners[config.method](ask, oracle, z0, sigma, rng, config, stop, init=init, **extra)
    except BudgetExhausted:
        pass
    table = oracle.table()
    table.insert(0, "method", config.method)
    return table


def _score_start_molecules(vae: "MolVAE", oracle: Oracle, config: SearchConfig,
                           rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Score `config.start_count` of the start molecules (a seeded random sample when there are more)
    with the oracle, as calls of round 0, and encode them: the (codes, scores) a search starts from.
    Molecules that do not parse or that the model cannot encode are left out (a parsed one still
    costs its call)."""
    pool = config.start_molecules
    if isinstance(pool, str):
        from molvae.io import read_smiles, resolve_data_path

        pool = read_smiles(resolve_data_path(pool)).tolist()
    pool = list(pool)
    if not pool:
        raise ConfigError("start_molecules is empty")
    if len(pool) > config.start_count:
        pool = [pool[i] for i in rng.choice(len(pool), size=config.start_count, replace=False)]
    y = oracle(pool, 0)
    z = vae.encode(pool, errors="nan").astype(np.float64)
    ok = ~np.isnan(y) & ~np.isnan(z).any(axis=1)
    if not ok.any():
        if oracle.left <= 0:
            raise BudgetExhausted
        raise ConfigError(f"none of the {len(pool)} start molecules could be both scored and encoded by this model")
    return z[ok], y[ok]


def _fill(y: np.ndarray, oracle: Oracle) -> np.ndarray:
    """Optimizer targets: NaN (no molecule) becomes the infeasibility penalty."""
    return np.where(np.isnan(y), oracle.penalty(), y)


def _random(ask, oracle, z0, sigma, rng, cfg, stop, init=None, max_rounds: int = 10_000):
    """Gaussian draws around the start (or from the prior); with start molecules, around the codes of
    the best `batch_size` of them in turn."""
    centres = z0[None] if init is None else init[0][np.argsort(-init[1])[: cfg.batch_size]]
    for step in range(1, max_rounds):
        stop()
        picks = centres[np.arange(cfg.batch_size) % len(centres)]
        ask(picks + sigma * rng.standard_normal(picks.shape), step)


def _cmaes(ask, oracle, z0, sigma, rng, cfg, stop, init=None, max_rounds: int = 10_000, patience: int = 10):
    """CMA-ES. A run that has converged (CMA-ES stops, or `patience` rounds in a row bring no molecule
    not seen before) is followed by a fresh one centred on the next-best start molecule's code (from
    one start or the prior: the same centre with a new seed), so the budget is spent, not left over."""
    import cma

    centres = [z0] if init is None else list(init[0][np.argsort(-init[1], kind="stable")])
    step = 0
    for restart in range(max_rounds):
        es = cma.CMAEvolutionStrategy(centres[restart % len(centres)], sigma,
                                      {"popsize": cfg.batch_size, "seed": int(cfg.seed) + 1 + restart, "verbose": -9})
        idle = 0
        while not es.stop() and idle < patience and step < max_rounds:
            step += 1
            stop()
            calls = oracle.calls
            z = np.asarray(es.ask())
            y = _fill(ask(z, step), oracle)
            es.tell(list(z), list(-y))  # cma minimizes
            idle = idle + 1 if oracle.calls == calls else 0


def _bo(ask, oracle, z0, sigma, rng, cfg, stop, init=None, max_rounds: int = 10_000, max_points: int = 500):
    """TuRBO-style BO: a GP on (at most `max_points` of) the points seen, nearest the trust region's
    centre first; q = batch_size candidates chosen jointly by qLogEI inside the region."""
    from botorch.acquisition.logei import qLogExpectedImprovement
    from botorch.fit import fit_gpytorch_mll
    from botorch.models import SingleTaskGP
    from botorch.models.transforms.outcome import Standardize
    from botorch.optim import optimize_acqf
    from gpytorch.mlls import ExactMarginalLogLikelihood

    dim = len(z0)
    if init is None:  # the search box: z0 +- 3 sigma per dimension, mapped to the unit cube
        centre, half = z0, np.full(dim, 3.0 * sigma)
    else:  # the prior's box, widened to hold every start code
        centre, half = np.zeros(dim), np.maximum(3.0, np.abs(init[0]).max(axis=0) + 0.5)
    lo = centre - half

    def to_z(u: np.ndarray) -> np.ndarray:
        return lo + 2 * half * u

    if init is None:
        u = np.clip((z0 - lo) / (2 * half) + rng.standard_normal((max(cfg.batch_size, 10), dim)) / 6.0, 0, 1)
        X, Y = [u], [_fill(ask(to_z(u), 0), oracle)]
    else:
        X, Y = [np.clip((init[0] - lo) / (2 * half), 0, 1)], [init[1]]
    length, successes, failures = 0.8, 0, 0  # the trust region's side in the unit cube (TuRBO's default)
    for step in range(1, max_rounds):
        stop()
        x = torch.tensor(np.concatenate(X), dtype=torch.float64)
        yy = torch.tensor(np.concatenate(Y), dtype=torch.float64).unsqueeze(-1)
        best = x[int(yy.argmax())]
        if len(x) > max_points:  # a local GP, as TuRBO fits: the points nearest the centre
            keep = torch.argsort((x - best).abs().max(dim=1).values)[:max_points]
            x, yy_fit = x[keep], yy[keep]
        else:
            yy_fit = yy
        model = SingleTaskGP(x, yy_fit, outcome_transform=Standardize(m=1))
        try:
            fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model),
                             optimizer_kwargs={"options": {"maxiter": 50}})
        except Exception:  # a failed fit keeps the initial hyper-parameters
            pass
        if cfg.trust_region:
            bounds = torch.stack([(best - length / 2).clamp(0, 1), (best + length / 2).clamp(0, 1)])
        else:
            bounds = torch.stack([torch.zeros(dim), torch.ones(dim)]).double()
        acq = qLogExpectedImprovement(model, best_f=yy.max())
        cand, _ = optimize_acqf(acq, bounds=bounds, q=min(cfg.batch_size, max(oracle.left, 1)), num_restarts=4,
                                raw_samples=256, options={"maxiter": 100, "seed": int(cfg.seed) + step})
        u = cand.detach().numpy()
        y = _fill(ask(to_z(u), step), oracle)
        X.append(u)
        Y.append(y)
        if y.max() > float(yy.max()) + 1e-3 * abs(float(yy.max())):
            successes, failures = successes + 1, 0
        else:
            successes, failures = 0, failures + 1
        if successes >= 3:
            length, successes = min(2 * length, 1.6), 0
        elif failures >= max(3, dim // cfg.batch_size):
            length, failures = length / 2, 0
        if length < 0.01:  # restart the trust region
            length = 0.8


def surrogate_objective(objective: Objective, predictor) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """The objective's terms computed from a latent property predictor, differentiable in z; ``None``
    when the predictor does not cover every term (constraints are left to the oracle)."""
    if predictor is None:
        return None
    index = {n: i for i, n in enumerate(predictor.names)}
    if any(t.property not in index for t in objective.terms):
        return None
    relu = torch.nn.functional.relu

    def f(z: torch.Tensor) -> torch.Tensor:
        values = predictor.predict(z)
        total = torch.zeros(z.shape[0])
        for t in objective.terms:
            x = values[:, index[t.property]]
            if t.goal == "maximize":
                s = x
            elif t.goal == "minimize":
                s = -x
            elif t.goal == "window":
                s = -(relu(t.low - x) + relu(x - t.high))
            else:
                s = -(x - t.target).abs()
            total = total + t.weight * s
        return total

    return f


def _gradient(ask, oracle, z0, sigma, rng, cfg, stop, init=None, max_rounds: int = 10_000, steps: int = 50,
              surrogate=None):
    """LIMO-style search. With a property predictor on z (`surrogate`), climb the predicted objective and
    let a small MLP fitted to the oracle's answers correct it (residuals); without one, the MLP is the
    whole surrogate. Either way a prior penalty keeps z where the decoder is reliable. Each climb starts
    from the best points found, nudged, and moves each at most `climb_radius` from where it began (a
    trust region: the surrogate is fitted to few points). The nudge doubles (up to sigma) after a
    round whose proposals were mostly molecules already seen, and halves back after mostly new ones."""
    dim = len(z0)
    if init is None:
        Z = [z0 + sigma * rng.standard_normal((max(cfg.batch_size, 10), dim))]
        Y = [_fill(ask(Z[0], 0), oracle)]
    else:
        Z, Y = [init[0]], [init[1]]
    nudge = 0.1 * sigma
    for step in range(1, max_rounds):
        stop()
        calls_before = oracle.calls
        z_all = torch.tensor(np.concatenate(Z), dtype=torch.float32)
        y_all = torch.tensor(np.concatenate(Y), dtype=torch.float32)
        with torch.no_grad():
            base = surrogate(z_all) if surrogate is not None else torch.zeros(len(z_all))
        target = y_all - base
        mean, sd = target.mean(), target.std().clamp(min=1e-6)
        net = torch.nn.Sequential(torch.nn.Linear(dim, 64), torch.nn.SiLU(), torch.nn.Linear(64, 64), torch.nn.SiLU(),
                                  torch.nn.Linear(64, 1))
        opt = torch.optim.Adam(net.parameters(), lr=3e-3, weight_decay=1e-4)
        for _ in range(200):
            opt.zero_grad()
            loss = torch.nn.functional.mse_loss(net(z_all).squeeze(-1), (target - mean) / sd)
            loss.backward()
            opt.step()
        # start from the best points found, each nudged, and climb the surrogate under the prior penalty
        top = z_all[torch.argsort(y_all, descending=True)[: cfg.batch_size]]
        z = (top + nudge * torch.randn(top.shape)).requires_grad_(True)
        origin = z.detach().clone()
        climb = torch.optim.Adam([z], lr=0.05)
        for _ in range(steps):
            climb.zero_grad()
            predicted = net(z).squeeze(-1) * sd + mean + (surrogate(z) if surrogate is not None else 0.0)
            objective = predicted - cfg.prior_weight * 0.5 * (z ** 2).sum(-1)
            (-objective.sum()).backward()
            climb.step()
            with torch.no_grad():  # stay within climb_radius of the start: the surrogate is only trusted near its data
                shift = z - origin
                z.copy_(origin + shift * (cfg.climb_radius / shift.norm(dim=1, keepdim=True).clamp(min=cfg.climb_radius)))
        proposals = z.detach().numpy()
        y = _fill(ask(proposals, step), oracle)
        Z.append(proposals)
        Y.append(y)
        new_molecules = oracle.calls - calls_before
        nudge = min(2 * nudge, sigma) if new_molecules < len(proposals) / 2 else max(nudge / 2, 0.1 * sigma)


def load_spec(path) -> tuple[Objective, SearchConfig]:
    """Objective and search settings from a TOML spec (see docs/optimize.md)."""
    import tomllib
    from pathlib import Path

    try:
        spec = tomllib.loads(Path(path).read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read the spec {path}: {exc}") from None
    return spec_objects(spec)


def spec_objects(spec: dict) -> tuple[Objective, SearchConfig]:
    unknown = set(spec) - {"objective", "constraints", "search"}
    if unknown:
        raise ConfigError(f"unknown section(s) in the spec: {', '.join(sorted(unknown))}; use [objective], [constraints], [search]")
    try:
        search = SearchConfig(**spec.get("search", {}))
    except TypeError as exc:
        raise ConfigError(f"[search]: {exc}") from None
    return Objective.from_dict(spec), search


def summary(table: pd.DataFrame, k: int = 3) -> dict[str, Any]:
    """Top-k feasible scores, the calls spent, and the call at which the best was found."""
    feasible = table[table.feasible] if len(table) else table
    top = feasible.nlargest(k, "score") if len(feasible) else feasible
    out = {"calls": int(len(table)), "feasible": int(len(feasible)),
           "top": [{"smiles": r.smiles, "score": round(float(r.score), 4), "call": int(r.call)} for r in top.itertuples()]}
    for i in range(k):
        out[f"top{i + 1}"] = float(top.score.iloc[i]) if len(top) > i else math.nan
    return out


def top_k_auc(table: pd.DataFrame, budget: int, k: int = 10) -> float:
    """PMO's score: the area under the curve of the mean of the `k` best feasible scores so far,
    per oracle call, divided by `budget` (a search that stopped early keeps its last value)."""
    best: list[float] = []
    curve = []
    for score, feasible in zip(table.score, table.feasible):
        if feasible:
            best = sorted(best + [score], reverse=True)[:k]
        curve.append(np.mean(best) if best else np.nan)
    curve = np.nan_to_num(np.asarray(curve, float), nan=0.0)
    if len(curve) < budget:
        curve = np.concatenate([curve, np.full(budget - len(curve), curve[-1] if len(curve) else 0.0)])
    return float(curve[:budget].mean())


__all__ = ["Term", "Constraints", "Objective", "Oracle", "SearchConfig", "optimize", "load_spec", "spec_objects",
           "summary", "top_k_auc"]
