"""What the variant studies share (ablate_collapse.py, ablate_augmentation.py, study_quality.py): the
budget flags, the ``molvae train`` command of one variant, the loop that keeps partial results, and
the results files with their provenance; and what the side-by-side benchmarks share
(bench_encoder.py, bench_tanimoto.py): their flags and the loop that times two ways in turn."""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pandas as pd


def add_budget_flags(ap: argparse.ArgumentParser, limit: int, out: str) -> None:
    """--minutes/--epochs (the budget of every variant), --limit, --data, --only, --rescore, --train-args, --out."""
    ap.add_argument("--minutes", type=float, default=10, help="training budget per variant (wall clock)")
    ap.add_argument("--epochs", type=int, default=0, help=(
        "training budget per variant in epochs instead of minutes: the same compute for every variant even "
        "when other work shares the CPU"))
    ap.add_argument("--limit", type=int, default=limit, help="MOSES-train molecules (seeded subset)")
    ap.add_argument("--data", default="moses:train")
    ap.add_argument("--only", nargs="*", help="only these variants")
    ap.add_argument("--rescore", action="store_true", help="score runs already in OUT (their last.pt) without training again")
    ap.add_argument("--train-args", default="", help="extra flags for every molvae train (quoted)")
    ap.add_argument("--out", default=out)


def train_variant(run: Path, args: argparse.Namespace, flags: Iterable[str]) -> None:
    """Train one variant into `run` at the study's budget (resuming its last.pt if a stopped study left
    one), unless ``--rescore`` asks to score what is there. The variant's flags come last, so they
    override ``--train-args`` (argparse keeps the last value)."""
    if (run / "done").is_file() or (args.rescore and (run / "last.pt").is_file()):
        return
    budget = ["--epochs", str(args.epochs)] if args.epochs else ["--epochs", "1000", "--time-limit-minutes", str(args.minutes)]
    # continue a stopped variant from its last checkpoint; one stopped before its first checkpoint
    # starts afresh (--overwrite: molvae train refuses a folder holding another run's files)
    resume = ["--resume", str(run / "last.pt")] if (run / "last.pt").is_file() else ["--overwrite"]
    cmd = [sys.executable, "-m", "molvae", "train", "--data", args.data, "--limit", str(args.limit), *budget,
           "-o", str(run), "-q", *args.train_args.split(), *flags, *resume]
    print(" ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)
    (run / "done").touch()


def run_variants(names: Iterable[str], score: Callable[[str], dict], args: argparse.Namespace, path: Path,
                 done: pd.DataFrame | None = None) -> pd.DataFrame:
    """Score each variant named (``--only`` picks some) with `score(name) -> row`, writing the table
    to `path` after each, so a stopped study keeps its rows. Variants already in `done` are kept
    and skipped unless ``--rescore``."""
    table = done if done is not None else pd.DataFrame()
    for name in names:
        if args.only and name not in args.only:
            continue
        if len(table) and name in set(table.variant) and not args.rescore:
            continue
        budget = f"{args.epochs} epochs" if getattr(args, "epochs", 0) else f"{getattr(args, 'minutes', 0):g} min"
        print(f"== {name}: {budget}", flush=True)
        row = score(name)
        table = pd.concat([table[table.variant != name] if len(table) else table, pd.DataFrame([row])], ignore_index=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(path, index=False)
    return table


def script_provenance(**extra) -> dict:
    """The provenance record of a script's results: ``python <the command line>``, molvae's version, the time, `extra`."""
    from molvae.io import provenance

    return provenance(command="python " + " ".join(sys.argv), **extra)


def save_results(table: pd.DataFrame, path: Path, **extra) -> Path:
    """The results CSV at `path` and ``PATH.json`` beside it: the command, molvae's version, the time,
    `extra` and the rows."""
    from molvae.io import write_json

    path.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(path, index=False)
    info = script_provenance(**extra, rows=table.to_dict(orient="records"))
    json_path = path.with_suffix(".json")
    write_json(json_path, info)
    with pd.option_context("display.width", 250, "display.max_columns", 60):
        print(table.round(4).to_string(index=False))
    return json_path


def add_side_by_side_flags(ap: argparse.ArgumentParser, out: str, repeats: int = 3) -> None:
    """The flags of a side-by-side benchmark: --repeats, --threads (torch's) and --out (its JSON)."""
    ap.add_argument("--repeats", type=int, default=repeats)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: PyTorch's default)")
    ap.add_argument("--out", type=Path, default=Path(out))


def set_threads(args: argparse.Namespace) -> int:
    """Apply --threads to torch and to the BLAS and OpenMP pools numpy uses (threadpoolctl, where
    installed), so that both sides of a comparison get the same threads; the number torch will use."""
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:
            print("threadpoolctl is not installed: numpy's BLAS keeps its own threads", file=sys.stderr)
        else:
            threadpool_limits(args.threads)  # stays in force for the process
    return torch.get_num_threads()


def side_by_side(ways: dict[str, Callable[[], Any]], repeats: int, warmup: bool = True) -> tuple[dict[str, float], dict[str, Any]]:
    """Run every way once in each repeat, in turn, so that all see the same machine load (with
    `warmup`, a first round that is not counted). The median seconds of each way, and each way's
    last result (to check that they agree)."""
    times: dict[str, list[float]] = {name: [] for name in ways}
    results: dict[str, Any] = {}
    for repeat in range(repeats + int(warmup)):
        for name, way in ways.items():
            start = time.perf_counter()
            results[name] = way()
            if repeat or not warmup:
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}, results
