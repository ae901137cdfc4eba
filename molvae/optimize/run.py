"""A run's results: the summary and PMO's top-k AUC of a proposals table."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd


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
