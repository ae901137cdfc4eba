"""A short training run on MOSES and what it reaches: the figures quoted in docs/metrics.md.

    python scripts/benchmarks/short_run.py --limit 100000 --epochs 3 --out runs/short

Trains with the default model and recipe on a random MOSES-train subset (unless the run folder
already holds a finished run), then prints one table: training throughput, reconstruction
accuracy on 1,000 MOSES-test molecules, and validity / uniqueness / novelty of 1,000 prior samples.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import pandas as pd
import torch

from molvae.api import MolVAE, train
from molvae.checkpoint import load_checkpoint
from molvae.config import load_config
from molvae.data import canonical_set
from molvae.io import read_smiles, resolve_data_path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=100_000, help="training molecules drawn from moses:train")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--out", default="runs/short")
    ap.add_argument("--config", help="TOML run file (flags above override it)")
    ap.add_argument("-n", type=int, default=1000, help="test molecules and prior samples")
    args = ap.parse_args()

    out = Path(args.out)
    config = load_config(args.config, {"data.limit": args.limit, "train.epochs": args.epochs})
    last = out / "last.pt"
    done = last.is_file() and load_checkpoint(last)["training"]["epoch"] >= args.epochs
    if not done:
        train(config, out, resume=last if last.is_file() else None)
    log = pd.read_csv(out / "log.csv")

    vae = MolVAE.load(out / "best.pt")
    test = read_smiles(resolve_data_path("moses:test")).sample(args.n, random_state=0).tolist()
    recon = vae.reconstruct(test)
    start = time.perf_counter()
    samples = vae.sample(args.n, seed=0, valid_only=False)
    sample_rate = args.n / (time.perf_counter() - start)
    samples.to_csv(out / "samples.csv", index=False)
    valid = samples[samples.valid].smiles
    train_set = canonical_set(resolve_data_path("moses:train"))  # novelty on canonical SMILES (cached)
    novel = (~valid.drop_duplicates().isin(train_set)).mean()

    rows = {
        "hardware": f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads",
        "training molecules": int(load_checkpoint(out / 'best.pt')["meta"]["data"]["n_train"]),
        "epochs": int(log.epoch.max()),
        "train throughput (mol/s, mean over epochs)": round(float(log.train_mol_per_s.mean()), 1),
        "wall time (s)": round(float(log.elapsed_s.max()), 1),
        "val token accuracy (last epoch)": round(float(log.val_token_acc.iloc[-1]), 4),
        "val KL (nats, last epoch)": round(float(log.val_kl.iloc[-1]), 2),
        f"reconstruction exact match ({args.n} test)": round(float(recon[recon.reason == ""].exact.mean()), 4),
        "sampling throughput (mol/s, to canonical SMILES)": round(sample_rate, 1),
        f"validity ({args.n} prior samples)": round(float(samples.valid.mean()), 4),
        "uniqueness (of valid)": round(float(valid.nunique() / max(len(valid), 1)), 4),
        "novelty (unique valid not in train)": round(float(novel), 4),
    }
    width = max(map(len, rows))
    for k, v in rows.items():
        print(f"{k:<{width}}  {v}")
    (out / "short_run.json").write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
