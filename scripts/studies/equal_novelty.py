"""The shipped sampling model beside the MOSES models at equal novelty.

    python scripts/studies/equal_novelty.py                         # the shipped sampling model: search, score, plot
    python scripts/studies/equal_novelty.py -m molvae-moses-v0.9 --plot-only   # redraw the figure from the CSV
    python scripts/studies/equal_novelty.py -m molvae-moses-v0.9 --max-ring none  # without the ring screen
    python scripts/studies/equal_novelty.py -m BANK.pt --temperature 0.8 --targets CharRNN JT-VAE --n 10000 \
        --out docs/bench/quality/temperature                                   # another temperature, two targets

A code bank's width W trades novelty for closeness to the data: a narrow width decodes near the
bank's training molecules (low novelty, low FCD), a wide one far from them. A generative model is
fairly compared with another only at the same novelty, so for each MOSES model's novelty (their
paper's table, 30,000 samples) this finds the width at which the model's samples have that novelty
and scores `--n` samples there the way the model card does (`molvae sample --prior-width W`, then
the MOSES metrics against MOSES-test).

1. **Search.** `--search-n` samples (`--search-seed`, 0 as the scored samples) at each width of a
   grid; novelty against MOSES-train is interpolated between the grid's points (it rises with W)
   to the width of each target. Novelty counts distinct molecules, and a bank molecule decoded
   back to itself is a repeat more often in more samples, so the same width gives more novelty on
   30,000 samples than on fewer where novelty is low: v0.7's search on 5,000 (seed 1) and v0.8's
   on 10,000 (seed 0) both landed the VAE's row 0.020 and AAE's 0.011-0.013 above its novelty. The
   default searches on `--n` samples, which lands on it at about three times the search's time.
2. **Score.** At each width found, `--n` samples (seed 0) scored by FCD/Test, Filters, SNN/Test,
   Scaf/Test, IntDiv, unique@10k and novelty, with the sampler's redraw rate. Rows are appended to
   OUT/equal_novelty.csv as they finish (a target already there is skipped, so a stopped run
   continues); OUT/equal_novelty.json holds the command, the search grid and the rows.
3. **Plot.** OUT/equal_novelty.png: FCD/Test, Filters and SNN/Test against novelty, molvae's
   widths as a line and the MOSES models as points.

Each 30,000-sample row takes about 5 minutes of both cores on the Intel machines, 8-9.5 on the
AVX2-only AMD EPYC (most of it the metrics). Rows are kept
apart by model, ring limit and decoding temperature (`--temperature`; 1 where a row has none), so
runs at several temperatures share one CSV and one figure.
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

from molvae.shipped import DEFAULTS

from campaign import MOSES, draw_moses, save_figure, temperatures  # MOSES: the paper's FCD/Test, Filters, SNN/Test, novelty

COLUMNS = {"FCD/Test": 0, "Filters": 1, "SNN/Test": 2}


def novelty_of(smiles: list[str], train_path: Path) -> float:
    """Fraction of the distinct valid molecules (canonical SMILES) absent from the training file."""
    from molvae.chem import canonical_many
    from molvae.novelty import in_training_set

    distinct = sorted({c for c in canonical_many(smiles) if c})
    return float(1.0 - in_training_set(distinct, train_path).mean())


def search(vae, grid: list[float], n: int, train_path: Path, max_ring: int | None = None,
           temperature: float | None = None, seed: int = 0) -> pd.DataFrame:
    """Novelty of `n` samples (seed `seed`) at each width of `grid`."""
    rows = []
    for width in grid:
        tick = time.perf_counter()
        samples = vae.sample(n, seed=seed, prior_width=width, max_ring=max_ring, temperature=temperature)
        rows.append({"width": width, "novelty": novelty_of(samples.smiles.tolist(), train_path), "n": n})
        print(f"  search: W {width:g}: novelty {rows[-1]['novelty']:.4f} ({time.perf_counter() - tick:.0f} s)", flush=True)
    return pd.DataFrame(rows)


def width_for(novelty: float, grid: pd.DataFrame) -> float | None:
    """The width at which the grid's novelty, made monotone, reaches `novelty` (None outside the grid)."""
    g = grid.sort_values("width")
    nov = np.maximum.accumulate(g.novelty.to_numpy(float))
    if not nov[0] <= novelty <= nov[-1]:
        return None
    return round(float(np.interp(novelty, nov, g.width.to_numpy(float))), 3)


def score(vae, width: float, n: int, refs: dict, train_set: set[str], max_ring: int | None = None,
          temperature: float | None = None) -> dict:
    from molvae.metrics import evaluate

    tick = time.perf_counter()
    samples = vae.sample(n, seed=0, prior_width=width, max_ring=max_ring, temperature=temperature)
    metrics = evaluate(samples.smiles.tolist(), refs, train_set, workers=None, progress=False)
    row = {k: metrics[k] for k in ("Novelty", "FCD/Test", "Filters", "SNN/Test", "Scaf/Test", "IntDiv",
                                   "unique@10k", "valid")}
    row["redrawn"] = round(samples.attrs["redrawn"], 5)
    row["score_s"] = round(time.perf_counter() - tick, 1)
    return row


def of_model(table: pd.DataFrame, model: str, max_ring: int | None | str = "any",
             temperature: float | None = None) -> pd.DataFrame:
    """The rows of `model` (the CSV keeps earlier models' rows beside it), sampled under the ring
    limit `max_ring` (None: none; "any": every limit) at `temperature` (None: every temperature)."""
    if not len(table):
        return table.assign(target=[])
    rows = table[table.model == model]
    if temperature is not None:
        rows = rows[temperatures(rows) == temperature]
    if max_ring == "any":
        return rows
    limits = rows.max_ring if "max_ring" in rows else pd.Series(float("nan"), index=rows.index)
    return rows[limits.fillna(0) == (max_ring or 0)]


def plot(table: pd.DataFrame, path: Path, model: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    limits = table.max_ring.fillna(0) if "max_ring" in table else pd.Series(0, index=table.index)
    groups = list(table.groupby([limits, temperatures(table)]))
    many = len(groups) > 2  # then the legend takes three rows
    fig, axes = plt.subplots(1, 3, figsize=(13, 5.0 if many else 4.2))
    for ax, (metric, col) in zip(axes, COLUMNS.items()):
        for k, ((limit, temp), t) in enumerate(groups):
            t = t.sort_values("Novelty")
            label = f"{model}, rings of at most {int(limit)} atoms" if limit else f"{model}, no ring limit"
            label += f", temperature {temp:g}" if temp != 1 else ""
            ax.plot(t.Novelty, t[metric], ("o-", "D--", "s-.", "^:")[k % 4], color=("C0", "0.15", "C9", "C6")[k % 4],
                    label=label + " (bank widths)")
            for x, y, w in zip(t.Novelty, t[metric], t.width):
                ax.annotate(f"W {w:g}", (x, y), textcoords="offset points", xytext=(0, 6), ha="center", fontsize=6)
        draw_moses(ax, col, at_novelty=True)
        ax.set_xlabel("novelty (distinct samples not in MOSES-train)")
        ax.set_ylabel(metric)
    save_figure(fig, axes, f"{model} at the MOSES models' novelty: {int(t.n.iloc[0]):,} samples per width "
                "(MOSES: their paper's table, 30,000 samples)", path, ncol=3 if many else 6, bottom=0.16 if many else 0.08)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-m", "--model", default=DEFAULTS["sample"],
                    help="a shipped model's name or a checkpoint with a code bank (default: the shipped sampling model)")
    ap.add_argument("--n", type=int, default=30_000, help="samples scored at each width")
    ap.add_argument("--search-n", type=int, default=None, help="samples per width of the search grid (default: --n)")
    ap.add_argument("--search-seed", type=int, default=0, help="seed of the search's samples (default: 0, as the scored ones)")
    ap.add_argument("--grid", type=float, nargs="+", default=[0.05, 0.1, 0.15, 0.2, 0.35, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.15, 1.3, 1.5],
                    help="the widths searched")
    ap.add_argument("--max-ring", default="auto", help="the ring limit molvae sample screens with (auto: the model's; none)")
    ap.add_argument("--temperature", type=float, default=None,
                    help="decoding temperature (molvae sample --temperature; default: the one stored with the bank)")
    ap.add_argument("--targets", nargs="+", choices=sorted(MOSES), help="MOSES models whose novelty to match (default: all)")
    ap.add_argument("--out", type=Path, default=Path("docs/bench/quality"))
    ap.add_argument("--plot-only", action="store_true", help="redraw the figure from the CSV")
    ap.add_argument("--label", help="the model's name in the figure (default: --model)")
    args = ap.parse_args()
    csv_path = args.out / "equal_novelty.csv"
    table = pd.read_csv(csv_path) if csv_path.is_file() else pd.DataFrame()
    if args.plot_only:
        plot(of_model(table, args.model), csv_path.with_suffix(".png"), args.label or args.model)
        return

    from molvae import MolVAE
    from molvae.data import canonical_set
    from molvae.io import resolve_data_path
    from molvae.metrics import load_reference
    from molvae.sampling import resolve_max_ring

    vae = MolVAE.load(args.model, device="cpu", precision="auto", use="sample")
    if vae.prior is None:
        sys.exit(f"{args.model} has no code bank: fit one first (molvae fit-prior)")
    max_ring = resolve_max_ring(args.max_ring, vae.domain.max_ring)
    temperature = vae.prior.temperature if args.temperature is None else args.temperature
    train_path = resolve_data_path("moses:train")
    search_n = args.search_n or args.n
    print(f"searching widths for novelty {', '.join(f'{v[3]:g}' for v in MOSES.values())} on {search_n:,} samples")
    grid = search(vae, args.grid, search_n, train_path, max_ring, temperature, seed=args.search_seed)
    train_set = canonical_set(train_path, progress=False)
    refs = {"Test": load_reference("moses:test", progress=False)}
    done = set(of_model(table, args.model, max_ring, temperature).target)  # other rows stay in the CSV
    for name, values in sorted(MOSES.items(), key=lambda kv: kv[1][3]):
        if name in done or (args.targets and name not in args.targets):
            continue
        width = width_for(values[3], grid)
        if width is None:
            print(f"  {name}: novelty {values[3]} is outside the grid's {grid.novelty.min():.3f}-{grid.novelty.max():.3f}; widen --grid")
            continue
        print(f"== {name}: novelty {values[3]} at W {width:g}", flush=True)
        row = {"model": args.model, "max_ring": max_ring, "temperature": temperature, "target": name,
               "target_novelty": values[3], "width": width, "n": args.n}
        row.update(score(vae, width, args.n, refs, train_set, max_ring, temperature))
        row.update({f"moses_{k}": values[c] for k, c in COLUMNS.items()})
        print("  ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()), flush=True)
        table = pd.concat([table, pd.DataFrame([row])], ignore_index=True)
        save_results(table, csv_path, model=args.model, search=grid.to_dict(orient="records"),
                     search_seed=args.search_seed, moses_paper=MOSES)
    plot(of_model(table, args.model), csv_path.with_suffix(".png"), args.label or args.model)


if __name__ == "__main__":
    main()
