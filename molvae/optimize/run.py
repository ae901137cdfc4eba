"""A run's results: the summary and PMO's top-k AUC of a proposals table, and :func:`run_to_folder`,
which runs a search and writes everything needed to read and reproduce it."""

from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from molvae.io import provenance, write_json, write_molecules
from molvae.optimize.objective import Objective
from molvae.optimize.oracle import STOP_REASONS
from molvae.optimize.search import SearchConfig, optimize
from molvae.optimize.spec import spec_dict, spec_toml
from molvae.shipped import shipped_name

if TYPE_CHECKING:
    from molvae.api import MolVAE

OUTPUTS = ("proposals.csv", "proposals.sdf", "summary.json", "spec.toml", "score_vs_calls.png")


def summary(table: pd.DataFrame, k: int = 3) -> dict[str, Any]:
    """Top-k feasible scores, the calls spent, why the search stopped (:func:`optimize`) and the call
    at which the best was found."""
    feasible = table[table.feasible] if len(table) else table
    top = feasible.nlargest(k, "score") if len(feasible) else feasible
    out = {"calls": int(len(table)), "feasible": int(len(feasible)), "stopped": table.attrs.get("stopped"),
           "top": [{"smiles": r.smiles, "score": round(float(r.score), 4), "call": int(r.call)} for r in top.itertuples()]}
    for i in range(k):
        out[f"top{i + 1}"] = float(top.score.iloc[i]) if len(top) > i else math.nan
    return out


def top_k_auc(table: pd.DataFrame, budget: int, k: int = 10, every: int = 100) -> float:
    """PMO's AUC top-k (Gao et al. 2022): the area under the mean of the `k` best feasible scores so
    far against oracle calls, divided by `budget`. As PMO's code computes it, the curve is read every
    `every` calls and joined by trapezoids starting from 0 at call 0, then to the last call; a search
    that stopped before its budget keeps its last value to the end. ``every=1`` reads it at every call."""
    scores = np.where(table.feasible.to_numpy(bool), table.score.to_numpy(float), np.nan)[:budget] if len(table) else []
    n = len(scores)
    if n == 0:
        return 0.0

    def top_mean(calls: int) -> float:
        seen = scores[:calls]
        seen = seen[~np.isnan(seen)]
        return float(np.sort(seen)[::-1][:k].mean()) if len(seen) else 0.0

    area, previous, last = 0.0, 0.0, 0
    for calls in range(every, n, every):
        now = top_mean(calls)
        area += every * (now + previous) / 2
        previous, last = now, calls
    now = top_mean(n)
    area += (n - last) * (now + previous) / 2 + (budget - n) * now
    return area / budget


def run_to_folder(vae: "MolVAE", objective: Objective, search: SearchConfig, out: str | os.PathLike, *,
                  train: str | os.PathLike | None = "moses:train", top: int = 3, progress: bool = True,
                  model: str | os.PathLike | None = None,
                  command: str | None = None) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Run :func:`optimize` and write to the folder `out`: ``proposals.csv`` (every evaluated molecule,
    with a ``novel`` column against the canonical molecules of `train`, left out when `train` is None
    or "none"), ``proposals.sdf`` (the same rows as SD records, the columns as tags), ``summary.json`` (provenance: the `command`, default this process's, the molvae version,
    the `model` file the vae was loaded from if given; the settings and the summary of the `top`
    molecules), ``spec.toml`` (every setting, so that ``molvae optimize OUT/spec.toml`` with the same
    model repeats the run) and ``score_vs_calls.png``. `progress`: progress bars for the search's oracle calls and
    while the training set is read. Returns the table and the summary."""
    from molvae.plots import score_vs_calls  # matplotlib: loaded when a run is written

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    table = optimize(vae, objective, search, progress=progress)
    if train is not None and str(train).lower() != "none" and len(table):
        from molvae.data import canonical_set
        from molvae.io import resolve_data_path

        table["novel"] = ~table.smiles.isin(canonical_set(resolve_data_path(train), progress=progress))
    table.to_csv(out / "proposals.csv", index=False, float_format="%.6g")
    write_molecules(table, out / "proposals.sdf", "smiles", float_format="%.6g")
    result = summary(table, k=top)
    result["seconds"] = round(time.perf_counter() - start, 1)
    name = shipped_name(model)
    info = provenance(model, command, settings=spec_dict(objective, search), summary=result)
    write_json(out / "summary.json", info)
    rerun = f"molvae optimize {out / 'spec.toml'}" + (f" -m {name or model}" if model else " -m MODEL (the model it used)")
    header = [f"every setting of a molvae {info['molvae']} optimization run; `{rerun}` repeats it",
              f"command: {info['command']}"]
    (out / "spec.toml").write_text(spec_toml(objective, search, header))
    score_vs_calls({search.method: table}, out / "score_vs_calls.png",
                   title=f"{search.method}, {len(table)} oracle calls")
    return table, result


def report(table: pd.DataFrame, result: dict[str, Any], search: SearchConfig, out: str | os.PathLike) -> str:
    """What a run found, in lines for a terminal: the calls, the best molecules, the files written."""
    lines = []
    if search.start_molecules is not None and len(table):
        lines.append(f"{int((table.step == 0).sum())} start molecules scored first (round 0 of proposals.csv)")
    stopped = result.get("stopped")
    why = f", stopped before the budget of {search.budget}: {STOP_REASONS.get(stopped, stopped)}" \
        if stopped not in (None, "budget") else ""
    lines.append(f"{result['calls']} oracle calls ({result['feasible']} feasible) in {result['seconds']} s{why}; best:")
    lines += [f"  {i}. {row['score']:.4f}  {row['smiles']}  (call {row['call']})"
              for i, row in enumerate(result["top"], 1)]
    lines.append(f"wrote {out}/{', '.join(OUTPUTS)}")
    return "\n".join(lines)
