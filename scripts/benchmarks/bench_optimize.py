"""Latent-space optimizers against two baselines at the same oracle budget and seeds.

    python scripts/benchmarks/bench_optimize.py --tasks qed --budget 100 --seeds 0        # smoke scale, minutes
    python scripts/benchmarks/bench_optimize.py --budget 1000 --seeds 0 1 2                # the issue's scale, hours on a CPU

Tasks (unconstrained, starting from the prior):
- ``qed``:            maximize QED;
- ``plogp``:          maximize penalized logP (JT-VAE's normalized form);
- ``plogp_limited``:  the same, molecules over 38 heavy atoms infeasible (the usual length limit);
- ``mpo``:            QED + a logP window [2, 3] + SA below 3 (weights 1, 0.5, 0.2), a small MPO;
- ``rediscovery``:    Tanimoto similarity to celecoxib (GuacaMol's rediscovery task, Morgan r=2 here);
- ``similarity_mpo``: similarity to aripiprazole of at least 0.5 plus half the QED.

Methods: cmaes, bo, gradient (latent space) and the two baselines: ``random`` (prior samples,
decoded) and ``screen`` (best-of-N of a random sample of N MOSES-train molecules). Reported per task
and method: top-1/2/3 (mean over seeds) and the PMO-style AUC of the top-10 average against oracle
calls (normalized by the budget; a method that stops early keeps its last value).

By default the latent-space methods start from the prior. With ``--start-screen N`` they start instead
from N random MOSES-train molecules scored by the oracle (the first N of their budget: the same
calls screening makes), their codes and scores being the optimizer's first observations.

With ``--constrained N`` it also runs the JT-VAE protocol adapted to MOSES: the N MOSES-test molecules
with the lowest penalized logP (the paper: 800 of ZINC), each the start of a search with a budget of
``--constrained-budget`` calls under similarity >= each of ``--deltas`` (0.4 0.6) to it; reported: mean improvement ±
sd over the molecules where a feasible better molecule was found, and the success rate.

Writes OUT/bench_optimize.csv (one row per task, method, seed), OUT/bench_optimize.json (means and the
command) and OUT/<task>.png (best score against calls, seed 0).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # scripts/harness.py, shared by the benchmarks and studies
from harness import script_provenance
from molvae.api import MolVAE
from molvae.io import write_json
from molvae.io import read_smiles, resolve_data_path
from molvae.optimize import Constraints, Objective, Oracle, SearchConfig, Term, optimize, top_k_auc
from molvae.plots import score_vs_calls
from molvae.shipped import shipped_name

CELECOXIB = "Cc1ccc(-c2cc(C(F)(F)F)nn2-c2ccc(S(N)(=O)=O)cc2)cc1"
ARIPIPRAZOLE = "O=C1CCc2ccc(OCCCCN3CCN(c4cccc(Cl)c4Cl)CC3)cc2N1"
TASKS = {
    "qed": lambda: Objective([Term("qed")]),
    "plogp": lambda: Objective([Term("penalized_logp")]),
    "plogp_limited": lambda: Objective([Term("penalized_logp")], Constraints(max_heavy_atoms=38)),
    "mpo": lambda: Objective([Term("qed"), Term("logp", goal="window", low=2.0, high=3.0, weight=0.5),
                              Term("sa", goal="window", low=1.0, high=3.0, weight=0.2)]),
    # GuacaMol-style goals (Brown et al. 2019), RDKit only, searched from the prior:
    "rediscovery": lambda: Objective([Term("similarity")], reference=CELECOXIB),
    "similarity_mpo": lambda: Objective([Term("similarity", goal="window", low=0.5, high=1.0), Term("qed", weight=0.5)],
                                        reference=ARIPIPRAZOLE),
}
METHODS = ("random", "screen", "cmaes", "bo", "gradient")


def screen(objective: Objective, budget: int, seed: int, pool: list[str]) -> pd.DataFrame:
    """Best-of-N screening: score N random training molecules with the same oracle."""
    rng = np.random.default_rng(seed)
    oracle = Oracle(objective, budget)
    picks = [pool[i] for i in rng.choice(len(pool), size=min(len(pool), 3 * budget), replace=False)]
    for start in range(0, len(picks), 100):
        if oracle.left <= 0:
            break
        oracle(picks[start : start + 100])
    return oracle.table()


def start_label(method: str, start_screen: int) -> str:
    if method == "screen":
        return "-"
    return f"{start_screen} MOSES-train" if start_screen else "prior"


def constrained(vae: MolVAE, n: int, budget: int, methods: list[str], seed: int, deltas: list[float]) -> list[dict]:
    """The constrained penalized-logP protocol on the `n` lowest-scoring MOSES-test molecules."""
    from molvae import properties as props

    test = read_smiles(resolve_data_path("moses:test")).tolist()
    scores = props.compute(test, ["penalized_logp"], progress=True).penalized_logp
    starts = [test[i] for i in scores.nsmallest(n).index]
    rows = []
    for delta in deltas:
        for method in methods:
            gains = []
            for smi in starts:
                # similarity is measured to the search's start molecule
                objective = Objective([Term("penalized_logp")], Constraints(similarity_min=delta))
                table = optimize(vae, objective, SearchConfig(method=method, budget=budget, seed=seed, start=smi,
                                                              batch_size=min(10, budget)))
                base = props.penalized_logp(smi)
                best = table[table.feasible].score.max() if len(table) and table.feasible.any() else np.nan
                gains.append(best - base if best == best and best > base else np.nan)
            gains = np.asarray(gains, float)
            ok = ~np.isnan(gains)
            row = {"task": f"constrained_plogp_sim{delta}", "method": method, "seed": seed, "molecules": n,
                   "budget_per_molecule": budget, "success": float(ok.mean()),
                   "improvement_mean": float(gains[ok].mean()) if ok.any() else np.nan,
                   "improvement_sd": float(gains[ok].std()) if ok.any() else np.nan}
            print(json.dumps(row), flush=True)
            rows.append(row)
    return rows


TASK_NAMES = {"qed": "QED", "mpo": "MPO", "plogp": "penalized logP", "plogp_limited": "penalized logP, ≤ 38 heavy atoms",
              "rediscovery": "rediscovery (celecoxib)", "similarity_mpo": "similarity to aripiprazole ≥ 0.5 + QED/2"}
METHOD_NAMES = {"screen": "screen (baseline)", "cmaes": "CMA-ES", "gradient": "gradient", "bo": "BO"}


def method_name(method: str, start: str) -> str:
    if method == "random":  # from the prior: the baseline; from start molecules: a local random search
        return "random (baseline)" if start == "prior" else "local random (around the starts)"
    return METHOD_NAMES[method]


def _sd(x: float) -> str:
    return f" ± {x:.4f}" if x == x else ""  # nothing for a single seed


def report(rows: pd.DataFrame) -> str:
    """Markdown table (as in docs/optimize.md): per task, method and start, the mean top-1/2/3 and the
    top-3 and AUC mean ± sd over seeds; the best mean of each task in bold."""
    rows = rows.copy()
    rows["start"] = rows.get("start", pd.Series("prior", index=rows.index)).fillna("prior")
    rows.loc[rows.method == "screen", "start"] = "-"
    rows["model"] = rows.get("model", pd.Series("", index=rows.index)).fillna("")
    by_model = rows.model.nunique() > 1  # rows of several models: a column says which
    g = rows.groupby(["task", "model", "method", "start"], sort=False)
    stats = g[["top1", "top2", "top3", "auc_top10"]].mean().join(g[["top3", "auc_top10"]].std().add_suffix("_sd"))
    stats["seeds"] = g.size()
    first = {t: i for i, t in enumerate(dict.fromkeys(rows.task))}  # a task's rows together, models side by side
    stats = stats.iloc[sorted(range(len(stats)), key=lambda i: first[stats.index[i][0]])]
    model_head = ("model | ", "--- | ") if by_model else ("", "")
    lines = [f"| task | {model_head[0]}method | start | top-1 | top-2 | top-3 | AUC top-10 | seeds |",
             f"| --- | {model_head[1]}--- | --- | ---: | ---: | ---: | ---: | ---: |"]
    for (task, model, method, start), r in stats.iterrows():
        best = stats.loc[task]
        cell = {c: (f"**{r[c]:.4f}**" if r[c] >= best[c].max() else f"{r[c]:.4f}") for c in ("top1", "top2", "top3", "auc_top10")}
        lines.append(f"| {TASK_NAMES.get(task, task)} | {model + ' | ' if by_model else ''}{method_name(method, start)} | {start} "
                     f"| {cell['top1']} | {cell['top2']} | {cell['top3']}{_sd(r.top3_sd)} | {cell['auc_top10']}{_sd(r.auc_top10_sd)} "
                     f"| {int(r.seeds)} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-m", "--model", help="checkpoint (default: the shipped model)")
    ap.add_argument("--tasks", nargs="*", default=list(TASKS), choices=list(TASKS))
    ap.add_argument("--methods", nargs="*", default=list(METHODS), choices=list(METHODS))
    ap.add_argument("--budget", type=int, default=1000)
    ap.add_argument("--seeds", type=int, nargs="*", default=[0, 1, 2])
    ap.add_argument("--batch-size", type=int, default=20)
    ap.add_argument("--constrained", type=int, default=0, help="run the constrained protocol on this many molecules (800 in JT-VAE)")
    ap.add_argument("--constrained-budget", type=int, default=50, help="oracle calls per start molecule")
    ap.add_argument("--deltas", type=float, nargs="*", default=[0.4, 0.6], help="similarity bounds of the constrained runs")
    ap.add_argument("--start-screen", type=int, default=0,
                    help="latent methods start from this many scored MOSES-train molecules (default: the prior)")
    ap.add_argument("--out", default="runs/bench_optimize")
    ap.add_argument("--report", nargs="+", metavar="CSV",
                    help="only print the markdown table of these result files (rows of earlier runs, concatenated)")
    args = ap.parse_args()
    if args.report:
        print(report(pd.concat([pd.read_csv(f) for f in args.report], ignore_index=True)))
        return
    warnings.filterwarnings("ignore")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    vae = MolVAE.load(args.model, device="cpu")
    model_name = shipped_name(vae.path) or str(vae.path)
    pool = read_smiles(resolve_data_path("moses:train")).sample(200_000, random_state=0).tolist()
    rows = []
    for task in args.tasks:
        curves = {}
        for method in args.methods:
            for seed in args.seeds:
                start = time.perf_counter()
                if method == "screen":
                    table = screen(TASKS[task](), args.budget, seed, pool)
                else:
                    cfg = SearchConfig(method=method, budget=args.budget, seed=seed, batch_size=args.batch_size,
                                       start_molecules=pool if args.start_screen else None,
                                       start_count=max(args.start_screen, 1))
                    table = optimize(vae, TASKS[task](), cfg)
                feasible = table[table.feasible].score.sort_values(ascending=False).tolist() if len(table) else []
                row = {"task": task, "model": model_name, "method": method, "start": start_label(method, args.start_screen),
                       "seed": seed, "calls": len(table),
                       "top1": feasible[0] if feasible else np.nan, "top2": feasible[1] if len(feasible) > 1 else np.nan,
                       "top3": feasible[2] if len(feasible) > 2 else np.nan, "auc_top10": top_k_auc(table, args.budget),
                       "best_smiles": table[table.feasible].nlargest(1, "score").smiles.iloc[0] if feasible else "",
                       "seconds": round(time.perf_counter() - start, 1)}
                rows.append(row)
                print(json.dumps(row), flush=True)
                pd.DataFrame(rows).to_csv(out / "bench_optimize.csv", index=False)
                if seed == args.seeds[0] and len(table):
                    curves[method] = table
        score_vs_calls(curves, out / f"{task}.png", title=f"{task}: best feasible score, seed {args.seeds[0]}")
    if args.constrained:
        extra = constrained(vae, args.constrained, args.constrained_budget,
                            [m for m in args.methods if m != "screen"], args.seeds[0], args.deltas)
        pd.DataFrame(extra).to_csv(out / "bench_constrained.csv", index=False)
    table = pd.DataFrame(rows)
    if table.empty:
        return
    means = table.groupby(["task", "method", "start"])[["top1", "top2", "top3", "auc_top10", "calls", "seconds"]].mean()
    write_json(out / "bench_optimize.json", script_provenance(model=vae.path,
                                                              means=means.reset_index().to_dict(orient="records")))
    with pd.option_context("display.width", 200):
        print(means.round(4).to_string())


if __name__ == "__main__":
    main()
