"""SNN's similarity search two ways, side by side: the dense product of unpacked fingerprints that
molvae used until 2026-12-06 (kept here as the peer) and the sparse-by-dense product that
molvae.metrics.aggregate_tanimoto uses now.

    python scripts/benchmarks/bench_tanimoto.py                 # 2,000 molecules against MOSES-test
    python scripts/benchmarks/bench_tanimoto.py --n 10000 --repeats 1

The "generated" molecules are MOSES-test-scaffolds fingerprints (real molecules of the same kind as
samples), the reference is MOSES-test's 176,074 stored fingerprints, as `molvae evaluate` scores
SNN/Test. Each repeat runs both ways in turn, so that both see the same machine load; the script
checks that they agree (max nearest-neighbour similarity, and the mean similarity IntDiv uses on
the generated set itself) and prints the median seconds and their ratio
(docs/bench/tanimoto.json keeps the last run).
"""

from __future__ import annotations

import argparse
import platform
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # scripts/harness.py
from harness import add_side_by_side_flags, script_provenance, set_threads, side_by_side

from molvae.io import write_json
from molvae.metrics import aggregate_tanimoto, load_reference


def dense_tanimoto(gen: np.ndarray, ref: np.ndarray, agg: str = "max", p: int = 1, block: int = 8192) -> np.ndarray:
    """The peer: every pair's shared bits from a dense float32 product (numpy's BLAS)."""
    out = np.zeros(len(gen))
    for i in range(0, len(gen), block):
        g = np.unpackbits(gen[i : i + block], axis=1).astype(np.float32)
        g_bits, acc = g.sum(1), np.zeros(len(g))
        for j in range(0, len(ref), block):
            r = np.unpackbits(ref[j : j + block], axis=1).astype(np.float32)
            both = g @ r.T
            sim = both / np.maximum(g_bits[:, None] + r.sum(1)[None, :] - both, 1.0)
            acc = np.maximum(acc, sim.max(1)) if agg == "max" else acc + (sim**p).sum(1)
        out[i : i + block] = acc if agg == "max" else (acc / len(ref)) ** (1.0 / p)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=2000, help="generated molecules")
    add_side_by_side_flags(ap, "docs/bench/tanimoto.json")
    args = ap.parse_args()
    threads = set_threads(args)
    ref = load_reference("moses:test", progress=False).features.fps
    pool = load_reference("moses:test_scaffolds", progress=False).features.fps
    gen = pool[np.random.default_rng(0).choice(len(pool), args.n, replace=False)]
    ways = {"dense": dense_tanimoto, "sparse": aggregate_tanimoto}
    median, results = side_by_side({name: (lambda way=way: way(gen, ref, "max")) for name, way in ways.items()},
                                   args.repeats, warmup=False)
    np.testing.assert_allclose(results["sparse"], results["dense"], rtol=0, atol=1e-6)
    for p in (1, 2):  # IntDiv's power means over the generated set itself
        np.testing.assert_allclose(aggregate_tanimoto(gen, gen, "mean", p), dense_tanimoto(gen, gen, "mean", p),
                                   rtol=1e-5)
    ratio = median["dense"] / median["sparse"]
    for name, seconds in median.items():
        print(f"{name:>6}: {seconds:.2f} s for {args.n:,} molecules against {len(ref):,} (nearest neighbours)")
    print(f"sparse is {ratio:.1f}x faster ({platform.processor() or platform.machine()}, "
          f"{threads} threads)")
    write_json(args.out, script_provenance(n=args.n, reference=len(ref), repeats=args.repeats,
                                           threads=threads, seconds=median, ratio=round(ratio, 2)))


if __name__ == "__main__":
    main()
