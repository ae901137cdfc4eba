"""How much of a PMO run's wall time is the task's own oracle: each task's TDC scorer timed per call
on the molecules a stored run of scripts/benchmarks/bench_pmo.py scored, beside that run's recorded wall time.

    python scripts/benchmarks/bench_oracle.py --out ~/molvae-runs/pmo                  # every task with a run
    python scripts/benchmarks/bench_oracle.py --out ~/molvae-runs/pmo --tasks deco_hop --sample 400

A run's molecules are read from OUT/runs/ (the first run found for the task, in the order of
``--methods``); ``--sample`` of them, evenly spaced through the run so that early and late molecules
are both timed (a search's later molecules are often larger, and some oracles cost more on them), are
scored one call at a time after one warm-up call. The estimated oracle time of the whole run is the
mean time per call times the run's calls; its share is that over the run's recorded seconds. Timings
depend on what else the CPU is doing: compare tasks timed in one run of this script.

Writes OUT/oracle_time.csv and OUT/oracle_time.json (the command and settings).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # scripts/harness.py, shared by the benchmarks and studies
from bench_pmo import run_name
from harness import script_provenance
from molvae.io import write_json

METHODS = ("policy", "cmaes", "policy_redraw1", "gradient", "random")


def time_calls(scorer, smiles: list[str]) -> np.ndarray:
    """Seconds each call of `scorer` took, one molecule per call, after one untimed warm-up call
    (TDC builds some targets' fingerprints on its first call)."""
    scorer(smiles[0])
    seconds = np.empty(len(smiles))
    for i, s in enumerate(smiles):
        start = time.perf_counter()
        scorer(s)
        seconds[i] = time.perf_counter() - start
    return seconds


def evenly(items: list, n: int) -> list:
    """At most `n` of `items`, evenly spaced from the first to the last."""
    if len(items) <= n:
        return list(items)
    return [items[i] for i in np.linspace(0, len(items) - 1, n).round().astype(int)]


def main() -> None:
    from molvae.optimize.scorers import PMO_TASKS, tdc_scorer

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(Path.home() / "molvae-runs" / "pmo"), help="bench_pmo.py results folder")
    ap.add_argument("--tasks", nargs="+", default=list(PMO_TASKS), choices=PMO_TASKS, metavar="TASK")
    ap.add_argument("--methods", nargs="+", default=list(METHODS), help="whose run to read, first found first")
    ap.add_argument("--scoring", default="pmo2022", choices=["pmo2022", "current"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--sample", type=int, default=400, help="molecules timed per task")
    args = ap.parse_args()

    out = Path(args.out).expanduser()
    if not (out / "results.csv").is_file():
        raise SystemExit(f"{out} holds no results.csv: point --out at a scripts/benchmarks/bench_pmo.py results folder")
    results = pd.read_csv(out / "results.csv").set_index(["scoring", "task", "method", "seed"])
    rows = []
    for task in args.tasks:
        found = [m for m in args.methods if (out / "runs" / run_name(args.scoring, task, m, args.seed)).is_file()
                 and (args.scoring, task, m, args.seed) in results.index]
        if not found:
            print(f"{task}: no run of {', '.join(args.methods)} with seed {args.seed} in {out}; skipped", flush=True)
            continue
        method = found[0]
        run = pd.read_csv(out / "runs" / run_name(args.scoring, task, method, args.seed))
        seconds = time_calls(tdc_scorer(task, args.scoring), evenly(run.smiles.tolist(), args.sample))
        recorded = results.loc[(args.scoring, task, method, args.seed)]
        oracle_s = seconds.mean() * recorded.calls
        rows.append({"task": task, "run": f"{method} s{args.seed}", "calls": int(recorded.calls),
                     "timed": len(seconds), "median_ms": 1e3 * np.median(seconds), "mean_ms": 1e3 * seconds.mean(),
                     "p90_ms": 1e3 * np.quantile(seconds, 0.9), "max_ms": 1e3 * seconds.max(),
                     "first_tenth_mean_ms": 1e3 * seconds[: max(1, len(seconds) // 10)].mean(),
                     "last_tenth_mean_ms": 1e3 * seconds[-max(1, len(seconds) // 10):].mean(),
                     "oracle_s_est": oracle_s, "run_s": recorded.seconds,
                     "oracle_share_est": oracle_s / recorded.seconds})
        print(f"{task} ({method} s{args.seed}): {rows[-1]['mean_ms']:.1f} ms a call on average "
              f"(median {rows[-1]['median_ms']:.1f}), about {oracle_s:.0f} s of the run's {recorded.seconds:.0f} s", flush=True)
    table = pd.DataFrame(rows)
    table.to_csv(out / "oracle_time.csv", index=False, float_format="%.4g")
    write_json(out / "oracle_time.json", script_provenance(settings=vars(args), rows=len(table)))
    if len(table):
        print(table.to_string(index=False, float_format=lambda v: f"{v:.3g}"))


if __name__ == "__main__":
    main()
