"""Quality at an equal wall-clock budget: molvae and the MOSES VAE each train for the same minutes on
MOSES-train, sample 10,000 molecules from the prior, and are scored by ``molvae evaluate``.

    python scripts/benchmarks/bench_budget.py --minutes 20            # CPU: about 50 minutes in all
    python scripts/benchmarks/bench_budget.py --minutes 5 --device cuda

molvae trains with ``molvae train`` at its defaults plus ``--time-limit-minutes``. The peer
(``molsets==0.3.1``, see scripts/benchmarks/moses_peer.py) trains with its own epoch loop and defaults; its
KL-weight and learning-rate schedules are defined over 100 epochs, of which a short budget sees
only the start (KL weight 0), so the peer gets its schedule compressed into the budget: the KL
weight rises linearly from 0 to its final 0.05 over the budget (the most favourable reading).
Both sample with every draw kept, so validity is measured, not enforced.

Writes into --out (default runs/bench_budget): each system's samples and metrics, and
budget.csv / budget.json with the table side by side and the command that made it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # scripts/harness.py, shared by the benchmarks and studies
from harness import script_provenance
from molvae.io import write_json


def train_molvae(out: Path, minutes: float, device: str, extra: list[str]) -> dict:
    run = out / "molvae_run"
    cmd = [sys.executable, "-m", "molvae", "train", "-o", str(run), "--time-limit-minutes", str(minutes),
           "--epochs", "1000", "--device", device, "-q", *extra]
    start = time.perf_counter()
    subprocess.run(cmd, check=True)
    trained = time.perf_counter() - start
    from molvae.api import MolVAE

    vae = MolVAE.load(run / "best.pt", device=device)
    return {"model": vae, "seconds": trained, "log": pd.read_csv(run / "log.csv")}


def train_peer(minutes: float, device: str, threads: int) -> dict:
    import torch
    from tqdm import tqdm

    from molvae.io import read_smiles, resolve_data_path
    from moses_peer import peer_training

    torch.set_num_threads(threads)
    data = read_smiles(resolve_data_path("moses:train")).tolist()
    model, trainer, loader, optimizer, config = peer_training(data, device)
    budget, start, seen = 60 * minutes, time.perf_counter(), 0
    batches = iter(loader)
    slices = 20  # the KL weight steps up once per slice of the budget
    for i in range(slices):
        kl_w = config.kl_w_start + (config.kl_w_end - config.kl_w_start) * i / (slices - 1)
        end = start + budget * (i + 1) / slices

        def until(stop):
            nonlocal batches, seen
            while time.perf_counter() < stop:
                try:
                    batch = next(batches)
                except StopIteration:
                    batches = iter(loader)
                    continue
                seen += len(batch)
                yield batch

        trainer._train_epoch(model, 0, tqdm(until(end), desc=f"peer slice {i + 1}/{slices}", leave=False), kl_w, optimizer)
    return {"model": model, "seconds": time.perf_counter() - start, "molecules": seen}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=20)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("-n", "--n-sample", type=int, default=10_000)
    ap.add_argument("--out", default="runs/bench_budget")
    ap.add_argument("--molvae-args", default="", help="extra flags for molvae train (quoted)")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    import torch

    torch.manual_seed(0)
    rows = {}

    print(f"== molvae: {args.minutes:g} min of training", flush=True)
    mv = train_molvae(out, args.minutes, args.device, args.molvae_args.split())
    df = mv["model"].sample(args.n_sample, seed=0, valid_only=False, progress=True)
    df[["smiles"]].to_csv(out / "molvae_samples.csv", index=False)
    last = mv["log"].iloc[-1]
    rows["molvae"] = {"train_seconds": mv["seconds"], "epochs": float(last.epoch),
                      "molecules_seen": float(last.epoch) * int(mv["model"].meta["data"]["n_train"])}

    print(f"== MOSES VAE: {args.minutes:g} min of training", flush=True)
    peer = train_peer(args.minutes, args.device, args.threads)
    peer["model"].eval()
    strings: list[str] = []
    while len(strings) < args.n_sample:
        strings += peer["model"].sample(min(512, args.n_sample - len(strings)), max_len=100)
    pd.DataFrame({"smiles": strings}).to_csv(out / "moses_vae_samples.csv", index=False)
    rows["MOSES VAE"] = {"train_seconds": peer["seconds"], "epochs": peer["molecules"] / 1_584_663,
                         "molecules_seen": peer["molecules"]}

    for name, file in (("molvae", "molvae_samples.csv"), ("MOSES VAE", "moses_vae_samples.csv")):
        prefix = out / file.replace("_samples.csv", "_metrics")
        subprocess.run([sys.executable, "-m", "molvae", "evaluate", str(out / file), "-o", str(prefix), "-q",
                        "--device", args.device], check=True)
        rows[name].update(json.loads(prefix.with_suffix(".json").read_text())["metrics"])
    table = pd.DataFrame(rows)
    table.index.name = "metric"
    table.to_csv(out / "budget.csv")
    write_json(out / "budget.json", script_provenance(minutes=args.minutes, device=args.device, threads=args.threads,
                                                      table=rows))
    print(table.to_string(float_format=lambda v: f"{v:.4g}"))
    print(f"wrote {out / 'budget.csv'} and {out / 'budget.json'}")


if __name__ == "__main__":
    main()
