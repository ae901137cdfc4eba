"""Do the redrawn large rings come from a few of the code bank's molecules?

    python scripts/studies/ring_anchors.py                      # the sampling model, 2,000 anchors x 10 draws
    python scripts/studies/ring_anchors.py -m molvae-moses-v0.9 --anchors 4000 --draws 10

`molvae sample` draws each code around one molecule of its bank (mu + W sigma eps) and redraws a
molecule with a ring larger than the training set's (docs/quality.md). If the large rings came
mostly from a few anchors, leaving those out of the bank would cut the redraws without training.
This decodes `--draws` codes around each of `--anchors` bank molecules (the sampler's own width and
temperature), counts the draws holding a ring of more than the model's limit, and asks two things:

- **concentration**: the variance of the per-anchor counts against a binomial's (every anchor alike),
  and the share of the large rings held by the top 1-20% of anchors (this share flatters, as the
  same draws pick the anchors and count their rings);
- **held out**: anchors flagged on the first half of their draws (one or more large rings), and the
  large-ring rate of the second half for them and for the rest: what leaving them out would give.

Rows go to docs/bench/quality/ring_anchors.csv (and .json with the command).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # scripts/harness.py
from harness import save_results

from molvae import MolVAE
from molvae.chem import largest_ring, mol_from_smiles, quiet_rdkit


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-m", "--model", default=None, help="model (default: the shipped sampling model)")
    ap.add_argument("--anchors", type=int, default=2000)
    ap.add_argument("--draws", type=int, default=10, help="draws per anchor (even: half flag, half check)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=Path("docs/bench/quality/ring_anchors.csv"))
    args = ap.parse_args()
    vae = MolVAE.load(args.model) if args.model else MolVAE.load(use="sample")
    bank, limit = vae.prior, vae.domain.max_ring
    if bank is None or not limit:
        sys.exit("this model has no code bank or no recorded ring limit")
    pick = torch.from_numpy(np.random.default_rng(args.seed).choice(len(bank), args.anchors, replace=False))
    k = args.draws
    mu, sigma = bank.mu[pick].repeat_interleave(k, 0), bank.sigma[pick].repeat_interleave(k, 0)
    z = mu + bank.width * sigma * torch.randn(mu.shape, generator=torch.Generator().manual_seed(args.seed))
    smiles = vae.decode(z, greedy=False, seed=args.seed, temperature=bank.temperature)  # as molvae sample decodes
    with quiet_rdkit():
        big = np.array([s is not None and largest_ring([mol_from_smiles(s)]) > limit for s in smiles]).reshape(-1, k)
    counts, rate = big.sum(1), big.mean()
    order = np.sort(counts)[::-1]
    rows = [{"what": "large-ring rate, all draws", "value": rate},
            {"what": "per-anchor count variance / binomial variance", "value": counts.var() / (k * rate * (1 - rate))}]
    rows += [{"what": f"share of large rings in the top {f:.0%} of anchors", "value": order[: int(len(order) * f)].sum() / max(order.sum(), 1)}
             for f in (0.01, 0.05, 0.1, 0.2)]
    flagged, later = big[:, : k // 2].any(1), big[:, k // 2 :].mean(1)
    rows += [{"what": "anchors flagged on the first half of their draws", "value": flagged.mean()},
             {"what": "second-half large-ring rate, flagged anchors", "value": later[flagged].mean()},
             {"what": "second-half large-ring rate, the rest (the bank without the flagged)", "value": later[~flagged].mean()},
             {"what": "second-half large-ring rate, all anchors", "value": later.mean()}]
    save_results(pd.DataFrame(rows), args.out, model=vae.meta.get("release", {}).get("name", str(args.model)),
                 width=bank.width, temperature=bank.temperature, max_ring=limit, anchors=args.anchors, draws=k, seed=args.seed)


if __name__ == "__main__":
    main()
