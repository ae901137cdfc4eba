"""LIMO-style gradient search: ascent on a surrogate of the score with a prior penalty
(-lambda * |z|^2 / 2) keeping z where the decoder is reliable; the oracle re-scores what the decoder
makes of it. The surrogate is the model's property predictor (molvae fit-predictor) corrected by an
MLP fitted to the oracle's answers, or that MLP alone when the model has no predictor for the terms."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from molvae.errors import ConfigError
from molvae.optimize.objective import Objective
from molvae.optimize.state import MAX_ROUNDS, SearchState

CLIMB_STEPS = 50  # Adam steps of one round's climb on the surrogate
FIT_STEPS = 200   # Adam steps of one round's fit of the residual MLP
FIT_ROWS = 4096   # points per fit step: above this, each step takes a random batch of them (PMO-scale
                  # searches hold tens of thousands of points, and a full pass per step made a round's
                  # fit grow with the calls made: over 1 s a round by call 2,300 of 10,000)


@dataclass
class GradientConfig:
    """Settings of the gradient search."""

    prior_weight: float = 0.1   # lambda of the prior penalty
    climb_radius: float = 1.0   # how far (latent units) one round's climb may move a point

    def __post_init__(self):
        if self.climb_radius <= 0:
            raise ConfigError(f"climb_radius must be positive, got {self.climb_radius}")

    def run(self, state: SearchState) -> None:
        """With a property predictor on z covering the objective, climb the predicted objective and let
        a small MLP fitted to the oracle's answers correct it (residuals); without one, the MLP is the
        whole surrogate. Either way a prior penalty keeps z where the decoder is reliable. Each climb
        starts from the best points found, nudged, and moves each at most `climb_radius` from where it
        began (a trust region: the surrogate is fitted to few points). The nudge doubles (up to sigma)
        after a round whose proposals were mostly molecules already seen, and halves back after mostly
        new ones."""
        surrogate = surrogate_objective(state.oracle.objective, state.predictor)
        z0, sigma, oracle = state.z0, state.sigma, state.oracle
        dim = len(z0)
        if state.init is None:
            Z = [z0 + sigma * state.rng.standard_normal((max(state.batch_size, 10), dim))]
            Y = [state.targets(Z[0], 0)]
        else:
            Z, Y = [state.init[0]], [state.init[1]]
        nudge = 0.1 * sigma
        for step in range(1, MAX_ROUNDS):
            state.begin_round()
            calls_before = oracle.calls
            z_all = torch.tensor(np.concatenate(Z), dtype=torch.float32)
            y_all = torch.tensor(np.concatenate(Y), dtype=torch.float32)
            with torch.no_grad():
                base = surrogate(z_all) if surrogate is not None else torch.zeros(len(z_all))
            net, mean, sd = fit_residual_mlp(z_all, y_all - base)
            # start from the best points found, each nudged, and climb the surrogate under the prior penalty
            top = z_all[torch.argsort(y_all, descending=True)[: state.batch_size]]

            def predicted(z: torch.Tensor) -> torch.Tensor:  # the score as the surrogate sees it
                return net(z).squeeze(-1) * sd + mean + (surrogate(z) if surrogate is not None else 0.0)

            proposals = self.climb(top + nudge * torch.randn(top.shape), predicted)
            y = state.targets(proposals, step)
            Z.append(proposals)
            Y.append(y)
            new_molecules = oracle.calls - calls_before
            nudge = min(2 * nudge, sigma) if new_molecules < len(proposals) / 2 else max(nudge / 2, 0.1 * sigma)

    def climb(self, start: torch.Tensor, predicted: Callable[[torch.Tensor], torch.Tensor]) -> np.ndarray:
        """Adam ascent from `start` ``(n, dim)`` on `predicted` minus the prior penalty, each point kept
        within `climb_radius` of where it began; the end points ``(n, dim)``."""
        z = start.requires_grad_(True)
        origin = z.detach().clone()
        opt = torch.optim.Adam([z], lr=0.05)
        for _ in range(CLIMB_STEPS):
            opt.zero_grad()
            ascent = predicted(z) - self.prior_weight * 0.5 * (z ** 2).sum(-1)
            (-ascent.sum()).backward()
            opt.step()
            with torch.no_grad():  # stay within climb_radius of the start: the surrogate is only trusted near its data
                shift = z - origin
                z.copy_(origin + shift * (self.climb_radius / shift.norm(dim=1, keepdim=True).clamp(min=self.climb_radius)))
        return z.detach().numpy()


def fit_residual_mlp(z: torch.Tensor, target: torch.Tensor,
                     rows: int = FIT_ROWS) -> tuple[torch.nn.Module, torch.Tensor, torch.Tensor]:
    """An MLP from latent points `z` ``(n, dim)`` to standardized `target` ``(n,)``; returns it with the
    target's mean and standard deviation (predictions are ``net(z) * sd + mean``). Each of the
    `FIT_STEPS` Adam steps sees every point while there are at most `rows`, and a random batch of
    `rows` of them (drawn from torch's global generator, which the search seeds) above that, so a
    round's fit costs at most the same however many points the search has gathered."""
    mean, sd = target.mean(), target.std().clamp(min=1e-6)
    y = (target - mean) / sd
    dim = z.shape[1]
    net = torch.nn.Sequential(torch.nn.Linear(dim, 64), torch.nn.SiLU(), torch.nn.Linear(64, 64), torch.nn.SiLU(),
                              torch.nn.Linear(64, 1))
    opt = torch.optim.Adam(net.parameters(), lr=3e-3, weight_decay=1e-4)
    for _ in range(FIT_STEPS):
        zb, yb = z, y
        if len(z) > rows:
            pick = torch.randint(len(z), (rows,))
            zb, yb = z[pick], y[pick]
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(net(zb).squeeze(-1), yb)
        loss.backward()
        opt.step()
    return net, mean, sd


def surrogate_objective(objective: Objective, predictor) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """The objective's terms computed from a latent property predictor, differentiable in z: a function
    from ``(n, latent_dim)`` to ``(n,)``; ``None`` when the predictor does not cover every term
    (constraints are left to the oracle)."""
    if predictor is None:
        return None
    index = {n: i for i, n in enumerate(predictor.names)}
    if any(t.property not in index for t in objective.terms):
        return None

    def f(z: torch.Tensor) -> torch.Tensor:
        values = predictor.predict(z)
        total = torch.zeros(z.shape[0])
        for t in objective.terms:
            total = total + t.score(values[:, index[t.property]])
        return total

    return f
