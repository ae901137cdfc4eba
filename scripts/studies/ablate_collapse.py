"""Which defences against posterior collapse matter: KL annealing and word dropout, ablated.

    python scripts/studies/ablate_collapse.py --epochs 3 --limit 100000      # CPU: about 15 minutes per variant

Trains each variant for the same budget (minutes, or epochs with --epochs) on the same seeded
MOSES-train subset, then scores the model at the end of the budget (last.pt): KL, active units, I(x; z) and exact greedy reconstruction on 1,000 MOSES-test molecules
(`molvae diagnose`), and validity, uniqueness and novelty of 1,000 prior samples, all draws kept.

Variants (everything else at molvae's defaults):
- ``neither``       constant KL weight (the final beta from the first step), no word dropout
- ``annealing``     the default KL warm-up, no word dropout
- ``word dropout``  constant KL weight, the default word dropout
- ``both``          the defaults
- ``both + free bits``  the defaults with free bits (0.1 nats per dimension)
- ``both, beta 0.5``    the defaults with the previous default KL weight, 0.5

Writes OUT/ablation.csv, OUT/ablation.json (with the command) and OUT/ablation.png.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # scripts/harness.py, shared by the benchmarks and studies
from harness import add_budget_flags, run_variants, save_results, train_variant

VARIANTS = {
    "neither": ["--schedule", "constant", "--word-dropout", "0"],
    "annealing": ["--word-dropout", "0"],
    "word dropout": ["--schedule", "constant"],
    "both": [],
    "both + free bits": ["--free-bits", "0.1"],
    "both, beta 0.5": ["--beta", "0.5"],
}


def run_variant(name: str, flags: list[str], args, out: Path) -> dict:
    from molvae.api import MolVAE
    from molvae.data import canonical_set
    from molvae.io import read_smiles, resolve_data_path
    from molvae.space import diagnose

    run = out / name.replace(" ", "_").replace("+", "plus")
    train_variant(run, args, flags)
    # The model at the end of the budget: every variant gets the same compute. (best.pt can be an
    # earlier epoch, chosen by the validation objective.)
    vae = MolVAE.load(run / "last.pt")
    test = read_smiles(resolve_data_path("moses:test")).iloc[: args.n].tolist()
    figures, _, _ = diagnose(vae, test)
    samples = vae.sample(args.n, seed=0, valid_only=False)
    valid = samples.smiles[samples.valid]
    unique = set(valid)
    train = canonical_set(resolve_data_path(args.data))
    log = pd.read_csv(run / "log.csv").iloc[-1]
    return {"variant": name, "epochs": float(log.epoch), "kl": figures["kl"], "active_units": figures["active_units"],
            "active_fraction": figures["active_fraction"], "dims_over_0.1_nats": figures["dims_over_0.1_nats"],
            "mutual_info": figures["mutual_info"], "val_recon_nats": float(log.val_recon),
            "recon_exact": figures["recon_exact"], "validity": samples.attrs["raw_validity"],
            "uniqueness": len(unique) / max(len(valid), 1), "novelty": len(unique - train) / max(len(unique), 1)}


def plot(table: pd.DataFrame, path: Path) -> None:
    from molvae.plots import bar_panels

    panels = [("KL (nats)", table.kl), ("dimensions over 0.1 nats", table["dims_over_0.1_nats"]),
              ("exact reconstruction", table.recon_exact), ("active units (fraction)", table.active_fraction)]
    bar_panels(table.variant.tolist(), panels, path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_budget_flags(ap, limit=100_000, out="runs/ablate_collapse")
    ap.add_argument("-n", type=int, default=1000, help="test molecules and prior samples per variant")
    args = ap.parse_args()
    out = Path(args.out)
    table = run_variants(VARIANTS, lambda name: run_variant(name, VARIANTS[name], args, out), args, out / "ablation.csv")
    plot(table, out / "ablation.png")
    save_results(table, out / "ablation.csv")
    print(f"wrote {out / 'ablation.csv'}, {out / 'ablation.json'}, {out / 'ablation.png'}")


if __name__ == "__main__":
    main()
