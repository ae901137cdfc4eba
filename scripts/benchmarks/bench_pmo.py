"""The PMO protocol (Gao et al., NeurIPS 2022, "Sample Efficiency Matters") on molvae's optimizers.

    pip install -e ".[bench]"    # in an environment of its own: PyTDC pins RDKit < 2024.3 and NumPy < 2
    python scripts/benchmarks/bench_pmo.py --out ~/molvae-runs/pmo                       # every task, method, seed 0
    python scripts/benchmarks/bench_pmo.py --out ~/molvae-runs/pmo --seeds 0 1 2 --methods policy cmaes
    python scripts/benchmarks/bench_pmo.py --out ~/molvae-runs/pmo --report              # table only, from results.csv
    python scripts/benchmarks/bench_pmo.py --out ~/molvae-runs/pmo --merge ~/molvae-runs/pmo-2 --report  # fold in a parallel run's folder

Each run is one (scoring, task, method, seed): the optimizer gets 10,000 oracle calls (``--budget``),
counted as PMO counts them (one per distinct canonical molecule; repeats and strings that are no
molecule are free; the budget is exact). Scores are TDC's oracles (``tdc:NAME``). ``--scoring``:
``pmo2022`` uses the definitions PMO's published figures used (PyTDC 0.3.6, whose isomer term read the
SMILES string as a formula: isomers_*, zaleplon_mpo and sitagliptin_mpo differ; TDC keeps them as
``*_prev``), ``current`` TDC's corrected scoring; the two only differ on those four tasks.

Reported per run: AUC top-10 as PMO's code computes it (``molvae.optimize.top_k_auc``: the mean of
the 10 best scores so far, read every 100 calls starting from 0 at call 0, trapezoids, divided by the
budget, a search that stopped early holding its last value; checked against ``top_auc`` in
wenhao-gao/mol_opt main/optimizer.py), top-1, top-10 mean and wall time.

Methods: molvae's (``random`` = prior samples decoded, ``cmaes``, ``bo``, ``gradient``, ``policy``:
CMA-ES chooses the codes, the decoder learns; ``policy_gaussian`` is the policy search the REINVENT
way, blind Gaussian codes and sampling; ``policy_redraw1`` the policy search with one redraw of a
repeating row, its default before 4) and
``screening``: a seeded random sample of MOSES-train molecules scored in turn (PMO screened ZINC 250k;
MOSES is a ZINC subset). Published PMO figures (AUC top-10, 5 seeds, from the authors' results
workbook Mol_Opt.xlsx in pmo-benchmark/pmo-benchmark.github.io) are in docs/bench/pmo/pmo_published.csv.

``--time-limit-minutes N`` stops a run at its first round after N minutes; its AUC (the last value held,
as for a search that stopped by itself) is then a lower bound, marked ``≥`` in the report, and the
row's ``stopped`` column says why every run ended (budget, collapsed, stalled, time limit).

Resumable: every finished run is a row of OUT/results.csv (and its calls in OUT/runs/), and a
restarted script skips the runs it has. Writes OUT/results.csv, OUT/report.md and OUT/bench_pmo.json.
Processes run side by side each write a folder of their own (``--out``); ``--merge`` folds those
folders into OUT once their processes have stopped (their rows and runs/ files; a run OUT already
has keeps OUT's row).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # scripts/harness.py, shared by the benchmarks and studies
from harness import script_provenance
from molvae.io import write_json

PUBLISHED = Path(__file__).parents[2] / "docs" / "bench" / "pmo" / "pmo_published.csv"
METHODS = ("screening", "random", "cmaes", "policy", "policy_redraw1", "policy_gaussian", "gradient", "bo")
# per-method batch sizes: PMO's REINVENT samples 64 a step; the latent searches keep molvae's default
BATCH = {"policy_gaussian": 64, "random": 100}
# benchmark names for a molvae method with settings of its own: (method, its settings).
# policy_gaussian: the policy search REINVENT's way (blind Gaussian codes, sampling), its default
# until CMA-ES chose the codes (the rows of the present default were first run as policy_cmaes).
# policy_redraw1: a repeating row sampled again once, not up to 4 times: the default until the
# run-for-run comparison with redraws = 4 (its rows were first run as policy, and redraws = 4 as policy_redraw4)
VARIANTS = {"policy_gaussian": ("policy", {"proposer": "gaussian", "greedy": False, "learning_rate": 2e-3}),
            "policy_redraw1": ("policy", {"redraws": 1})}
# the report compares these pairs on the tasks both have run: the learning optimizer against the frozen one
COMPARE = [("policy", "cmaes"), ("policy_redraw1", "cmaes")]
# and these variants against their method, run for run (the same task and seed): a setting's own effect
PAIRED = [("policy", "policy_redraw1")]
PROGRESS = sys.stderr.isatty()  # a bar over each run's calls on a terminal; none in a log file


def run_one(vae, task: str, scoring: str, method: str, seed: int, budget: int, train: list[str],
            time_limit_minutes: float | None = None) -> pd.DataFrame:
    """One search: every scored molecule in call order (call, smiles, score), and why it stopped in
    ``attrs["stopped"]`` ("budget", "collapsed", "stalled", "time limit": see molvae.optimize.optimize)."""
    from molvae.optimize import Objective, Oracle, SearchConfig, Term, optimize
    from molvae.optimize.scorers import tdc_scorer
    from molvae.optimize.search import METHODS as SEARCH_METHODS

    objective = Objective([Term(f"tdc:{task}", function=tdc_scorer(task, scoring))])
    if method == "screening":
        oracle = Oracle(objective, budget, progress=PROGRESS, desc=f"{task} screening")
        order = np.random.default_rng(seed).permutation(len(train))
        for start in range(0, len(order), 1000):
            oracle([train[i] for i in order[start:start + 1000]])
            if oracle.left <= 0:
                break
        oracle.close()
        table = oracle.table().drop(columns="step")  # no rounds: one pass over the data
        table.attrs["stopped"] = "budget" if oracle.left <= 0 else "data"  # "data": the training set ran out
    else:
        base, settings = VARIANTS.get(method, (method, {}))
        config = SearchConfig(method=base, budget=budget, seed=seed, batch_size=BATCH.get(method, 20),
                              time_limit_minutes=time_limit_minutes, **{base: SEARCH_METHODS[base](**settings)})
        table = optimize(vae, objective, config, progress=PROGRESS)
    return table[[c for c in ("call", "step", "smiles", "score") if c in table]]  # pandas carries attrs (the stop reason)


def run_name(scoring: str, task: str, method: str, seed: int) -> str:
    """The file in a results folder's runs/ that holds one run's calls."""
    return f"{scoring}_{task}_{method}_s{seed}.csv.gz"


def merge(results: pd.DataFrame, out: Path, folders: list[Path]) -> pd.DataFrame:
    """`results` (OUT's rows) with the rows of other results folders that OUT lacks, each with its
    runs/ file copied into OUT/runs/; rows sorted by scoring, task, method and seed. Merge folders
    whose processes have stopped: a running one rewrites its results.csv after every run."""
    import shutil

    key = ["scoring", "task", "method", "seed"]
    have = set(map(tuple, results[key].itertuples(index=False))) if len(results) else set()
    parts = [results]
    for folder in folders:
        path = folder / "results.csv"
        if not path.is_file():
            raise SystemExit(f"--merge: {folder} holds no results.csv")
        rows = pd.read_csv(path)
        rows = rows[[tuple(r) not in have for r in rows[key].itertuples(index=False)]]
        for scoring, task, method, seed in rows[key].itertuples(index=False):
            name = run_name(scoring, task, method, seed)
            if not (folder / "runs" / name).is_file():
                print(f"--merge: {folder}/runs/{name} is missing; its row is merged without it", flush=True)
                continue
            shutil.copy2(folder / "runs" / name, out / "runs" / name)
        have |= set(map(tuple, rows[key].itertuples(index=False)))
        parts.append(rows)
    parts = [p for p in parts if len(p)]
    if not parts:
        return results
    merged = pd.concat(parts, ignore_index=True)
    order = {m: i for i, m in enumerate(METHODS)}
    return merged.sort_values(key, key=lambda c: c.map(order) if c.name == "method" else c).reset_index(drop=True)


def write_results(results: pd.DataFrame, path: Path) -> None:
    """results.csv written whole or not at all (a reader, e.g. --merge, never sees half a file)."""
    tmp = path.with_suffix(".csv.tmp")
    results.to_csv(tmp, index=False, float_format="%.6g")
    tmp.replace(path)


def figures(table: pd.DataFrame, budget: int) -> dict[str, float]:
    from molvae.optimize import top_k_auc

    scored = table.assign(feasible=table.score.notna())
    top = np.sort(table.score.dropna().to_numpy())[::-1]
    return {"calls": len(table), "auc_top10": top_k_auc(scored, budget, k=10), "auc_top1": top_k_auc(scored, budget, k=1),
            "top1": float(top[0]) if len(top) else 0.0, "top10": float(top[:10].mean()) if len(top) else 0.0,
            "rounds": int(table.step.max()) if "step" in table and len(table) else np.nan}  # a search's rounds (not screening's)


def seed_spread(runs: pd.DataFrame, method: str, means: pd.DataFrame, compare: list[tuple[str, str]]) -> list[str]:
    """A report line for a method run with several seeds: its sum over the tasks every seed ran, per
    seed, and for a learner of `compare` each seed's lead over the frozen method's mean there."""
    by_seed = runs.pivot_table(index="task", columns="seed", values="auc_top10")
    if by_seed.shape[1] < 2:
        return []
    common = by_seed.dropna()
    if common.empty:
        return []
    sums = common.sum()
    line = (f"- {method} per seed on the {len(common)} task{'s' * (len(common) != 1)} all its seeds ({', '.join(map(str, sums.index))}) ran: "
            f"sums {', '.join(f'{v:.3f}' for v in sums)} (spread {sums.max() - sums.min():.3f})")
    for learner, frozen in compare:
        if learner == method and frozen in means and means.loc[common.index, frozen].notna().all():
            base = means.loc[common.index, frozen].sum()
            line += (f"; {frozen} (mean over its seeds) sums {base:.3f} there, so each seed leads it by "
                     + ", ".join(f"{v - base:+.3f}" for v in sums))
    return [line]


def gap_summary(gap: pd.Series) -> str:
    """The AUC differences of one method against another, in words: their sum, above and below."""
    return f"sum {gap.sum():+.3f}, above on {int((gap > 0).sum())}, below on {int((gap < 0).sum())}"


def paired(runs: pd.DataFrame, variant: str, method: str) -> list[str]:
    """A report line for a variant against its method on the runs both made with the same task and
    seed: the summed AUC difference, how many runs it was above and below, and the rounds each took
    (where the rows record them): what the setting itself changed, without seed-to-seed noise."""
    key = ["task", "seed"]
    a = runs[runs.method == variant].set_index(key)
    b = runs[runs.method == method].set_index(key)
    both = a.index.intersection(b.index)
    if both.empty:
        return []
    gap = a.loc[both, "auc_top10"] - b.loc[both, "auc_top10"]
    line = f"- {variant} against {method}, run for run ({len(both)} runs of the same task and seed): AUC {gap_summary(gap)}"
    if "rounds" in runs and a.loc[both, "rounds"].notna().all() and b.loc[both, "rounds"].notna().all():
        line += f"; rounds {int(a.loc[both, 'rounds'].sum()):,} against {int(b.loc[both, 'rounds'].sum()):,}"
    return [line]


def report(results: pd.DataFrame, out: Path) -> str:
    """A markdown table per scoring: mean AUC top-10 over seeds (± half the range) beside PMO's figures."""
    published = pd.read_csv(PUBLISHED).pivot(index="task", columns="method", values="auc_top10")
    lines = []
    for scoring, part in results.groupby("scoring"):
        stats = part.groupby(["task", "method"]).auc_top10.agg(["mean", "min", "max", "count"])
        stopped = part.stopped if "stopped" in part else pd.Series(np.nan, index=part.index)
        timed_out = set(zip(part.task[stopped == "time limit"], part.method[stopped == "time limit"]))
        short = part.assign(stopped=stopped)[part.calls < part.budget]  # (assigned to no rows, pandas would make one)
        methods = [m for m in METHODS if m in part.method.unique()]
        tasks = [t for t in published.index if t != "sum" and t in part.task.unique()]
        lines += [f"### AUC top-10, {scoring} scoring ({part.calls.max():,} calls max per run)", "",
                  "| task | " + " | ".join(methods) + " | PMO SELFIES-VAE-BO | PMO Graph GA | PMO REINVENT |",
                  "|---|" + "---:|" * (len(methods) + 3)]
        for task in tasks:
            cells = []
            for m in methods:
                if (task, m) in stats.index:
                    s = stats.loc[(task, m)]
                    spread = f" ± {(s['max'] - s['min']) / 2:.3f}" if s["count"] > 1 else ""
                    bound = "≥ " if (task, m) in timed_out else ""  # a run cut short by time: a lower bound
                    cells.append(f"{bound}{s['mean']:.3f}{spread}")
                else:
                    cells.append("–")
            pub = [f"{published.loc[task, k]:.3f}" for k in ("selfies_vae_bo", "graph_ga", "reinvent")]
            lines.append(f"| {task} | " + " | ".join(cells + pub) + " |")
        means = stats["mean"].unstack()
        complete = [m for m in methods if all((t, m) in stats.index for t in tasks)]
        sums = {m: means.loc[tasks, m].sum() for m in complete}
        pub_sums = {k: published.loc[tasks, k].sum() for k in ("selfies_vae_bo", "graph_ga", "reinvent")}
        lines.append(f"| **sum over these {len(tasks)} tasks** | "
                     + " | ".join(f"**{'≥ ' * any((t, m) in timed_out for t in tasks)}{sums[m]:.3f}**"
                                  if m in sums else "–" for m in methods) + " | "
                     + " | ".join(f"**{pub_sums[k]:.3f}**" for k in ("selfies_vae_bo", "graph_ga", "reinvent")) + " |")
        for m in methods:  # a method that has not run every task is compared on the tasks it ran
            ran = [t for t in tasks if (t, m) in stats.index]
            beat_vae = sum(means.loc[t, m] >= published.loc[t, "selfies_vae_bo"] for t in ran)
            beat_reinvent = sum(means.loc[t, m] >= published.loc[t, "reinvent"] for t in ran)
            lines.append(f"- {m}: at or above PMO's SELFIES-VAE-BO on {beat_vae} of {len(ran)} tasks, "
                         f"at or above REINVENT on {beat_reinvent}"
                         + ("" if m in complete else
                            f"; sum over its {len(ran)} tasks {means.loc[ran, m].sum():.3f} against REINVENT's "
                            f"{published.loc[ran, 'reinvent'].sum():.3f} on the same tasks"))
        for learner, frozen in COMPARE:
            both = [t for t in tasks if (t, learner) in stats.index and (t, frozen) in stats.index]
            if both:
                gap = means.loc[both, learner] - means.loc[both, frozen]
                lines.append(f"- {learner} against {frozen} on the {len(both)} tasks both ran: {gap_summary(gap)}")
        for variant, method in PAIRED:
            lines += paired(part, variant, method)
        for m in methods:  # the seed spread, on the tasks every seed of the method has run
            lines += seed_spread(part[part.method == m], m, means, COMPARE)
        if len(short):  # PMO's AUC holds a short run's last value: a lower bound where time, not the search, ended it
            lines.append("- stopped before the budget: " + "; ".join(
                f"{r.method} {r.task} seed {r.seed} at {r.calls:,} calls "
                f"({r.stopped if isinstance(r.stopped, str) else 'reason not recorded'})" for r in short.itertuples())
                + (" (≥: cut short by --time-limit-minutes, so the AUC is a lower bound)" if timed_out else ""))
        seconds = part.groupby("method").seconds.median()
        lines.append("- median wall time per run (s): " + ", ".join(f"{m} {seconds[m]:.0f}" for m in methods))
        lines.append("")
    text = "\n".join(lines)
    (out / "report.md").write_text(text)
    return text


def main() -> None:
    from molvae.optimize.scorers import PMO_TASKS

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(Path.home() / "molvae-runs" / "pmo"), help="results folder (resumable)")
    ap.add_argument("--tasks", nargs="+", default=list(PMO_TASKS), choices=PMO_TASKS, metavar="TASK")
    ap.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    ap.add_argument("--seeds", nargs="+", type=int, default=[0])
    ap.add_argument("--scoring", nargs="+", default=["pmo2022"], choices=["pmo2022", "current"])
    ap.add_argument("--budget", type=int, default=10_000, help="oracle calls per run (PMO: 10,000)")
    ap.add_argument("--time-limit-minutes", type=float, metavar="N",
                    help="stop a run at its first round after N minutes (its AUC, the last value held, "
                         "is then a lower bound; the row says so in `stopped`)")
    ap.add_argument("-m", "--model", default=None, help="checkpoint (default: the shipped model)")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    ap.add_argument("--report", action="store_true", help="only rewrite the report from results.csv")
    ap.add_argument("--merge", nargs="+", default=[], metavar="FOLDER",
                    help="first fold these results folders (of runs done side by side) into OUT")
    args = ap.parse_args()

    import torch

    from molvae.api import MolVAE
    from molvae.optimize.scorers import PMO2022_SCORING

    torch.set_num_threads(args.threads)
    out = Path(args.out).expanduser()
    (out / "runs").mkdir(parents=True, exist_ok=True)
    path = out / "results.csv"
    results = pd.read_csv(path) if path.is_file() else pd.DataFrame()
    if args.merge:
        results = merge(results, out, [Path(f).expanduser() for f in args.merge])
        write_results(results, path)
    if not args.report:
        vae = MolVAE.load(args.model, device="cpu")
        train = None
        done = set(zip(results.scoring, results.task, results.method, results.seed)) if len(results) else set()
        for scoring in args.scoring:
            for task in args.tasks:
                if scoring == "current" and "pmo2022" in args.scoring and task not in PMO2022_SCORING:
                    continue  # the same function under both names: run once, as pmo2022
                for method in args.methods:
                    for seed in args.seeds:
                        if (scoring, task, method, seed) in done:
                            continue
                        if method == "screening" and train is None:
                            from molvae.io import read_smiles, resolve_data_path

                            train = read_smiles(resolve_data_path("moses:train")).tolist()
                        start = time.perf_counter()
                        table = run_one(vae, task, scoring, method, seed, args.budget, train, args.time_limit_minutes)
                        row = {"scoring": scoring, "task": task, "method": method, "seed": seed, "budget": args.budget,
                               **figures(table, args.budget), "seconds": round(time.perf_counter() - start, 1),
                               "stopped": table.attrs["stopped"]}
                        table.to_csv(out / "runs" / run_name(scoring, task, method, seed), index=False)
                        results = pd.concat([results, pd.DataFrame([row])], ignore_index=True)
                        write_results(results, path)
                        print(f"{scoring} {task} {method} seed {seed}: AUC top-10 {row['auc_top10']:.3f}, "
                              f"top-1 {row['top1']:.3f}, {row['calls']} calls, {row['seconds']:.0f} s", flush=True)
    if len(results):
        print(report(results, out))
        write_json(out / "bench_pmo.json", script_provenance(settings=vars(args), rows=len(results)))


if __name__ == "__main__":
    main()
