"""Property predictors on the latent space of a frozen model.

:func:`fit_predictor` encodes molecules (posterior means), computes their RDKit properties and fits
a small MLP from z to the standardized properties, reporting R² and MAE on held-out molecules.
:meth:`molvae.api.MolVAE.save` stores it inside the checkpoint (weights under ``predictor.``, its
description and scores in the metadata), and :meth:`MolVAE.load` restores it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn

from molvae import properties as props
from molvae.chem import as_smiles_list
from molvae.errors import MolvaeError
from molvae.model import LatentPredictor

if TYPE_CHECKING:
    from molvae.api import MolVAE


def r2_score(y: np.ndarray, pred: np.ndarray) -> float:
    """Coefficient of determination, 1 - SS_res / SS_tot."""
    ss_tot = float(((y - y.mean()) ** 2).sum())
    return 1.0 - float(((y - pred) ** 2).sum()) / ss_tot if ss_tot > 0 else float("nan")


def fit_predictor(vae: "MolVAE", smiles: str | Sequence[str], names: str | Sequence[str] | None = None,
                  val_fraction: float = 0.1, epochs: int = 300, hidden: int = 128, seed: int = 0,
                  progress: bool = False) -> tuple[LatentPredictor, dict[str, dict[str, float]]]:
    """Fit a predictor of `names` (default: qed, logp, sa, mw) from posterior means; returns it
    and, per property, R² and MAE on the held-out `val_fraction` of the molecules."""
    names = props.resolve(names)
    if not names:
        raise MolvaeError("name at least one property to predict")
    smiles = as_smiles_list(smiles)
    mols = vae.prepare(smiles, progress=progress)
    if len(mols) < 20:
        raise MolvaeError(f"only {len(mols)} molecules could be encoded; a predictor needs at least 20")
    z, _ = vae.encode_set(mols)
    y = props.compute(mols.smiles, names, progress=progress).to_numpy()
    keep = ~np.isnan(y).any(axis=1)
    z, y = z[keep], y[keep]
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(z))
    n_val = max(1, int(round(val_fraction * len(z))))
    val, train = order[:n_val], order[n_val:]
    torch.manual_seed(seed)
    model = LatentPredictor(z.shape[1], names, hidden)
    zt, yt = torch.tensor(z, dtype=torch.float32), torch.tensor(y, dtype=torch.float32)
    model.y_mean.copy_(yt[train].mean(0))
    model.y_std.copy_(yt[train].std(0).clamp(min=1e-6))
    target = (yt - model.y_mean) / model.y_std
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-4)
    batch = 512
    gen = torch.Generator().manual_seed(seed)
    best, best_state = float("inf"), None
    for _ in range(epochs):
        model.train()
        for idx in torch.tensor(train)[torch.randperm(len(train), generator=gen)].split(batch):
            opt.zero_grad()
            loss = nn.functional.mse_loss(model(zt[idx]), target[idx])
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            val_loss = float(nn.functional.mse_loss(model(zt[val]), target[val]))
        if val_loss < best:  # early stopping on the held-out molecules
            best, best_state = val_loss, {k: v.clone() for k, v in model.state_dict().items()}
    model.load_state_dict(best_state)
    model.eval()
    with torch.no_grad():
        pred = model.predict(zt[val]).numpy()
    metrics = {name: {"r2": r2_score(y[val, i], pred[:, i]), "mae": float(np.abs(y[val, i] - pred[:, i]).mean()),
                      "n_train": int(len(train)), "n_val": int(len(val))} for i, name in enumerate(names)}
    model.metrics = metrics
    return model, metrics


def predict(vae: "MolVAE", smiles: str | Sequence[str]) -> pd.DataFrame:
    """The attached predictor's estimates for each SMILES (NaN rows where it cannot be encoded); one
    string is one molecule (one row)."""
    if vae.predictor is None:
        raise MolvaeError("this model has no property predictor; fit one with molvae fit-predictor")
    mu = vae.encode(as_smiles_list(smiles), errors="nan")
    out = np.full((len(mu), len(vae.predictor.names)), np.nan)
    ok = ~np.isnan(mu).any(axis=1)
    if ok.any():
        with torch.no_grad():
            out[ok] = vae.predictor.predict(torch.tensor(mu[ok], dtype=torch.float32)).numpy()
    return pd.DataFrame(out, columns=[f"pred_{n}" for n in vae.predictor.names])
