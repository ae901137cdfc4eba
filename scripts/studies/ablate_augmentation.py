"""Does randomized-SMILES augmentation give a better latent space? Ablated at equal budget.

    python scripts/studies/ablate_augmentation.py --epochs 2 --limit 50000          # CPU: about 10 minutes per variant

Each variant trains molvae's defaults on the same seeded MOSES-train subset for the same budget,
differing only in ``--augment`` (none, input, target, both; ``--augment-spellings`` random spellings
per molecule), and is scored at the end of its budget (last.pt):

- reconstruction: exact canonical-SMILES match of greedy decoding, 1,000 MOSES-test molecules, from
  the canonical input and (``recon_spelled``) from the mean over the canonical and 4 random spellings;
- active units and KL on 2,000 MOSES-test molecules (``molvae diagnose``);
- latent smoothness: 300 test molecules, 5 neighbours each at distance 1 from the posterior mean,
  decoded; the mean Tanimoto similarity (Morgan r=2) of a neighbour to the decoded centre, and the
  share of neighbours that are the centre's molecule;
- the MOSES metrics of 10,000 prior samples (FCD/Test, SNN, Frag, Scaf, IntDiv, Filters, novelty);
- the QED optimization benchmark: CMA-ES, 300 oracle calls, top-1/3 and top-10 AUC;
- training speed (molecules/s, the mean over the run's log).

Writes OUT/augmentation.csv, OUT/augmentation.json (with the command) and OUT/augmentation.png.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # scripts/harness.py, shared by the benchmarks and studies
from harness import add_budget_flags, run_variants, save_results, train_variant

VARIANTS = ("none", "input", "target", "both")


def smoothness(vae, smiles: list[str], k: int = 5, radius: float = 1.0, seed: int = 0) -> dict[str, float]:
    """Decode k points at `radius` around each molecule's posterior mean; similarity to the decoded centre."""
    from molvae import properties as props

    mu = vae.encode(smiles, errors="nan")
    mu = mu[~np.isnan(mu).any(axis=1)]
    centres = vae.decode(mu)
    eps = np.random.default_rng(seed).standard_normal((len(mu), k, mu.shape[1]))
    eps *= radius / np.linalg.norm(eps, axis=-1, keepdims=True)
    around = vae.decode((mu[:, None, :] + eps).reshape(-1, mu.shape[1]).astype(np.float32))
    sims, same = [], []
    for i, centre in enumerate(centres):
        near = around[i * k : (i + 1) * k]
        if centre:
            sims += props.tanimoto(near, centre)
            same += [n == centre for n in near]
    sims = np.asarray(sims, float)
    return {"neighbour_similarity": float(np.nanmean(sims)), "neighbour_same": float(np.mean(same))}


def run_variant(mode: str, args, out: Path, train_set: set[str]) -> dict:
    from molvae.api import MolVAE
    from molvae.space import diagnose
    from molvae.io import read_smiles, resolve_data_path
    from molvae.metrics import evaluate, load_reference
    from molvae.optimize import Objective, SearchConfig, Term, optimize, summary, top_k_auc

    run = out / mode
    train_variant(run, args, ["--augment", mode, "--augment-spellings", str(args.spellings)])
    vae = MolVAE.load(run / "last.pt")
    log = pd.read_csv(run / "log.csv")
    test = read_smiles(resolve_data_path("moses:test")).iloc[:2000].tolist()
    row: dict = {"variant": mode, "epochs": float(log.epoch.iloc[-1]), "train_mol_per_s": float(log.train_mol_per_s.mean())}
    figures, _, _ = diagnose(vae, test)
    row.update(kl=figures["kl"], active_units=figures["active_units"], dims_over_01=figures["dims_over_0.1_nats"])
    row["recon_exact"] = float(vae.reconstruct(test[:1000]).exact.mean())
    row["recon_spelled"] = float(vae.reconstruct(test[:1000], spellings=4).exact.mean())
    row.update(smoothness(vae, test[:300]))
    samples = vae.sample(args.samples, seed=0, valid_only=False)
    metrics = evaluate(samples.smiles[samples.valid].tolist(), {"Test": load_reference("moses:test", progress=False)},
                       train_set, progress=False)
    row["validity"] = samples.attrs["raw_validity"]
    row.update({k: metrics[k] for k in ("unique@10k", "FCD/Test", "SNN/Test", "Frag/Test", "Scaf/Test", "IntDiv",
                                         "Filters", "Novelty") if k in metrics})
    table = optimize(vae, Objective([Term("qed")]), SearchConfig(method="cmaes", budget=args.qed_budget, seed=0))
    best = summary(table)
    row.update(qed_top1=best["top1"], qed_top3=best["top3"], qed_auc_top10=top_k_auc(table, args.qed_budget))
    print(json.dumps(row, default=float), flush=True)
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_budget_flags(ap, limit=50_000, out="runs/ablate_augmentation")
    ap.add_argument("--spellings", type=int, default=4, help="random spellings per molecule (--augment-spellings)")
    ap.add_argument("--samples", type=int, default=10_000, help="prior samples for the MOSES metrics")
    ap.add_argument("--qed-budget", type=int, default=300, help="oracle calls of the QED optimization")
    args = ap.parse_args()
    from molvae.data import canonical_set
    from molvae.io import resolve_data_path
    from molvae.plots import bar_panels

    out = Path(args.out)
    train_set = canonical_set(resolve_data_path(args.data))
    table = run_variants(VARIANTS, lambda mode: run_variant(mode, args, out, train_set), args, out / "augmentation.csv")
    if "none" in set(table.variant):
        table["speed_vs_none"] = table.train_mol_per_s / float(table.set_index("variant").train_mol_per_s["none"])
    table.to_csv(out / "augmentation.csv", index=False)
    bar_panels(table.variant.tolist(), [("exact reconstruction", table.recon_exact), ("active units", table.active_units),
                                        ("neighbour similarity", table.neighbour_similarity), ("FCD/Test", table["FCD/Test"]),
                                        ("QED top-10 AUC", table.qed_auc_top10)], out / "augmentation.png")
    save_results(table, out / "augmentation.csv")
    print(f"wrote {out / 'augmentation.csv'}, {out / 'augmentation.json'}, {out / 'augmentation.png'}")


if __name__ == "__main__":
    main()
