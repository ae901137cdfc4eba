"""Does a per-molecule likelihood filter (or a lower temperature) keep SELFIES' slips out of prior
samples, and what does it cost?

    python scripts/studies/study_sample_filter.py                      # the shipped model, 12,000 draws, ~10 min on 2 cores
    python scripts/studies/study_sample_filter.py -m run/best.pt -n 30000 --out docs/bench/quality

Draws z ~ N(0, I), decodes each stochastically (temperature 1) and scores the decoded tokens by the
decoder's own log p(x | z): summed, and per token. Then it drops the lowest-scoring fraction of draws
(0, 5, 10, 20, 40%) by each criterion and scores what is left with the MOSES metrics (FCD/Test,
SNN/Test, Scaf/Test, Filters, novelty, unique@10k, mean SA) on the first `--keep` molecules kept, so
every row is judged on the same number of molecules. The 0% row is `molvae sample` as it is.
With ``--temperatures`` it also scores draws decoded at those temperatures (no filter), the other
way to keep a language model to its likelier strings; ``--only-temperatures`` skips the filter rows.

Writes OUT/sample_filter.csv and OUT/sample_filter.json (command, settings, rows).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # scripts/harness.py, shared by the benchmarks and studies
from harness import save_results

FRACTIONS = (0.0, 0.05, 0.10, 0.20, 0.40)


def draws(vae, n: int, seed: int, batch: int = 1000, temperature: float = 1.0) -> pd.DataFrame:
    """n prior draws: canonical SMILES ('' where no molecule), log p(x|z) summed and per token."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    rows = []
    for start in range(0, n, batch):
        z = vae.model.sample_prior(min(batch, n - start), generator=gen)
        ids = vae.model.generate(z, temperature=temperature, generator=gen)
        lengths = (ids != vae.model.ids.pad).sum(dim=1)
        logp = vae.model.log_likelihood(ids, lengths.clamp(min=1), z)
        _, smiles = vae.tokens_to_smiles(ids)
        rows.append(pd.DataFrame({"smiles": [s or "" for s in smiles], "log_p": logp.numpy(),
                                  "log_p_per_token": (logp / lengths.clamp(min=1)).numpy()}))
    return pd.concat(rows, ignore_index=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-m", "--model", default=None, help=(
        "checkpoint or shipped model's name (default: the latent tools' shipped model, molvae-moses-v0.2.1, "
        "v0.2's weights)"))
    ap.add_argument("-n", type=int, default=12_000, help="prior draws (at least --keep / 0.6, so that every row has --keep molecules)")
    ap.add_argument("--keep", type=int, default=7_000, help="molecules scored per row (the first kept ones)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=1, help="processes for the RDKit side of scoring")
    ap.add_argument("--temperatures", type=float, nargs="*", default=[], help="also score these decoding temperatures")
    ap.add_argument("--only-temperatures", action="store_true", help="skip the likelihood-filter rows")
    ap.add_argument("--out", default="docs/bench/quality", help="output folder")
    args = ap.parse_args()

    import torch

    from molvae.api import MolVAE
    from molvae.data import canonical_set
    from molvae.io import resolve_data_path
    from molvae.metrics import evaluate, load_reference
    from molvae.properties import compute

    torch.set_num_threads(1)
    vae = MolVAE.load(args.model, device="cpu")
    if not args.only_temperatures:
        started = time.perf_counter()
        sample = draws(vae, args.n, args.seed)
        print(f"{len(sample)} draws in {time.perf_counter() - started:.0f} s", flush=True)
    refs = {"Test": load_reference("moses:test", workers=args.workers, progress=False)}
    train_set = canonical_set(resolve_data_path("moses:train"), workers=args.workers, progress=False)
    rows = []

    def score(smiles: list[str], **row) -> None:
        result = evaluate(smiles, refs, train_set, ks=(5_000,), workers=args.workers, progress=False)
        row.update({"scored": len(smiles),
                    **{k: result[k] for k in ("FCD/Test", "SNN/Test", "Scaf/Test", "Filters", "Novelty", "unique@5k")},
                    "mean_sa": float(np.nanmean(compute(smiles, ["sa"], workers=args.workers)["sa"]))})
        rows.append(row)
        print(pd.DataFrame([row]).round(4).to_string(index=False, header=len(rows) == 1), flush=True)

    for criterion in ("log_p", "log_p_per_token") if not args.only_temperatures else ():
        for fraction in FRACTIONS:
            if fraction == 0 and criterion != "log_p":
                continue
            cut = sample[criterion].quantile(fraction) if fraction else -np.inf
            kept = sample[(sample[criterion] >= cut) & (sample.smiles != "")]
            score(kept.smiles.iloc[: args.keep].tolist(), temperature=1.0,
                  criterion="none" if fraction == 0 else criterion, discarded=fraction, threshold=cut)
    for temperature in args.temperatures:
        cooler = draws(vae, args.keep, args.seed, temperature=temperature)
        kept = cooler[cooler.smiles != ""]
        score(kept.smiles.tolist(), temperature=temperature, criterion="none", discarded=1 - len(kept) / len(cooler),
              threshold=-np.inf)
    table = pd.DataFrame(rows)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    name = "sample_temperature.csv" if args.only_temperatures else "sample_filter.csv"
    save_results(table, out / name, settings=vars(args))
    print(f"wrote {out / name}")


if __name__ == "__main__":
    main()
