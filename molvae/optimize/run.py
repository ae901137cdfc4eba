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

from molvae.errors import ConfigError, hint
from molvae.io import provenance, write_json, write_molecules
from molvae.optimize.objective import Objective
from molvae.optimize.oracle import STOP_REASONS
from molvae.optimize.search import SearchConfig, optimize
from molvae.optimize.spec import spec_dict, spec_toml
from molvae.shipped import shipped_name

if TYPE_CHECKING:
    from molvae.api import MolVAE

OUTPUTS = ("proposals.csv", "proposals.sdf", "summary.json", "spec.toml", "score_vs_calls.png")
START_REJECTS = "start_rejects.csv"  # start molecules that could not be used, with their reasons (if any)


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


def check_output_folder(out: str | os.PathLike, overwrite: bool = False) -> Path:
    """The folder a run writes to, checked: refused when it already holds files, unless `overwrite`
    (:func:`run_to_folder` then replaces the files of the run in it, and touches no other file)."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"the output {out} is a file, not a folder; choose another with -o")
    held = sorted(p.name for p in out.iterdir()) if out.is_dir() else []
    if held and not overwrite:
        shown = ", ".join(held[:4]) + (", ..." if len(held) > 4 else "")
        raise ConfigError(f"the output folder {out} already holds files ({shown}); choose another folder"
                          + hint("overwrite", ", or pass {} to replace the run in it"))
    return out


def run_to_folder(vae: "MolVAE", objective: Objective, search: SearchConfig, out: str | os.PathLike, *,
                  train: str | os.PathLike | None = "moses:train", top: int = 3, progress: bool = True,
                  model: str | os.PathLike | None = None, command: str | None = None,
                  overwrite: bool = False) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Run :func:`optimize` and write to the folder `out`: ``proposals.csv`` (every evaluated molecule,
    with a ``novel`` column, whether the molecule is not in `train` (:func:`molvae.novelty.in_training_set`),
    left out when `train` is None or "none"), ``proposals.sdf`` (the same rows as SD records, the
    columns as tags), ``summary.json`` (provenance: the `command`, default this
    process's, the molvae version, the `model` file the vae was loaded from if given; the settings and
    the summary of the `top` molecules, with the seconds the search took and those novelty took apart),
    ``spec.toml`` (every setting, so that ``molvae optimize OUT/spec.toml`` with the same model
    repeats the run), ``score_vs_calls.png``, and ``start_rejects.csv`` when start molecules could not
    be used. A folder that already holds files is refused unless `overwrite`. `progress`: progress
    bars for the search's oracle calls and while a novelty index is built. Returns the table and the summary."""
    from molvae.plots import score_vs_calls  # matplotlib: loaded when a run is written

    out = check_output_folder(out, overwrite)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    table = optimize(vae, objective, search, progress=progress)
    search_seconds = time.perf_counter() - start
    novelty_seconds = None
    if train is not None and str(train).lower() != "none" and len(table):
        from molvae.io import resolve_data_path
        from molvae.novelty import in_training_set

        start = time.perf_counter()
        table["novel"] = ~in_training_set(table.smiles.tolist(), resolve_data_path(train), progress=progress)
        novelty_seconds = round(time.perf_counter() - start, 1)
    for name in (*OUTPUTS, START_REJECTS):  # an earlier run's files (only with overwrite can there be any)
        (out / name).unlink(missing_ok=True)
    table.to_csv(out / "proposals.csv", index=False, float_format="%.6g")
    write_molecules(table, out / "proposals.sdf", "smiles", float_format="%.6g")
    rejects = table.attrs.get("start_rejects")
    if rejects:
        from molvae.data import rejects_frame

        rejects_frame(rejects).to_csv(out / START_REJECTS, index=False)
    result = summary(table, k=top)
    result["search_seconds"] = round(search_seconds, 1)
    result["novelty_seconds"] = novelty_seconds
    if rejects is not None:
        result["start_rejected"] = int(len(rejects))
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
        if result.get("start_rejected"):
            lines.append(f"{result['start_rejected']} of the start molecules chosen could not be used; "
                         f"{out}/{START_REJECTS} lists them with their reasons")
    stopped = result.get("stopped")
    why = f", stopped before the budget of {search.budget}: {STOP_REASONS.get(stopped, stopped)}" \
        if stopped not in (None, "budget") else ""
    novelty = (f"; novelty against the training set judged in {result['novelty_seconds']} s"
               if result.get("novelty_seconds") is not None else "")
    lines.append(f"{result['calls']} oracle calls ({result['feasible']} feasible) in {result['search_seconds']} s of "
                 f"search{why}{novelty}; best:")
    lines += [f"  {i}. {row['score']:.4f}  {row['smiles']}  (call {row['call']})"
              for i, row in enumerate(result["top"], 1)]
    written = [*OUTPUTS, *([START_REJECTS] if result.get("start_rejected") else [])]
    lines.append(f"wrote {out}/{', '.join(written)}")
    return "\n".join(lines)
