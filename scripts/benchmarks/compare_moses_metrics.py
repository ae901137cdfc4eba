"""molvae's metrics next to the MOSES reference implementation, on the same molecules.

    python scripts/benchmarks/compare_moses_metrics.py --samples runs/short/samples_10k.csv

Runs ``moses.get_all_metrics`` from ``molsets==0.3.1`` (fetched with ``pip download --no-deps``,
unpacked into a private folder and patched for current RDKit, pandas and NumPy: the patches below
belong to this check, not to molvae) and ``molvae.metrics.evaluate`` on (a) 10,000 molecules drawn
from MOSES-train and (b) the first 10,000 rows of a samples file. Prints one table per set with
both columns, the difference, and whether it is within the tolerance (0.005; FCD 3% relative),
plus the wall time of each, all with the same number of processes.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from molvae.data import canonical_set
from molvae.io import read_smiles, resolve_data_path
from molvae.metrics import evaluate, load_reference
from moses_peer import molsets_checkout

RUN_MOSES = """
import json, sys, time, warnings
warnings.simplefilter("ignore")
sys.path.insert(0, sys.argv[1])
import pandas as pd
from moses import get_all_metrics
gen = pd.read_csv(sys.argv[2], keep_default_na=False)["SMILES"].tolist()
start = time.perf_counter()
metrics = get_all_metrics(gen, n_jobs=int(sys.argv[3]))
print(json.dumps({"seconds": time.perf_counter() - start, "metrics": {k: float(v) for k, v in metrics.items()}}))
"""


def run_moses(checkout: Path, smiles: list[str], workers: int) -> tuple[dict, float]:
    with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False) as fh:
        pd.DataFrame({"SMILES": smiles}).to_csv(fh, index=False)
    out = subprocess.run([sys.executable, "-c", RUN_MOSES, str(checkout), fh.name, str(workers)],
                         check=True, capture_output=True, text=True)
    os.unlink(fh.name)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return result["metrics"], result["seconds"]


# MOSES' metric names -> molvae's
NAMES = {"unique@1000": "unique@1k", "unique@10000": "unique@10k"}


def compare(label: str, smiles: list[str], checkout: Path, refs, train, workers: int) -> pd.DataFrame:
    ref_metrics, ref_seconds = run_moses(checkout, smiles, workers)
    start = time.perf_counter()
    ours = evaluate(smiles, refs, train, workers=workers, progress=False)
    our_seconds = time.perf_counter() - start
    rows = []
    for name, ref in ref_metrics.items():
        mine = ours.get(NAMES.get(name, name), float("nan"))
        diff = mine - ref
        ok = abs(diff) <= (0.03 * abs(ref) if name.startswith("FCD") else 0.005)
        rows.append({"metric": name, "MOSES": round(ref, 4), "molvae": round(mine, 4), "diff": round(diff, 4),
                     "within tolerance": "yes" if ok else "NO"})
    table = pd.DataFrame(rows)
    print(f"\n## {label} ({len(smiles)} molecules, {workers} processes)\n")
    print(table.to_markdown(index=False) if _has_tabulate() else table.to_string(index=False))
    print(f"\nwall time: MOSES {ref_seconds:.1f} s, molvae {our_seconds:.1f} s "
          f"(molvae/MOSES = {our_seconds / ref_seconds:.2f})")
    return table


def _has_tabulate() -> bool:
    try:
        import tabulate  # noqa: F401
    except ImportError:
        return False
    return True


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", required=True, help="a samples CSV (e.g. from molvae sample)")
    ap.add_argument("-n", type=int, default=10_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--wheel", help="molsets-0.3.1 wheel (default: pip download it)")
    args = ap.parse_args()

    checkout = molsets_checkout(args.wheel)
    refs = {"Test": load_reference("moses:test"), "TestSF": load_reference("moses:test_scaffolds")}
    train = canonical_set(resolve_data_path("moses:train"))
    train_sample = read_smiles(resolve_data_path("moses:train")).sample(args.n, random_state=0).tolist()
    samples = read_smiles(args.samples).tolist()[: args.n]
    compare("MOSES-train sample", train_sample, checkout, refs, train, args.workers)
    compare(f"samples from {args.samples}", samples, checkout, refs, train, args.workers)


if __name__ == "__main__":
    main()
