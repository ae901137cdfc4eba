"""The training campaign's learning curve: score a long run's snapshots as it goes.

    python scripts/studies/campaign.py score ~/molvae-runs/campaign          # every new snapshot, oldest first
    python scripts/studies/campaign.py score ~/molvae-runs/campaign --start molvae/pretrained/molvae-moses-v0.4.pt
    python scripts/studies/campaign.py score ~/molvae-runs/campaign --continues candidates/molvae-moses-v0.6.1.pt
    python scripts/studies/campaign.py plot                                  # redraw the figure from the CSV
    python scripts/studies/campaign.py project                               # the trends against the targets
    python scripts/studies/campaign.py new-leg                               # flags to go on from the shipped model

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
hours (FILE's row in the curve, found by its learning rate), so that the curve goes on where FILE
left it, with the leg's number in the ``leg`` column: one more than FILE's row's, or ``--leg N``
where a second run was restarted from the same file (a leg lost too), whose rows must not be taken
for the lost leg's. Rows are appended to
OUT/campaign.csv (one per snapshot; a snapshot already there is skipped), with OUT/campaign.json
(the command and settings) and OUT/campaign.png: FCD/Test and Filters against the campaign's epochs,
one line per leg, the MOSES models as reference lines, and each metric's log trend extended to 20
epochs. ``project`` writes OUT/projection.csv: each target's trend in two forms, translated to the
curve's scale through the shipped model's equal-novelty rows, and the epoch it would be met.
Scoring takes a few minutes of both cores per snapshot: pause the training
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

from molvae.shipped import DEFAULTS  # the shipped sampling model: what a candidate is measured against

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


def save_figure(fig, axes, title: str, path: Path, ncol: int, bottom: float = 0.08) -> None:
    """The shared finish of the campaign's figures: FCD (the first axes) on a log scale, one legend
    under the panels (in the lowest `bottom` of the figure), the title, written to `path`."""
    import matplotlib.pyplot as plt

    axes[0].set_yscale("log")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=ncol, fontsize=7, frameon=False)
    fig.suptitle(title)
    fig.tight_layout(rect=(0, bottom, 1, 1))
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


def row_of(lr: float | None, table: pd.DataFrame) -> pd.Series | None:
    """The curve's row of the weights a file holds, found by the learning rate in the file's meta: the
    cosine schedule gives each step its own rate, and a file's step counts from its own leg's start.
    Two legs restarted from the same file share their rates step for step, so the current line is
    searched first, then the whole curve, and the latest leg's row is taken. None where no row holds
    that rate (or the file or the curve has none)."""
    if lr is None or not len(table) or "lr" not in table:
        return None
    for rows in (current_line(table), table):
        match = rows[np.isclose(rows.lr.to_numpy(float), float(lr), rtol=1e-9, atol=0)]
        if not match.empty:
            return match.iloc[-1]
    return None


def leg_offset(start: Path, table: pd.DataFrame, leg: int = 0) -> dict:
    """Where a later leg, restarted from the campaign's file `start`, begins: that file's step, epochs
    and training hours in the campaign, and the leg's number: `leg`, or by default one more than the
    leg `start` came from (a second run restarted from the same file, after the first was lost too,
    needs its own, higher number).

    A file's meta counts from the start of its own leg, so the file is found in the curve by its
    learning rate, which the cosine schedule makes different at every step; a file whose rate no
    row holds is refused rather than placed at its own leg's step. A file or a curve without
    learning rates (the first leg's early form) is placed by the file's meta."""
    from molvae.checkpoint import load_checkpoint

    meta = load_checkpoint(start)["meta"]
    lr = meta.get("lr")  # files from before the trainer recorded it are placed by their meta
    if lr is not None and len(table) and "lr" in table and table.lr.notna().any():
        if (row := row_of(lr, table)) is None:
            sys.exit(f"{start}: its learning rate ({lr}) is in no row of the curve; --continues takes the "
                     "campaign's file a leg started from, whose snapshot was scored (e.g. a shipped sampling model)")
        offset = {"step": int(row.step), "epoch": float(row.epoch), "train_hours": float(row.train_hours),
                  "leg": int(row.leg) + 1}
    else:
        before = table[table.step <= meta["step"]] if len(table) else table  # the legs that led to `start`
        offset = {"step": int(meta["step"]), "epoch": float(meta["progress"]),
                  "train_hours": round(meta["elapsed_s"] / 3600, 3), "leg": int(before.leg.max()) + 1 if len(before) else 2}
    if leg:
        if leg < offset["leg"]:
            sys.exit(f"--leg {leg}: a leg restarted from {start} is leg {offset['leg']} or later")
        offset["leg"] = leg
    return offset


def unscored(run: Path, table: pd.DataFrame, offset: dict | None) -> tuple[list[tuple[int, Path]], set]:
    """The run's snapshots (step, path) that have no row yet, and the (step, leg) pairs that have one.
    A snapshot is keyed by its step in the campaign and its leg, as a later leg may repeat an abandoned
    leg's steps."""
    leg, start = (offset["leg"], offset["step"]) if offset else (1, 0)
    done = set(zip(table.step, table.leg)) if len(table) else set()
    snapshots = sorted((p for p in (run / "snapshots").glob("step*.pt") if snapshot_step(p) > 0), key=snapshot_step)
    return [(snapshot_step(p), p) for p in snapshots if (snapshot_step(p) + start, leg) not in done], done


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
    offset = leg_offset(Path(args.continues), table, args.leg) if args.continues else None
    if args.leg and offset is None:
        sys.exit("--leg numbers a later leg: give --continues FILE too")
    todo, done = unscored(run, table, offset)
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


# The targets, read on 30,000 samples of `molvae sample` at novelty >= 0.85 (the aim: FCD at
# JT-VAE's novelty), and the equal-novelty row of the shipped model that measures each one.
GOALS = [  # metric in the curve, target, "<=" or ">=", the MOSES model whose novelty the target is read at
    ("FCD/Test", 1.0, "<=", "CharRNN"), ("FCD/Test", 0.395, "<=", "JT-VAE"), ("Filters", 0.95, ">=", "CharRNN"),
    ("SNN/Test", 0.55, ">=", "CharRNN"), ("redraws", 0.02, "<=", "CharRNN")]
HORIZON = (10.0, 15.0, 20.0)  # epochs: the 10, and the 20 the campaign is sized for


def trend(epochs: np.ndarray, values: np.ndarray, form: str) -> tuple[float, float]:
    """Least squares over the rows: ``log``, value = a + b ln(epoch) (a fixed change per doubling
    of the epochs); ``power``, ln(value) = a + b ln(epoch) (a fixed ratio per doubling)."""
    x = np.log(epochs)
    y = np.log(values) if form == "power" else values
    b, a = np.polyfit(x, y, 1)
    return float(a), float(b)


def predict(fit: tuple[float, float], epochs, form: str) -> np.ndarray:
    a, b = fit
    y = a + b * np.log(np.asarray(epochs, float))
    return np.exp(y) if form == "power" else y


def current_line(table: pd.DataFrame) -> pd.DataFrame:
    """The rows of the campaign's line as it stands: a leg's rows at or past the first epoch a later
    leg has scored are dropped (that leg restarted from an earlier file; those rows were abandoned)."""
    if "leg" not in table or table.leg.nunique() < 2:
        return table
    keep = np.ones(len(table), bool)
    legs = table.leg.to_numpy()
    for leg in sorted(set(legs))[1:]:
        first = table.epoch[legs == leg].min()
        keep &= ~((legs < leg) & (table.epoch.to_numpy(float) >= first))
    return table[keep]


def projection(table: pd.DataFrame, metric: str, form: str, since: float = 1.0, draws: int = 2000,
               seed: int = 0) -> dict | None:
    """A trend of `metric` over the rows from `since` epochs on, extended to HORIZON, with a
    10-90% band from resampling the rows (the half-epoch noise of one seed is most of the spread).
    None with fewer than 6 rows."""
    rows = current_line(table)
    rows = rows[(rows.epoch >= since) & rows[metric].notna()]
    if form == "power":
        rows = rows[rows[metric] > 0]
    e, v = rows.epoch.to_numpy(float), rows[metric].to_numpy(float)
    if len(e) < 6:
        return None
    fit = trend(e, v, form)
    rng = np.random.default_rng(seed)
    fits = []
    for _ in range(draws):
        pick = rng.integers(0, len(e), len(e))
        if len(set(e[pick])) > 2:
            fits.append(trend(e[pick], v[pick], form))
    lo, hi = np.percentile(np.array([predict(f, HORIZON, form) for f in fits]), [10, 90], axis=0)
    return {"fit": fit, "rows": len(e), "at": predict(fit, HORIZON, form), "lo": lo, "hi": hi, "fits": fits}


def reaching(fit: tuple[float, float], form: str, threshold: float, up: bool, limit: float = 100.0) -> float:
    """The epoch (to 0.1, up to `limit`) from which the trend stays past `threshold`; inf if it is not
    past it at `limit` (a trend moving away from the target never reaches it, however it started)."""
    grid = np.arange(1.0, limit + 0.05, 0.1)
    y = predict(fit, grid, form)
    ok = y >= threshold if up else y <= threshold
    if not ok[-1]:
        return float("inf")
    short = np.flatnonzero(~ok)
    return float(grid[short[-1] + 1]) if len(short) else float(grid[0])


def translate(table: pd.DataFrame, anchors: pd.DataFrame, model_epoch: float) -> list[dict]:
    """Each goal as a threshold on the curve's own scale (10,000 samples, W fixed, no ring screen):
    the shipped model's curve row and its equal-novelty row measure the same weights both ways, and
    the difference (a ratio for FCD, a difference for the rest) is assumed to hold as training goes on."""
    line = current_line(table)  # an abandoned leg's row at the same epoch is not these weights
    row = line[np.isclose(line.epoch, model_epoch)].iloc[-1]
    out = []
    for metric, target, sense, at in GOALS:
        ref = anchors[anchors.target == at].iloc[-1]
        curve = row.redrawn + row.large_rings if metric == "redraws" else row[metric]
        shipped = ref.redrawn if metric == "redraws" else ref[metric]
        threshold = target * curve / shipped if metric == "FCD/Test" else target + curve - shipped
        out.append({"metric": metric, "target": target, "sense": sense, "read_at": f"{at} novelty {ref.Novelty:.3f}",
                    "shipped_30k": float(shipped), "curve_same_weights": float(curve), "curve_threshold": float(threshold)})
    return out


def temperatures(table: pd.DataFrame) -> pd.Series:
    """Each equal-novelty row's decoding temperature (rows from before the column was kept were sampled at 1)."""
    column = table.temperature if "temperature" in table else pd.Series(float("nan"), index=table.index)
    return column.fillna(1.0)


def model_meta(model: str) -> dict:
    """A shipped model's (by name) or a checkpoint's meta; empty where the file is not found."""
    from molvae.checkpoint import load_checkpoint
    from molvae.errors import MolvaeError
    from molvae.shipped import resolve_model

    try:
        return load_checkpoint(resolve_model(model))["meta"]
    except (MolvaeError, FileNotFoundError):
        return {}


def stored_temperature(model: str) -> float:
    """The decoding temperature stored with a model's code bank (1 where it stores none, or the file is not found)."""
    return float((model_meta(model).get("prior") or {}).get("temperature", 1.0))


def model_row(model: str, table: pd.DataFrame, hint: str = "") -> pd.Series:
    """The curve's row that holds a model's weights (found by its learning rate); exits, with `hint`,
    where the model is not found or no row holds its rate."""
    meta = model_meta(model)
    if not meta:
        sys.exit(f"{model}: no shipped model of that name and no such checkpoint")
    if (row := row_of(meta.get("lr"), table)) is None:
        sys.exit(f"{model}: its weights are in no row of the curve (no row has its learning rate){hint}")
    return row


def cmd_project(args: argparse.Namespace) -> None:
    """OUT/projection.csv: for each target, the curve's trend (two forms), its value at HORIZON with
    a 10-90% band, the epoch where it would meet the target (after translating the target to the
    curve's scale) and `per_doubling`, what a doubling of the epochs changes: by that much (log
    form) or by that fraction (power form)."""
    table = pd.read_csv(args.out / "campaign.csv")
    table["redraws"] = table.redrawn + table.large_rings  # with the ring screen, a large ring is redrawn too
    anchors = pd.read_csv(args.out / "equal_novelty.csv")
    anchors = anchors[(anchors.model == args.model) & anchors.max_ring.notna()]
    # the rows at the temperature the model's bank decodes at (the CSV may hold others of the same model)
    temperature = args.temperature if args.temperature is not None else stored_temperature(args.model)
    anchors = anchors[np.isclose(temperatures(anchors), temperature)]
    if anchors.empty:
        sys.exit(f"no equal-novelty rows of {args.model} (with its ring screen) in {args.out / 'equal_novelty.csv'}")
    epoch = args.model_epoch if args.model_epoch is not None else float(model_row(args.model, table, "; give --model-epoch").epoch)
    rows = []
    for goal in translate(table, anchors, epoch):
        for form in ("log", "power"):
            proj = projection(table, goal["metric"], form, since=args.since)
            if proj is None:
                continue
            up = goal["sense"] == ">="
            b = proj["fit"][1]  # per doubling of the epochs: a change (log form), a relative change (power form)
            row = {**goal, "form": form, "rows": proj["rows"], "per_doubling": b * np.log(2) if form == "log" else 2.0 ** b - 1}
            for h, at, lo, hi in zip(HORIZON, proj["at"], proj["lo"], proj["hi"]):
                row.update({f"curve_at_{h:g}": at, f"lo_{h:g}": lo, f"hi_{h:g}": hi})
            row["epoch_reaching"] = reaching(proj["fit"], form, goal["curve_threshold"], up)
            # its 10-90% band over the resampled fits (inf: not within 100 epochs)
            ahead = [reaching(f, form, goal["curve_threshold"], up) for f in proj["fits"][:500]]
            row["reaching_lo"], row["reaching_hi"] = np.percentile(ahead, [10, 90], method="nearest")
            rows.append(row)
    out = pd.DataFrame(rows)
    out.to_csv(args.out / "projection.csv", index=False, float_format="%.4g")
    from molvae.io import write_json

    write_json(args.out / "projection.json", script_provenance(anchor=args.model, anchor_epoch=epoch,
                                                                since=args.since, horizon=list(HORIZON)))
    with pd.option_context("display.width", 200, "display.max_columns", 30):
        print(out[["metric", "target", "read_at", "curve_threshold", "form", "curve_at_10", "curve_at_20",
                   "lo_20", "hi_20", "epoch_reaching", "reaching_lo", "reaching_hi"]].to_string(index=False, float_format=lambda v: f"{v:.3f}"))


# The campaign's schedule (docs/quality.md, "The recipe, and why"): a cosine from 5e-4 to 5e-5 over 20
# epochs of MOSES-train; a leg restarted from a file keeps to it over the epochs left.
CAMPAIGN_EPOCHS, LAST_LR = 20.0, 5e-5
SEED_BASE = 5  # leg N trains with seed SEED_BASE + N: leg 1 had 6, leg 2 7, leg 3 8
RECIPE = ["--data", "moses:train", "--beta", "0.6", "--schedule", "constant", "--free-bits", "0", "--word-dropout", "0",
          "--batch-size", "512", "--lr-schedule", "cosine", "--lr-warmup-epochs", "0.05", "--snapshot-epochs", "0.5"]


def new_leg(model: str, table: pd.DataFrame) -> dict:
    """How the campaign goes on from a shipped model after its run folder is lost: the model's place in
    the curve (found by its learning rate), the leg's number (one more than the curve's highest), and
    the ``molvae train`` flags that start it at the rate the cosine had reached there, over the epochs
    left (whole epochs, as the trainer counts them: a model at epoch 8.5 gets 12, and its cosine reaches
    the last rate half an epoch after the 20th), down to the same last rate."""
    import math

    from molvae.shipped import resolve_model

    row = model_row(model, table)
    lr, epoch = float(row.lr), float(row.epoch)
    leg = int(table.leg.max()) + 1
    epochs = math.ceil(CAMPAIGN_EPOCHS - epoch - 1e-9)
    if epochs < 1 or lr <= LAST_LR:
        sys.exit(f"{model} is at epoch {epoch:g}, learning rate {lr:.3g}: the campaign's {CAMPAIGN_EPOCHS:g} epochs "
                 "are done, and there is no leg to go on with")
    flags = ["--init-from", str(resolve_model(model)), *RECIPE, "--epochs", str(epochs), "--lr", f"{lr:.6g}",
             "--lr-final", f"{LAST_LR / lr:.4g}", "--seed", str(SEED_BASE + leg)]
    return {"model": model, "epoch": epoch, "leg": leg, "flags": flags}


def cmd_new_leg(args: argparse.Namespace) -> None:
    """Prints the flags of `new_leg` on one line (campaign_run.sh reads them), and how to score the leg on stderr."""
    plan = new_leg(args.model, pd.read_csv(args.out / "campaign.csv"))
    print(" ".join(plan["flags"]))
    print(f"a new leg ({plan['leg']}) from {plan['model']} (campaign epoch {plan['epoch']:g}): score its snapshots with "
          f"python scripts/studies/campaign.py score RUN --continues {plan['flags'][1]} --leg {plan['leg']}", file=sys.stderr)


def plot(table: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    epochs = table.epoch.to_numpy(float)
    legs = table.leg.to_numpy() if "leg" in table else np.ones(len(table))
    for ax, metric in zip(axes, ("FCD/Test", "Filters")):
        for k, leg in enumerate(sorted(set(legs))):  # a leg restarted from an earlier file overlaps the abandoned one
            mine = legs == leg
            ax.plot(epochs[mine], table[metric][mine], "o-", color=f"C{k}", ms=4,
                    label="molvae campaign" + (f", leg {int(leg)}" if len(set(legs)) > 1 else ""))
        draw_moses(ax, 0 if metric == "FCD/Test" else 1)
        ax.axhline(TARGETS[metric], ls="--", color="k", lw=1, label="target")
        ax.set_xlabel("epochs of MOSES-train in the campaign")
        ax.set_ylabel(metric)
        proj = projection(table, metric, "log")
        if proj is not None:  # the trend a + b ln(epoch) over the rows from epoch 1, extended to 20 epochs
            xs = np.linspace(1.0, max(HORIZON), 100)
            ax.plot(xs, predict(proj["fit"], xs, "log"), ":", color="0.3", lw=1.2,
                    label=f"trend, {proj['fit'][1] * np.log(2):+.3f} per doubling")
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
    s.add_argument("--leg", type=int, default=0,
                   help="with --continues: this leg's number (default: one more than the leg FILE came from); "
                        "give a new one when a second run restarts from the same file")
    s.add_argument("--width", type=float, default=0.7, help="bank width W (fixed over the campaign)")
    s.add_argument("--n", type=int, default=10_000, help="samples per snapshot")
    s.add_argument("--bank", type=int, default=20_000, help="bank size (MOSES-train molecules)")
    s.add_argument("--recon", type=int, default=1000, help="MOSES-test molecules reconstructed")
    s.add_argument("--last", type=int, default=0, help="only the newest K unscored snapshots")
    s.add_argument("--keep-samples", action="store_true", help="keep each row's samples in RUN/curve/")
    p = sub.add_parser("plot", help="redraw the figure from the CSV")
    j = sub.add_parser("project", help="the curve's trends extended to 20 epochs, against the targets (projection.csv)")
    j.add_argument("--model", default=DEFAULTS["sample"],
                   help="the model whose equal-novelty rows translate the targets (default: the shipped sampling model)")
    j.add_argument("--model-epoch", type=float,
                   help="its row in the curve (epochs, on the current line; default: the row with its learning rate)")
    j.add_argument("--temperature", type=float, help="its equal-novelty rows at this temperature (default: its bank's)")
    j.add_argument("--since", type=float, default=1.0, help="fit the rows from this epoch on")
    n = sub.add_parser("new-leg", help="the molvae train flags that go on from the shipped sampling model (a lost run folder)")
    n.add_argument("--model", default=DEFAULTS["sample"], help="the campaign's file to go on from (default: the shipped sampling model)")
    for q in (s, p, j, n):
        q.add_argument("--out", type=Path, default=Path("docs/bench/quality"))
    args = ap.parse_args()
    if args.cmd == "score":
        cmd_score(args)
    elif args.cmd == "project":
        cmd_project(args)
    elif args.cmd == "new-leg":
        cmd_new_leg(args)
    else:
        plot(pd.read_csv(args.out / "campaign.csv"), args.out / "campaign.png")


if __name__ == "__main__":
    main()
