"""Training, sampling and encoding speed and peak memory: molvae next to the MOSES VAE, in one run.

    python scripts/benchmarks/bench_speed.py                          # CPU, all cores, about 12 minutes
    python scripts/benchmarks/bench_speed.py --device cuda --train-seconds 45

Rows (each in its own process, with the same data and the same number of torch threads):

- ``molvae``            molvae's default model and precision (auto: bf16 where the CPU or GPU has it)
- ``molvae fp32``       the same in fp32
- ``molvae @peer``      molvae configured to the peer's architecture (1-layer encoder of 256,
                        3-layer decoder of 512, latent 128), default precision
- ``molvae @peer fp32`` the same in fp32
- ``MOSES VAE``         ``molsets==0.3.1``'s VAE at its defaults, trained by its own ``_train_epoch``
- ``molvae full MOSES`` molvae's default model training on all 1.58M MOSES molecules (peak memory)

Training: molecules/s over ``--train-seconds`` of training on a seeded sample of MOSES-train
(molvae through ``molvae.trainer`` with a time limit; the peer through its trainer's epoch loop).
Sampling: prior draws/s to canonical SMILES (RDKit) from the model just trained, all draws kept.
Encoding: SMILES/s to latent means for MOSES-test molecules (molvae's includes RDKit
canonicalization and SELFIES encoding; the peer reads SMILES characters as they are).
Peak memory: the process's maximum resident set (and GPU memory on CUDA).

Writes PREFIX.csv (one row per system), PREFIX.json (rows, ratios, machine, command) and
prints a markdown table with the ratios molvae / MOSES VAE.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # scripts/harness.py, shared by the benchmarks and studies
from harness import script_provenance
from molvae.io import write_json

PEER_ARCH = {"model.encoder_hidden": 256, "model.encoder_layers": 1, "model.decoder_hidden": 512,
             "model.decoder_layers": 3, "model.latent_dim": 128}
ROWS = [
    ("molvae", {"system": "molvae", "arch": {}, "precision": "auto"}),
    ("molvae fp32", {"system": "molvae", "arch": {}, "precision": "fp32"}),
    ("molvae @peer", {"system": "molvae", "arch": PEER_ARCH, "precision": "auto"}),
    ("molvae @peer fp32", {"system": "molvae", "arch": PEER_ARCH, "precision": "fp32"}),
    ("MOSES VAE", {"system": "moses"}),
]


# ------------------------------------------------------------------ one measurement (child process)


def peak_memory(device: str) -> dict[str, float]:
    out = {"peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
    if device.startswith("cuda"):
        import torch

        out["peak_gpu_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    return out


def child_molvae(job: dict) -> dict:
    import torch

    from molvae.api import MolVAE, train
    from molvae.config import load_config

    out_dir = Path(job["workdir"]) / job["name"].replace(" ", "_").replace("@", "")
    overrides = {"data.train": job["train"], "data.val_fraction": 0.0, "data.workers": job["threads"],
                 "train.epochs": 1000, "train.time_limit_minutes": job["train_seconds"] / 60,
                 "train.precision": job["precision"], "train.device": job["device"], "train.threads": job["threads"],
                 "train.checkpoint_minutes": 1000.0, **job["arch"]}
    if job["batch_size"]:
        overrides["train.batch_size"] = job["batch_size"]
    train(load_config(None, overrides), out_dir, progress=False)
    log = pd.read_csv(out_dir / "log.csv")
    result = {"train_mol_per_s": float(log.train_mol_per_s.iloc[-1]), "trained_molecules": int(log.step.iloc[-1])
              * (job["batch_size"] or 256), "data_wait_fraction": float(log.data_wait_fraction.iloc[-1])}
    if job.get("train_only"):
        return result
    vae = MolVAE.load(out_dir / "best.pt", device=job["device"], precision=job["precision"])
    torch.manual_seed(0)
    vae.sample(256, seed=1, valid_only=False)  # warm-up
    start = time.perf_counter()
    df = vae.sample(job["n_sample"], seed=0, valid_only=False, workers=job["sample_workers"])
    seconds = time.perf_counter() - start
    result.update(sample_mol_per_s=job["n_sample"] / seconds, sample_validity=float(df.valid.mean()),
                  sample_mean_atoms_proxy=float(df.selfies.str.count(r"\[").mean()))
    smiles = Path(job["encode"]).read_text().split()
    vae.encode(smiles[:256], errors="nan")  # warm-up
    start = time.perf_counter()
    vae.encode(smiles, errors="nan")
    result["encode_mol_per_s"] = len(smiles) / (time.perf_counter() - start)
    return result


def child_moses(job: dict) -> dict:
    import torch
    from tqdm import tqdm

    from molvae.chem import canonical_many, quiet_rdkit
    from molvae.io import read_smiles
    from moses_peer import peer_training

    device = torch.device(job["device"] if job["device"] != "auto" else ("cuda" if torch.cuda.is_available() else "cpu"))
    data = read_smiles(Path(job["train"])).tolist()
    model, trainer, loader, optimizer, config = peer_training(data, device)
    seen = {"n": 0}

    def timed(batches, seconds: float):
        start = time.perf_counter()
        for batch in batches:
            seen["n"] += len(batch)
            yield batch
            if time.perf_counter() - start > seconds:
                return

    warm = iter(loader)
    trainer._train_epoch(model, 0, tqdm(timed(warm, 0), disable=True), 0.0, optimizer)  # one warm-up batch
    seen["n"] = 0
    start = time.perf_counter()
    while time.perf_counter() - start < job["train_seconds"]:
        left = job["train_seconds"] - (time.perf_counter() - start)
        trainer._train_epoch(model, 0, tqdm(timed(iter(loader), left), disable=True), 0.0, optimizer)
    if device.type == "cuda":
        torch.cuda.synchronize()
    result = {"train_mol_per_s": seen["n"] / (time.perf_counter() - start), "trained_molecules": seen["n"]}

    model.eval()
    n = job["n_sample_peer"]
    model.sample(64, max_len=100)  # warm-up
    start = time.perf_counter()
    strings: list[str] = []
    while len(strings) < n:
        strings += model.sample(min(config.n_batch, n - len(strings)), max_len=100)
    with quiet_rdkit():
        canonical = canonical_many(strings)
    seconds = time.perf_counter() - start
    result.update(sample_mol_per_s=n / seconds, sample_validity=sum(c is not None for c in canonical) / n)

    smiles = Path(job["encode"]).read_text().split()
    start = time.perf_counter()
    with torch.no_grad():
        for i in range(0, len(smiles), config.n_batch):
            chunk = sorted(smiles[i : i + config.n_batch], key=len, reverse=True)  # pack_sequence wants it sorted
            model.forward_encoder([model.string2tensor(s) for s in chunk])
    if device.type == "cuda":
        torch.cuda.synchronize()
    result["encode_mol_per_s"] = len(smiles) / (time.perf_counter() - start)
    return result


def run_child(job: dict) -> dict:
    import torch

    torch.set_num_threads(job["threads"])
    result = child_moses(job) if job["system"] == "moses" else child_molvae(job)
    result.update(peak_memory(job["device"]))
    return result


# ------------------------------------------------------------------ the whole benchmark (parent)


def measure(name: str, job: dict) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS=str(job["threads"]), PYTHONWARNINGS="ignore")
    job = dict(job, name=name)
    print(f"  {name} ...", flush=True)
    proc = subprocess.run([sys.executable, __file__, "--child", json.dumps(job)], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        print(proc.stderr[-3000:], file=sys.stderr)
        return {"system": name, "error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "failed"}
    return {"system": name, **json.loads(proc.stdout.strip().splitlines()[-1])}


def machine(device: str, threads: int) -> dict:
    import torch

    from molvae.device import cpu_has_native_bf16

    info = {"python": platform.python_version(), "torch": torch.__version__, "cpu": platform.processor() or platform.machine(),
            "cores": os.cpu_count(), "threads": threads, "cpu_native_bf16": cpu_has_native_bf16()}
    try:
        info["cpu"] = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    if device.startswith("cuda") or (device == "auto" and torch.cuda.is_available()):
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a and b else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--device", default="cpu", help="cpu or cuda (default: cpu)")
    ap.add_argument("--threads", type=int, default=os.cpu_count(), help="torch threads (default: all cores)")
    ap.add_argument("--train-seconds", type=float, default=90, help="training time per system (default: 90)")
    ap.add_argument("--train-size", type=int, default=100_000, help="molecules in the training sample")
    ap.add_argument("--batch-size", type=int, default=0, help="molvae batch size (default: molvae's default)")
    ap.add_argument("--n-sample", type=int, default=10_000, help="molvae prior draws to time")
    ap.add_argument("--n-sample-peer", type=int, default=2_000, help="peer prior draws to time (it is slow)")
    ap.add_argument("--sample-workers", type=int, default=-1,
                    help="molvae conversion processes when sampling (default: molvae's default for the request)")
    ap.add_argument("--n-encode", type=int, default=10_000, help="MOSES-test molecules to encode")
    ap.add_argument("--skip-full", action="store_true", help="skip the full-MOSES memory row")
    ap.add_argument("--only", nargs="*", help="only these rows (names as in the table)")
    ap.add_argument("-o", "--out", default=None, help="output prefix (default: docs/bench/speed_<device>)")
    args = ap.parse_args()
    if args.child:
        print(json.dumps(run_child(json.loads(args.child))))
        return

    from molvae.io import read_smiles, resolve_data_path

    workdir = Path(tempfile.mkdtemp(prefix="molvae-bench-"))
    train_csv, encode_txt = workdir / "train.csv", workdir / "encode.txt"
    read_smiles(resolve_data_path("moses:train")).sample(args.train_size, random_state=0).rename("SMILES").to_csv(
        train_csv, index=False)
    encode_txt.write_text("\n".join(read_smiles(resolve_data_path("moses:test")).iloc[: args.n_encode]) + "\n")
    base = {"workdir": str(workdir), "train": str(train_csv), "encode": str(encode_txt), "device": args.device,
            "threads": args.threads, "train_seconds": args.train_seconds, "batch_size": args.batch_size,
            "n_sample": args.n_sample, "n_sample_peer": args.n_sample_peer,
            "sample_workers": None if args.sample_workers < 0 else args.sample_workers}
    print(f"bench_speed: {args.device}, {args.threads} threads, {args.train_seconds:g} s of training per system")
    rows = [measure(name, dict(base, **spec)) for name, spec in ROWS if not args.only or name in args.only]
    if not args.skip_full and (not args.only or "molvae full MOSES" in args.only):
        rows.append(measure("molvae full MOSES", dict(base, system="molvae", arch={}, precision="auto",
                                                       train=str(resolve_data_path("moses:train")), train_only=True)))
    table = pd.DataFrame(rows)
    peer = table.set_index("system").to_dict("index").get("MOSES VAE", {})
    ratios = {}
    for name in table.system:
        if name != "MOSES VAE" and peer:
            mine = table.set_index("system").loc[name]
            for task in ("train", "sample", "encode"):
                ratios[f"{name} / MOSES VAE, {task}"] = ratio(mine.get(f"{task}_mol_per_s"), peer.get(f"{task}_mol_per_s"))
    prefix = Path(args.out or f"docs/bench/speed_{args.device.split(':')[0]}")
    prefix.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(prefix.with_suffix(".csv"), index=False)
    write_json(prefix.with_suffix(".json"), script_provenance(machine=machine(args.device, args.threads), rows=rows,
                                                              ratios=ratios))

    shown = table.copy()
    for c in shown.columns:
        if c.endswith("_per_s") or c.endswith("_mb"):
            shown[c] = shown[c].map(lambda v: f"{v:,.0f}" if isinstance(v, float) and v == v else v)
    print(f"\n{machine(args.device, args.threads)}\n")
    print(shown.to_markdown(index=False) if _has_tabulate() else shown.to_string(index=False))
    print()
    for k, v in ratios.items():
        print(f"{k}: {v}x")
    print(f"\nwrote {prefix}.csv and {prefix}.json")


def _has_tabulate() -> bool:
    try:
        import tabulate  # noqa: F401
    except ImportError:
        return False
    return True


if __name__ == "__main__":
    main()
