"""Which defences against posterior collapse matter: KL annealing and word dropout, ablated.

    python scripts/ablate_collapse.py --epochs 3 --limit 100000      # CPU: about 15 minutes per variant

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
import json
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

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
    from molvae.space import diagnose
    from molvae.data import canonical_set
    from molvae.io import read_smiles, resolve_data_path

    run = out / name.replace(" ", "_").replace("+", "plus")
    budget = ["--epochs", str(args.epochs)] if args.epochs else ["--epochs", "1000", "--time-limit-minutes", str(args.minutes)]
    # the variant's own flags come last so they override --train-args (argparse keeps the last value)
    cmd = [sys.executable, "-m", "molvae", "train", "--data", args.data, "--limit", str(args.limit), *budget,
           "-o", str(run), "-q", *args.train_args.split(), *flags]
    if not (args.rescore and (run / "last.pt").is_file()):
        subprocess.run(cmd, check=True)
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
    ap.add_argument("--minutes", type=float, default=10, help="training budget per variant (wall clock)")
    ap.add_argument("--epochs", type=int, default=0, help=(
        "training budget per variant in epochs instead of minutes: the same compute for every variant even "
        "when other work shares the CPU"))
    ap.add_argument("--limit", type=int, default=100_000, help="MOSES-train molecules (seeded subset)")
    ap.add_argument("--data", default="moses:train")
    ap.add_argument("-n", type=int, default=1000, help="test molecules and prior samples per variant")
    ap.add_argument("--only", nargs="*", help="only these variants")
    ap.add_argument("--rescore", action="store_true", help="score runs already in OUT (their last.pt) without training again")
    ap.add_argument("--train-args", default="", help="extra flags for every molvae train (quoted)")
    ap.add_argument("--out", default="runs/ablate_collapse")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for name, flags in VARIANTS.items():
        if args.only and name not in args.only:
            continue
        print(f"== {name}: " + (f"{args.epochs} epochs" if args.epochs else f"{args.minutes:g} min"), flush=True)
        rows.append(run_variant(name, flags, args, out))
        pd.DataFrame(rows).to_csv(out / "ablation.csv", index=False)  # partial results survive a stop
    table = pd.DataFrame(rows)
    plot(table, out / "ablation.png")
    info = {"command": "python " + " ".join(sys.argv), "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "rows": rows}
    (out / "ablation.json").write_text(json.dumps(info, indent=2, default=float) + "\n")
    with pd.option_context("display.width", 200):
        print(table.round(4).to_string(index=False))
    print(f"wrote {out / 'ablation.csv'}, {out / 'ablation.json'}, {out / 'ablation.png'}")


if __name__ == "__main__":
    main()
