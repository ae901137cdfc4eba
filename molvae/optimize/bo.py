"""Bayesian optimization with BoTorch: a GP on the latent points, batches chosen by qLogEI inside a
trust region that grows on success and shrinks on failure (TuRBO, Eriksson et al. 2019)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from molvae.optimize.state import MAX_ROUNDS, SearchState

MAX_POINTS = 500  # the GP is fitted to at most this many points, nearest the trust region's centre


@dataclass
class BOConfig:
    """Settings of the BoTorch search."""

    trust_region: bool = True  # TuRBO-style box around the best point; False: the whole search box

    def run(self, state: SearchState) -> None:
        """TuRBO-style BO: a GP on (at most `MAX_POINTS` of) the points seen, nearest the trust
        region's centre first; q = batch_size candidates chosen jointly by qLogEI inside the region."""
        from botorch.acquisition.logei import qLogExpectedImprovement
        from botorch.optim import optimize_acqf

        z0, sigma, init, size = state.z0, state.sigma, state.init, state.batch_size
        dim = len(z0)
        if init is None:  # the search box: z0 +- 3 sigma per dimension, mapped to the unit cube
            centre, half = z0, np.full(dim, 3.0 * sigma)
        else:  # the prior's box, widened to hold every start code
            centre, half = np.zeros(dim), np.maximum(3.0, np.abs(init[0]).max(axis=0) + 0.5)
        lo = centre - half

        def to_z(u: np.ndarray) -> np.ndarray:
            return lo + 2 * half * u

        if init is None:
            u = np.clip((z0 - lo) / (2 * half) + state.rng.standard_normal((max(size, 10), dim)) / 6.0, 0, 1)
            X, Y = [u], [state.targets(to_z(u), 0)]
        else:
            X, Y = [np.clip((init[0] - lo) / (2 * half), 0, 1)], [init[1]]
        length, successes, failures = 0.8, 0, 0  # the trust region's side in the unit cube (TuRBO's default)
        for step in range(1, MAX_ROUNDS):
            state.begin_round()
            x = torch.tensor(np.concatenate(X), dtype=torch.float64)
            yy = torch.tensor(np.concatenate(Y), dtype=torch.float64).unsqueeze(-1)
            best = x[int(yy.argmax())]
            model = fitted_gp(x, yy, best)
            if self.trust_region:
                bounds = torch.stack([(best - length / 2).clamp(0, 1), (best + length / 2).clamp(0, 1)])
            else:
                bounds = torch.stack([torch.zeros(dim), torch.ones(dim)]).double()
            acq = qLogExpectedImprovement(model, best_f=yy.max())
            cand, _ = optimize_acqf(acq, bounds=bounds, q=min(size, max(state.oracle.left, 1)), num_restarts=4,
                                    raw_samples=256, options={"maxiter": 100, "seed": int(state.seed) + step})
            u = cand.detach().numpy()
            y = state.targets(to_z(u), step)
            X.append(u)
            Y.append(y)
            if y.max() > float(yy.max()) + 1e-3 * abs(float(yy.max())):
                successes, failures = successes + 1, 0
            else:
                successes, failures = 0, failures + 1
            if successes >= 3:
                length, successes = min(2 * length, 1.6), 0
            elif failures >= max(3, dim // size):
                length, failures = length / 2, 0
            if length < 0.01:  # restart the trust region
                length = 0.8


def fitted_gp(x: torch.Tensor, y: torch.Tensor, centre: torch.Tensor):
    """A GP on points `x` ``(n, dim)`` in the unit cube and scores `y` ``(n, 1)``: on the `MAX_POINTS`
    nearest `centre` when there are more (a local GP, as TuRBO fits), hyper-parameters fitted."""
    from botorch.exceptions import ModelFittingError
    from botorch.fit import fit_gpytorch_mll
    from botorch.models import SingleTaskGP
    from botorch.models.transforms.outcome import Standardize
    from gpytorch.mlls import ExactMarginalLogLikelihood
    from linear_operator.utils.errors import NanError, NotPSDError

    if len(x) > MAX_POINTS:
        keep = torch.argsort((x - centre).abs().max(dim=1).values)[:MAX_POINTS]
        x, y = x[keep], y[keep]
    model = SingleTaskGP(x, y, outcome_transform=Standardize(m=1))
    try:
        fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model),
                         optimizer_kwargs={"options": {"maxiter": 50}})
    except (ModelFittingError, NotPSDError, NanError):
        # A fit can fail numerically: fit_gpytorch_mll retries a kernel matrix that is not positive
        # definite and raises ModelFittingError when every attempt failed; a NaN in the kernel matrix
        # (NanError) is not retried. The GP keeps its initial hyper-parameters, which still rank
        # candidates, rather than ending a search that has oracle calls left.
        pass
    return model
