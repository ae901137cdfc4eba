"""What the latent space holds: posterior-collapse diagnostics over a set of posteriors.

Every function takes the posterior means and log-variances of N molecules, ``mu`` and ``logvar``,
each (N, D), as tensors or arrays, and works in fp64 on the CPU (the sets are small).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from molvae.errors import hint


def _as_tensor(x) -> torch.Tensor:
    return torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x).detach().cpu().double()


def kl_per_dimension(mu, logvar) -> np.ndarray:
    """Mean KL(q(z_d|x) || N(0, 1)) over the molecules, per latent dimension: (D,), nats."""
    mu, logvar = _as_tensor(mu), _as_tensor(logvar)
    return (0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar)).mean(0).numpy()


def active_units(mu, threshold: float = 0.01) -> np.ndarray:
    """Which dimensions are active (Burda et al. 2016): the variance over molecules of the
    posterior mean exceeds `threshold`. Returns a (D,) boolean array; ``.sum()`` counts them."""
    mu = _as_tensor(mu)
    return (mu.var(0, unbiased=False) > threshold).numpy()


def mutual_information(mu, logvar, samples: int = 1, seed: int = 0, chunk: int = 256) -> float:
    """Estimate of I(x; z) under q(z|x) with the data's empirical distribution, in nats
    (Hoffman & Johnson 2016; the estimator of He et al. 2019):

        I = E_x E_q(z|x)[log q(z|x)] - E_x E_q(z|x)[log q(z)],   q(z) = (1/N) sum_j q(z|x_j).

    At most log N (and biased towards it for small N), so it needs a few hundred molecules or more.
    """
    mu, logvar = _as_tensor(mu), _as_tensor(logvar)
    n, d = mu.shape
    gen = torch.Generator().manual_seed(seed)
    inv_var, log_norm = torch.exp(-logvar), -0.5 * (d * math.log(2 * math.pi) + logvar.sum(1))
    # Both terms from the same draws z_i ~ q(z|x_i): log q(z_i|x_i) is one of the N terms of the
    # mixture, so the estimate never exceeds log N (the analytic entropy term can, by sampling noise).
    total, count = 0.0, 0
    for _ in range(samples):
        z = mu + torch.randn(mu.shape, generator=gen, dtype=mu.dtype) * torch.exp(0.5 * logvar)
        for start in range(0, n, chunk):
            dev = z[start : start + chunk, None, :] - mu[None]  # (chunk, N, D)
            log_density = -0.5 * (dev.pow(2) * inv_var[None]).sum(-1) + log_norm[None]  # log q(z_i | x_j)
            rows = torch.arange(log_density.shape[0])
            own = log_density[rows, start + rows]
            log_qz = torch.logsumexp(log_density, dim=1) - math.log(n)
            total += float((own - log_qz).sum())
            count += len(rows)
    return total / count


def collapse_diagnostics(mu, logvar, threshold: float = 0.01) -> dict[str, float]:
    """The numbers to watch for posterior collapse: total KL, active units (count and fraction),
    dimensions carrying more than 0.1 nats, the mutual information estimate, and the number of
    molecules they were measured on."""
    kl = kl_per_dimension(mu, logvar)
    au = active_units(mu, threshold)
    return {"kl": float(kl.sum()), "active_units": int(au.sum()), "active_fraction": float(au.mean()),
            "dims_over_0.1_nats": int((kl > 0.1).sum()), "mutual_info": mutual_information(mu, logvar),
            "molecules": int(len(mu))}


# Below this many molecules the diagnostics cannot tell collapse from too little data: active units
# are the spread of the posterior means over the molecules, and I(x; z) is at most log(molecules).
MIN_DIAGNOSED = 20


def collapse_warning(diag: dict[str, float]) -> str | None:
    """A sentence when the posterior has (nearly) collapsed, else ``None``; when the diagnostics were
    measured on fewer than :data:`MIN_DIAGNOSED` molecules, a sentence saying the data set is tiny."""
    n = diag.get("molecules")
    if n is not None and n < MIN_DIAGNOSED:
        return (f"only {n} validation molecule{'s' if n != 1 else ''}: too few to tell whether the posterior "
                "collapsed, and a sign that the data set is tiny; a VAE learns a latent space from thousands of "
                "molecules (MOSES-train has 1.6 million)"
                + hint("init_from", ". For a few molecules of your own, fine-tune a trained model on them ({})"))
    if diag["active_fraction"] < 0.1 or diag["kl"] < 0.5:
        return (f"posterior collapse: {diag['active_units']} active latent dimensions, KL {diag['kl']:.2f} nats, "
                f"I(x;z) {diag['mutual_info']:.2f} nats; the decoder is ignoring z. Lengthen the KL warm-up "
                "(--warmup-epochs), lower --beta, add --free-bits or raise --word-dropout")
    return None
