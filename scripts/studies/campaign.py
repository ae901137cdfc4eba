"""The training campaign's learning curve: score a long run's snapshots as it goes.

    python scripts/studies/campaign.py score ~/molvae-runs/campaign          # every new snapshot, oldest first
    python scripts/studies/campaign.py score ~/molvae-runs/campaign --start molvae/pretrained/molvae-moses-v0.4.pt
    python scripts/studies/campaign.py score ~/molvae-runs/campaign --continues candidates/molvae-moses-v0.5.pt
    python scripts/studies/campaign.py plot                                  # redraw the figure from the CSV

A campaign run (``molvae train ... --snapshot-epochs 0.5``) keeps its weights every half epoch in
RUN/snapshots/stepN.pt. Each snapshot is scored the way the shipped sampling model is, at the
study's scale:

- a fresh code bank of `--bank` MOSES-train molecules (seed 0) at the fixed width `--width`;
- `--n` samples from it (seed 0), scored by the MOSES metrics (FCD/Test, Filters, SNN/Test,
  Scaf/Test, novelty against MOSES-train, unique@10k), with the redraw rate of the sampler;
- exact greedy reconstruction of the first `--recon` MOSES-test molecules, and their mean KL (nats);
- the fraction of samples with a ring of 8 atoms or more (``large_rings``), which MOSES-train never holds.

``--start`` scores the file the campaign started from as its row at step 0. ``--continues FILE``
scores a later leg of the campaign: a run restarted (``--init-from``) from FILE, a file the campaign
made, after its run folder was lost. Its rows are placed after FILE's step, epochs and training
hours (recorded in FILE), so that the curve goes on where FILE left it, with the leg's number in
the ``leg`` column. Rows are appended to
OUT/campaign.csv (one per snapshot; a snapshot already there is skipped), with OUT/campaign.json
(the command and settings) and OUT/campaign.png: FCD/Test and Filters against the campaign's epochs,
the MOSES models as reference lines, and a power-law fit of FCD extended to where it would reach the
targets (the projection). Scoring takes a few minutes of both cores per snapshot: pause the training
meanwhile (``kill -STOP``/``-CONT``) rather than running both at once.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # scripts/harness.py, shared by the benchmarks and studies
from harness import script_provenance

# the MOSES paper's table (30,000 samples): FCD/Test, Filters, SNN/Test, novelty
MOSES = {"CharRNN": (0.073, 0.994, 0.601, 0.842), "VAE": (0.099, 0.997, 0.626, 0.695),
         "LatentGAN": (0.296, 0.973, 0.538, 0.949), "JT-VAE": (0.395, 0.976, 0.548, 0.914),
         "AAE": (0.556, 0.996, 0.608, 0.793)}
TARGETS = {"FCD/Test": 1.0, "Filters": 0.95}


def draw_moses(ax, column: int, at_novelty: bool = False) -> None:
    """The MOSES models' value of `column` (an index into MOSES's tuples) on `ax`: points at their
    novelty when the x axis is novelty, else horizontal reference lines."""
    for i, (name, values) in enumerate(MOSES.items()):
        style = {"color": f"C{i + 1}", "label": f"MOSES {name}"}
        if at_novelty:
            ax.plot(values[3], values[column], "s", **style)
        else:
            ax.axhline(values[column], ls=":", lw=1, **style)


def save_figure(fig, axes, title: str, path: Path, ncol: int) -> None:
    """The shared finish of the campaign's figures: FCD (the first axes) on a log scale, one legend
    under the panels, the title, written to `path`."""
    import matplotlib.pyplot as plt

    axes[0].set_yscale("log")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=ncol, fontsize=7, frameon=False)
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    fig.savefig(path, dpi=120)
    plt.close(fig)
    print(f"wrote {path}")


def snapshot_step(path: Path) -> int:
    match = re.fullmatch(r"step(\d+)\.pt", path.name)
    return int(match.group(1)) if match else -1


def snapshot_row(path: Path, step: int, offset: dict | None = None) -> dict:
    """Where in the campaign a snapshot was taken: step, epochs, learning rate, training hours (its
    meta), after `offset` (the step, epochs and hours of the file a later leg started from)."""
    from molvae.checkpoint import load_checkpoint

    offset = offset or {"step": 0, "epoch": 0.0, "train_hours": 0.0, "leg": 1}
    if step == 0:
        return {"step": 0, "epoch": 0.0, "lr": np.nan, "train_hours": 0.0, "leg": 1}
    meta = load_checkpoint(path)["meta"]
    return {"step": offset["step"] + step, "epoch": round(offset["epoch"] + meta["progress"], 4), "lr": meta["lr"],
            "train_hours": round(offset["train_hours"] + meta["elapsed_s"] / 3600, 3), "leg": offset["leg"]}


def leg_offset(start: Path, table: pd.DataFrame) -> dict:
    """Where a later leg, restarted from the campaign's file `start`, begins: that file's step, epochs
    and training hours in the campaign, and the next leg number.

    A file's meta counts from the start of its own leg, so the file is found in the curve by its
    learning rate, which the cosine schedule makes different at every step; a file of the first leg
    (no row matches: the curve began after it) is placed by its meta."""
    from molvae.checkpoint import load_checkpoint

    meta = load_checkpoint(start)["meta"]
    if len(table) and "lr" in table and meta.get("lr") is not None:
        match = table[np.isclose(table.lr.to_numpy(float), float(meta["lr"]), rtol=1e-9, atol=0)]
        if len(match):
            row = match.iloc[0]
            return {"step": int(row.step), "epoch": float(row.epoch), "train_hours": float(row.train_hours),
                    "leg": int(row.leg) + 1}
    before = table[table.step <= meta["step"]] if len(table) else table  # the legs that led to `start`
    return {"step": int(meta["step"]), "epoch": float(meta["progress"]),
            "train_hours": round(meta["elapsed_s"] / 3600, 3), "leg": int(before.leg.max()) + 1 if len(before) else 2}


def score(model_path: Path, args: argparse.Namespace, train: list[str], train_set: set[str],
          refs: dict, test: list[str]) -> dict:
    """One row of the curve: the bank's samples, reconstruction and KL of one set of weights."""
    import torch

    from molvae import MolVAE
    from molvae.metrics import evaluate
    from molvae.prior import CodeBank

    tick = time.perf_counter()
    vae = MolVAE.load(model_path, device="cpu", precision="auto")
    vae.prior = CodeBank.fit(vae, train, size=args.bank, width=args.width, seed=0, source="moses:train")
    samples = vae.sample(args.n, seed=0, max_ring="none")  # the curve is scored without the ring screen, as from its start
    metrics = evaluate(samples.smiles.tolist(), refs, train_set, workers=None, progress=False)
    rec = vae.reconstruct(test)
    mu, logvar = vae.encode(test, return_logvar=True)
    mu, logvar = torch.as_tensor(mu, dtype=torch.float64), torch.as_tensor(logvar, dtype=torch.float64)
    kl = 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(1).mean().item()
    if args.keep_samples:
        folder = Path(args.run).expanduser() / "curve"
        folder.mkdir(exist_ok=True)
        samples.to_csv(folder / f"{model_path.stem}_samples.csv.gz", index=False)
    row = {"redrawn": round(samples.attrs["redrawn"], 5), "large_rings": large_ring_fraction(samples.smiles),
           "recon_exact": float(rec.exact.mean()), "kl_nats": round(kl, 3)}
    row.update({k: metrics[k] for k in ("FCD/Test", "Filters", "SNN/Test", "Scaf/Test", "Novelty", "unique@10k",
                                         "valid", "IntDiv")})
    row["score_s"] = round(time.perf_counter() - tick, 1)
    return row


def large_ring_fraction(smiles, size: int = 8) -> float:
    """The fraction of molecules with a ring of `size` atoms or more (MOSES-train has none; its filters reject them)."""
    from molvae.chem import largest_ring, mol_from_smiles

    mols = [mol_from_smiles(s) for s in smiles]
    big = [largest_ring([m]) >= size for m in mols if m is not None]
    return round(float(np.mean(big)), 5) if big else float("nan")


def cmd_score(args: argparse.Namespace) -> None:
    from molvae.data import canonical_set
    from molvae.io import read_smiles, resolve_data_path
    from molvae.metrics import load_reference

    run = Path(args.run).expanduser()
    csv_path = args.out / "campaign.csv"
    table = pd.read_csv(csv_path) if csv_path.is_file() else pd.DataFrame()
    if len(table) and "leg" not in table:
        table["leg"] = 1
    offset = leg_offset(Path(args.continues), table) if args.continues else None
    leg = offset["leg"] if offset else 1
    done = set(zip(table.step, table.leg)) if len(table) else set()  # a later leg may repeat an abandoned leg's steps
    todo = sorted((p for p in (run / "snapshots").glob("step*.pt") if snapshot_step(p) > 0), key=snapshot_step)
    todo = [(snapshot_step(p), p) for p in todo if (snapshot_step(p) + (offset["step"] if offset else 0), leg) not in done]
    if args.start and (0, 1) not in done:
        todo.insert(0, (0, Path(args.start)))
    if args.last:
        todo = todo[-args.last:]
    if not todo:
        print("nothing new to score")
        return
    train_path = resolve_data_path("moses:train")
    train = read_smiles(train_path).tolist()
    train_set = canonical_set(train_path, progress=False)
    refs = {"Test": load_reference("moses:test", progress=False)}
    test = read_smiles(resolve_data_path("moses:test")).tolist()[: args.recon]
    for step, path in todo:
        print(f"== step {step}: {path}", flush=True)
        row = {**snapshot_row(path, step, offset), "width": args.width, "n": args.n}
        row.update(score(path, args, train, train_set, refs, test))
        print("  ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()), flush=True)
        table = pd.concat([table, pd.DataFrame([row])], ignore_index=True).sort_values(["step", "leg"])
        args.out.mkdir(parents=True, exist_ok=True)
        table.to_csv(csv_path, index=False)
    from molvae.io import write_json

    write_json(csv_path.with_suffix(".json"), script_provenance(
        run=str(run), width=args.width, n=args.n, bank=args.bank, recon=args.recon, moses_paper=MOSES))
    plot(table, args.out / "campaign.png")


def projection(epochs: np.ndarray, fcd: np.ndarray) -> tuple[float, float, float] | None:
    """Least-squares fit FCD = a + b * (epoch + 1) ** -c over the rows after the start (None with
    fewer than 4 rows); c is searched on a grid, a and b solved for each c."""
    keep = epochs > 0
    x, y = epochs[keep] + 1.0, fcd[keep]
    if len(x) < 4:
        return None
    best = None
    for c in np.linspace(0.05, 3.0, 60):
        design = np.stack([np.ones_like(x), x ** -c], axis=1)
        coef, *_ = np.linalg.lstsq(design, y, rcond=None)
        err = float(((design @ coef - y) ** 2).sum())
        if best is None or err < best[0]:
            best = (err, float(coef[0]), float(coef[1]), float(c))
    return best[1:]


def plot(table: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    epochs = table.epoch.to_numpy(float)
    for ax, metric in zip(axes, ("FCD/Test", "Filters")):
        ax.plot(epochs, table[metric], "o-", color="C0", label="molvae campaign")
        draw_moses(ax, 0 if metric == "FCD/Test" else 1)
        ax.axhline(TARGETS[metric], ls="--", color="k", lw=1, label="target")
        ax.set_xlabel("epochs of MOSES-train in the campaign")
        ax.set_ylabel(metric)
    fit = projection(epochs, table["FCD/Test"].to_numpy(float))
    if fit is not None:
        a, b, c = fit
        xs = np.linspace(0, max(20.0, epochs.max() * 2), 200)
        axes[0].plot(xs, a + b * (xs + 1) ** -c, "--", color="C0", alpha=0.6,
                     label=f"fit {a:.2f} + {b:.2f}(e+1)^-{c:.2f}")
    if "leg" in table:  # where a later leg restarted from the campaign's own file (a lost run folder)
        for leg in sorted(set(table.leg.dropna()))[1:]:
            first = table[table.leg == leg].epoch.min()
            for ax in axes:
                ax.axvline(first - 0.5, color="0.6", lw=0.8)
                ax.annotate(f"leg {int(leg)}", (first - 0.5, 1), xycoords=("data", "axes fraction"),
                            xytext=(2, -10), textcoords="offset points", fontsize=6, color="0.4")
    for x, y, novelty in zip(epochs, table["FCD/Test"], table["Novelty"]):  # FCD is read at its novelty
        axes[0].annotate(f"{novelty:.3f}", (x, y), textcoords="offset points", xytext=(0, 6), ha="center", fontsize=6)
    save_figure(fig, axes, f"Campaign learning curve: {int(table.n.iloc[-1]):,} samples from a fresh bank at "
                f"W = {table.width.iloc[-1]:g} (numbers: novelty)", path, ncol=5)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("score", help="score the run's new snapshots")
    s.add_argument("run", help="the campaign's run folder (holds snapshots/)")
    s.add_argument("--start", help="the model the run started from, scored as step 0")
    s.add_argument("--continues", help="a later leg: the campaign's file this run was restarted from (--init-from)")
    s.add_argument("--width", type=float, default=0.7, help="bank width W (fixed over the campaign)")
    s.add_argument("--n", type=int, default=10_000, help="samples per snapshot")
    s.add_argument("--bank", type=int, default=20_000, help="bank size (MOSES-train molecules)")
    s.add_argument("--recon", type=int, default=1000, help="MOSES-test molecules reconstructed")
    s.add_argument("--last", type=int, default=0, help="only the newest K unscored snapshots")
    s.add_argument("--keep-samples", action="store_true", help="keep each row's samples in RUN/curve/")
    p = sub.add_parser("plot", help="redraw the figure from the CSV")
    for q in (s, p):
        q.add_argument("--out", type=Path, default=Path("docs/bench/quality"))
    args = ap.parse_args()
    if args.cmd == "score":
        cmd_score(args)
    else:
        plot(pd.read_csv(args.out / "campaign.csv"), args.out / "campaign.png")


if __name__ == "__main__":
    main()
