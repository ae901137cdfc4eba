"""Which recipe gives prior samples from the data's distribution, and what does it cost in reconstruction?

    python scripts/studies/study_quality.py --out ~/molvae-runs/quality          # every variant, resumable
    python scripts/studies/study_quality.py --out ~/molvae-runs/quality --only ft_beta1.8 --rescore
    python scripts/studies/study_quality.py --out ~/molvae-runs/quality --report  # table + Pareto figure only

Each variant trains for the same number of molecules (``--limit`` molecules x ``--epochs``) on the
same seeded MOSES-train subset, either from scratch or fine-tuned from the shipped model's weights
(``--init-from``, KL weight constant from the first step). Every variant is then scored at the end
of its budget (last.pt) on:

- 10,000 prior samples (stochastic decoding, temperature 1): FCD/Test, SNN/Test, Scaf/Test,
  Filters, novelty, unique@10k, mean SA; and the *same draws* decoded under relaxed SELFIES
  valence constraints with the molecules RDKit refuses discarded (``relaxed_*`` columns, with the
  discarded fraction), which tests whether dropping SELFIES' silent repairs helps;
- exact greedy reconstruction of 1,000 MOSES-test molecules, KL and active units on them;
- training molecules/s (from the run's log, or from its checkpoint inside its first epoch).

KL weights are in molvae's form: the token cross-entropy is summed over a molecule's tokens, so the
MOSES VAE's recipe (mean over tokens, KL weight 0.05) is beta = 0.05 x ~36 tokens ~ 1.8 here.

Writes OUT/study.csv (a row per variant, appended as each finishes: a stopped study keeps its
rows, and a variant stopped mid-training resumes from its last.pt), OUT/study.json (command,
settings, rows) and OUT/pareto.png (FCD/Test against exact reconstruction).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # scripts/harness.py, shared by the benchmarks and studies
from harness import add_budget_flags, run_variants, save_results, train_variant

from molvae.shipped import shipped_model

SHIPPED = "shipped"  # variant name of the shipped model, scored as is

# name -> (start, flags). start "ft" fine-tunes the shipped weights, "scratch" starts afresh.
VARIANTS: dict[str, tuple[str, list[str]]] = {
    SHIPPED: ("none", []),
    "ft_beta0.15": ("ft", ["--beta", "0.15", "--free-bits", "0"]),
    "ft_beta0.6": ("ft", ["--beta", "0.6", "--free-bits", "0"]),
    "ft_beta1.8": ("ft", ["--beta", "1.8", "--free-bits", "0"]),
    "ft_beta1.8_fb0.25": ("ft", ["--beta", "1.8", "--free-bits", "0.25"]),
    "ft_beta0.6_wd0": ("ft", ["--beta", "0.6", "--free-bits", "0", "--word-dropout", "0"]),  # v0.3's recipe, no word dropout
    # the size levers at the study's budget: the shipped weights grown first (molvae.grow), so
    # that they start out computing what the shipped model computes, then fine-tuned as ft_beta0.6
    "ft_beta0.6_z128": ("ft", ["--beta", "0.6", "--free-bits", "0", "--grow", "latent_dim=128"]),
    "ft_beta0.6_dec3x512": ("ft", ["--beta", "0.6", "--free-bits", "0", "--grow", "decoder_hidden=512,decoder_layers=3"]),
    "scratch_beta0.15": ("scratch", ["--beta", "0.15"]),
    "scratch_beta1.8": ("scratch", ["--beta", "1.8"]),
    "scratch_beta1.8_nofb": ("scratch", ["--beta", "1.8", "--free-bits", "0"]),
    "scratch_beta1.8_dec3x512": ("scratch", ["--beta", "1.8", "--decoder-hidden", "512", "--decoder-layers", "3"]),
    "scratch_beta1.8_z128": ("scratch", ["--beta", "1.8", "--latent-dim", "128"]),
    "scratch_beta1.8_wd0": ("scratch", ["--beta", "1.8", "--word-dropout", "0"]),
    # trained on a lent GPU by scripts/release/gpu_quality.sh (minutes, not molecules), scored here
    "gpu_ft_beta0.6": ("ft", ["--beta", "0.6", "--free-bits", "0"]),
    "gpu_ft_beta1.8": ("ft", ["--beta", "1.8", "--free-bits", "0"]),
    "gpu_ft_beta1.8_fb0.25": ("ft", ["--beta", "1.8", "--free-bits", "0.25"]),
    "gpu_v06": ("ft", ["--beta", "0.6", "--free-bits", "0", "--word-dropout", "0"]),  # continues molvae-moses-v0.9
    "gpu_scratch_beta0.6": ("scratch", ["--beta", "0.6"]),
    "gpu_scratch_beta0.6_dec3x512": ("scratch", ["--beta", "0.6", "--decoder-hidden", "512", "--decoder-layers", "3"]),
    "gpu_scratch_beta0.6_z128": ("scratch", ["--beta", "0.6", "--latent-dim", "128"]),
    "gpu_scratch_beta0.6_wd0": ("scratch", ["--beta", "0.6", "--word-dropout", "0"]),
    # the v0.3 candidate trained on all of MOSES-train in the background on the CPU, session after
    # session (docs/quality.md, "How to continue"); scored here from its latest last.pt with --rescore
    "cpu_full_ft_beta0.6": ("ft", ["--beta", "0.6", "--free-bits", "0"]),
    # molvae-moses-v0.3's weights trained on without word dropout: shipped at step 1,624 as molvae-moses-v0.4
    "cpu_full_v03_wd0": ("ft", ["--beta", "0.6", "--free-bits", "0", "--word-dropout", "0"]),
}
ELSEWHERE = ("gpu_", "cpu_full_")  # variants trained by another command, only scored here


def variant_flags(start: str, flags: list[str], args) -> list[str]:
    """The molvae train flags of a variant: how it starts, then its own settings."""
    if start == "ft":
        init = ["--init-from", args.shipped, "--schedule", "constant", "--lr", str(args.ft_lr)]
    else:
        init = ["--warmup-epochs", str(args.warmup_epochs)]
    return ["--threads", str(args.threads), "--checkpoint-minutes", "3", *init, *flags]


def training_progress(run: Path) -> dict[str, float]:
    """Epochs trained and molecules/s of a run, as far as it has got: the further of its log.csv's
    last row and its last.pt (a long run is scored while it trains, between its epochs)."""
    from molvae.checkpoint import load_checkpoint

    checkpoint = load_checkpoint(run / "last.pt")
    state, meta = checkpoint["training"], checkpoint["meta"]
    world = state.get("world_size") or 1
    batches = -(-meta["data"]["n_train"] // meta["run_config"]["train"]["batch_size"])  # in an epoch
    row = {"epochs": state["epoch"] + state["batch_in_epoch"] / (batches // world)}  # epoch: those finished
    if (run / "log.csv").is_file():
        log = pd.read_csv(run / "log.csv")
        row = {"epochs": max(row["epochs"], float(log.epoch.iloc[-1])),
               "train_mol_per_s": float(log.train_mol_per_s.mean())}
    elif state["elapsed"]:  # inside the first epoch: the molecules it has seen over its time so far
        row["train_mol_per_s"] = state["partial_n"] * world / state["elapsed"]
    return row


def score(vae, args, refs, train_set, test) -> dict[str, float]:
    """The study's figures for one model (see the module docstring)."""
    from molvae.space import diagnose
    from molvae.chem import decode_many, relaxed_constraints
    from molvae.metrics import evaluate
    from molvae.properties import compute

    figures, _, _ = diagnose(vae, test)
    row = {"recon_exact": figures["recon_exact"], "kl": figures["kl"], "active_units": figures["active_units"],
           "active_fraction": figures["active_fraction"]}
    start = time.perf_counter()
    # N(0, I) for every variant, the shipped one included (it carries a code bank since v0.2.1): the
    # study compares training recipes; scripts/studies/study_code_prior.py measures the bank
    draws = vae.sample(args.n, seed=args.seed, valid_only=False, batch_size=1000, prior="normal")
    row["sample_seconds"] = time.perf_counter() - start
    smiles = [s for s in draws.smiles if s]
    result = evaluate(smiles, refs, train_set, ks=(10_000,), workers=args.workers, progress=False)
    row.update({k: result[k] for k in ("valid", "unique@10k", "FCD/Test", "SNN/Test", "Scaf/Test", "Filters", "Novelty")})
    row["valid"] = float(draws.valid.mean())
    row["mean_sa"] = float(np.nanmean(compute(smiles, ["sa"], workers=args.workers)["sa"]))
    for extra in args.relax:
        relaxed = decode_many(draws.selfies.tolist(), relaxed_constraints(vae.constraints, extra))
        kept = [s for s in relaxed if s]
        res = evaluate(kept, refs, train_set, ks=(10_000,), workers=args.workers, progress=False)
        tag = f"relaxed{extra}_"
        row[tag + "discarded"] = 1 - len(kept) / len(relaxed)
        row.update({tag + k: res[k] for k in ("FCD/Test", "SNN/Test", "Scaf/Test", "Filters", "Novelty")})
    return row


def pareto(table: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 5))
    for kind, marker in (("none", "*"), ("ft", "o"), ("scratch", "s")):
        part = table[table.start == kind]
        ax.scatter(part.recon_exact, part["FCD/Test"], marker=marker, s=60,
                   label={"none": "shipped", "ft": "fine-tuned from shipped", "scratch": "from scratch"}[kind])
        for _, r in part.iterrows():
            ax.annotate(r.variant, (r.recon_exact, r["FCD/Test"]), fontsize=7, xytext=(4, 2), textcoords="offset points")
    front = table.sort_values("recon_exact", ascending=False)
    best, keep = np.inf, []
    for _, r in front.iterrows():  # non-dominated: no other variant has both higher reconstruction and lower FCD
        if r["FCD/Test"] < best:
            best = r["FCD/Test"]
            keep.append(r)
    if keep:
        f = pd.DataFrame(keep)
        ax.plot(f.recon_exact, f["FCD/Test"], "k--", lw=0.8, label="Pareto front")
    ax.set_xlabel("exact reconstruction (1,000 MOSES-test molecules)")
    ax.set_ylabel("FCD/Test (10,000 prior samples; lower is better)")
    ax.set_yscale("log")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_budget_flags(ap, limit=100_000, out=str(Path.home() / "molvae-runs" / "quality"))
    ap.set_defaults(epochs=1)
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads for training and scoring")
    ap.add_argument("--workers", type=int, default=1, help="processes for the RDKit side of scoring")
    ap.add_argument("--warmup-epochs", type=float, default=0.3, help="KL warm-up of the from-scratch variants")
    ap.add_argument("--ft-lr", type=float, default=5e-4, help="learning rate of the fine-tuned variants")
    ap.add_argument("--shipped", default=str(shipped_model("molvae-moses-v0.2.1").path),
                    help="the weights fine-tuned from (v0.2's, with a code bank the study does not use)")
    ap.add_argument("-n", type=int, default=10_000, help="prior samples scored per variant")
    ap.add_argument("--test", type=int, default=1000, help="MOSES-test molecules reconstructed")
    ap.add_argument("--relax", type=int, nargs="*", default=[1], help="extra bond capacities for the relaxed decoding")
    ap.add_argument("--seed", type=int, default=0, help="sampling seed")
    ap.add_argument("--report", action="store_true", help="only redraw the table and figure from study.csv")
    args = ap.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    out = Path(args.out).expanduser()
    table_path = out / "study.csv"
    table = pd.read_csv(table_path) if table_path.is_file() else pd.DataFrame()
    unknown = set(args.only or ()) - set(VARIANTS)
    if unknown:
        raise SystemExit(f"unknown variant(s) {sorted(unknown)}; known: {', '.join(VARIANTS)}")
    if not args.report:
        from molvae.api import MolVAE
        from molvae.data import canonical_set
        from molvae.io import read_smiles, resolve_data_path
        from molvae.metrics import load_reference

        refs = {"Test": load_reference("moses:test", workers=args.workers, progress=False)}
        train_set = canonical_set(resolve_data_path("moses:train"), workers=args.workers, progress=False)
        test = read_smiles(resolve_data_path("moses:test")).iloc[: args.test].tolist()

        def run_one(name: str) -> dict:
            start, flags = VARIANTS[name]
            run = out / name
            row = {"variant": name, "start": start, "flags": " ".join(flags)}
            if start == "none":
                vae = MolVAE.load(args.shipped, device="cpu")
            else:
                train_variant(run, args, variant_flags(start, flags, args))
                vae = MolVAE.load(run / "last.pt", device="cpu")
                row.update(training_progress(run))
            started = time.perf_counter()
            row.update(score(vae, args, refs, train_set, test))
            row["score_seconds"] = time.perf_counter() - started
            print(pd.DataFrame([row]).round(4).T.to_string(), flush=True)
            return row

        cpu_variants = [name for name in VARIANTS if not name.startswith(ELSEWHERE)]
        table = run_variants(args.only or cpu_variants, run_one, args, table_path, done=table)
    if len(table):
        pareto(table, out / "pareto.png")
        save_results(table, table_path, settings=vars(args))
        print(f"wrote {table_path}, {table_path.with_suffix('.json')} and {out / 'pareto.png'}")


if __name__ == "__main__":
    main()
