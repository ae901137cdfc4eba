"""Does a campaign snapshot beat the shipped sampling model? The 30,000-sample check that decides a release.

    python scripts/studies/ship_check.py RUN/snapshots/step4614.pt --width 1.2 --temperature 0.5 --label leg3_e8.5
    python scripts/studies/ship_check.py SNAP --width 1.2 --against molvae-moses-v0.9 --work ~/molvae-runs/ship85
    python scripts/studies/ship_check.py SNAP --label leg4_e9.0      # no --width: search the width for the shipped novelty

The snapshot is measured the way the shipped model's card was, with the commands a user runs:

0. Without ``--width``, the width is searched first: a bank at the shipped model's width, then
   ``--search-n`` samples at widths a step apart around it, until the novelty of the shipped
   model's card (or ``--novelty``) lies between two of them; the width is read off a line through
   them (WORK/search.json). The search draws with the check's seed (0) and, by default, as many
   samples as the check: at epoch 9.0 a search on 5,000 samples of another seed put novelty 0.860 at
   W 1.164, where the 30,000 of the check measured 0.867 (its 5,000-sample chunks 0.863-0.868).
   A candidate checked at a higher novelty than the shipped model's pays for it in FCD, at a lower
   one it is flattered: the comparison is fair only at one novelty. The search adds about a minute
   a width (three or four widths).
1. ``molvae fit-prior moses:train -m SNAP --size 20000 --width W --temperature T --seed 0 -o WORK/bank.pt``
2. ``molvae sample -m WORK/bank.pt -n 30000 --seed 0 -o WORK/samples_30k.csv --properties none``
3. ``molvae evaluate WORK/samples_30k.csv -o WORK/metrics_30k``

A step whose output is already in WORK is not run again, so a stopped check goes on where it
stopped; once a step runs, every later step runs too, and WORK/settings.json refuses a check of
other settings (snapshot, width, temperature, sizes) in the same folder. The figures are then set beside the shipped model's (`--against`; its card,
docs/model_card/vX.Y/metrics_30k.json and samples_30k.meta.json) on each of the issue's targets, and
OUT/ship_check_LABEL.json records the commands, the sampler's summary, the metrics, the comparison
and the verdict. The verdict is the release rule of docs/quality.md: the candidate's novelty is at
least 0.85, its FCD/Test is lower than the shipped model's, and it is no worse on Filters, SNN/Test,
unique@10k or the redraws, except that a redraw rate within the 2% target is not held against it.
The note's decision is a person's; the verdict says which rule each measure passed.

The three steps take about 11 minutes of both cores on the AVX2-only AMD EPYC (most of it the
metrics): pause a training run meanwhile rather than share the cores with it.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # scripts/harness.py, shared by the benchmarks and studies
from harness import script_provenance

from molvae.shipped import DEFAULTS

from equal_novelty import search, width_for  # the novelty of a grid of widths, and the width of a novelty

ROOT = Path(__file__).resolve().parents[2]
MIN_NOVELTY = 0.85
MAX_REDRAWN = 0.02
# measure, which way is better, and whether a tie passes (FCD must fall: it is what a release buys)
MEASURES = [("FCD/Test", "lower", False), ("Filters", "higher", True), ("SNN/Test", "higher", True),
            ("unique@10k", "higher", True), ("redrawn", "lower", True)]


def commands(snapshot: Path, work: Path, width: float, temperature: float, n: int, bank: int) -> list[tuple[Path, list[str]]]:
    """The three steps, each with the file that shows it is done."""
    molvae = [sys.executable, "-m", "molvae"]
    samples = work / f"samples_{n // 1000}k.csv"
    metrics = work / f"metrics_{n // 1000}k"
    return [
        (work / "bank.pt", fit_prior(snapshot, work / "bank.pt", width, temperature, bank)),
        (samples.with_name(samples.name + ".meta.json"),
         [*molvae, "sample", "-m", str(work / "bank.pt"), "-n", str(n), "--seed", "0", "-o", str(samples), "--properties", "none", "-q"]),
        (metrics.with_suffix(".json"), [*molvae, "evaluate", str(samples), "-o", str(metrics), "-q"]),
    ]


def fit_prior(snapshot: Path, out: Path, width: float, temperature: float, bank: int) -> list[str]:
    """The molvae fit-prior command of a check's bank (seed 0, from MOSES-train)."""
    return [sys.executable, "-m", "molvae", "fit-prior", "moses:train", "-m", str(snapshot), "--size", str(bank),
            "--width", f"{width:g}", "--temperature", f"{temperature:g}", "--seed", "0", "-o", str(out), "-q"]


def line_width(novelty: float, grid) -> float:
    """The width at which a least-squares line of novelty on width reaches `novelty`."""
    slope, intercept = np.polyfit(grid.width.to_numpy(float), grid.novelty.to_numpy(float), 1)
    if slope <= 0:
        sys.exit(f"novelty does not rise with the width over {sorted(grid.width)}: give --width")
    return round(float((novelty - intercept) / slope), 3)


def find_width(snapshot: Path, work: Path, novelty: float, start: float, temperature: float, bank: int,
               n: int, step: float = 0.1, tries: int = 6) -> dict:
    """The bank width at which `n` samples of `snapshot` have `novelty`: widths `step` apart from
    `start`, extended on the side the novelty lies until it is bracketed (at most `tries` widths
    more), then read off a straight line fitted to the grid's points (one sample's novelty is noisy
    by about 0.005, which a line through three points averages better than two neighbours). Kept in
    WORK/search.json, which a later call with the same settings reads."""
    path = work / "search.json"
    settings = {"snapshot": str(snapshot.resolve()), "novelty": novelty, "start": start, "temperature": temperature,
                "bank": bank, "n": n}
    if path.is_file() and (found := json.loads(path.read_text())).get("settings") == settings:
        print(f"width: searched before ({path}): W {found['width']:g} for novelty {novelty:.4f}", flush=True)
        return found
    import pandas as pd

    from molvae import MolVAE
    from molvae.io import resolve_data_path

    bank_path = work / "search_bank.pt"
    subprocess.run(fit_prior(snapshot, bank_path, start, temperature, bank), check=True)
    vae = MolVAE.load(bank_path, device="cpu", precision="fp32", use="sample")  # as molvae sample, which the check runs
    train = resolve_data_path("moses:train")
    print(f"searching the width for novelty {novelty:.4f} on {n:,} samples", flush=True)
    grid = search(vae, [round(start - step, 3), start, round(start + step, 3)], n, train, "auto", temperature, seed=0)
    for _ in range(tries):
        if width_for(novelty, grid) is not None:
            break
        lo, hi = grid.width.min(), grid.width.max()
        more = round(hi + step, 3) if grid.novelty.max() < novelty else round(lo - step, 3)
        if more <= 0:
            break
        grid = pd.concat([grid, search(vae, [more], n, train, "auto", temperature, seed=0)], ignore_index=True)
    if width_for(novelty, grid) is None:
        sys.exit(f"novelty {novelty:.4f} is outside {grid.novelty.min():.4f}-{grid.novelty.max():.4f} over widths "
                 f"{grid.width.min():g}-{grid.width.max():g}: give --width")
    width = line_width(novelty, grid)
    found = {"settings": settings, "width": width, "grid": grid.sort_values("width").to_dict(orient="records")}
    path.write_text(json.dumps(found, indent=1) + "\n")
    print(f"width: W {width:g} for novelty {novelty:.4f}", flush=True)
    return found


def same_settings(work: Path, settings: dict) -> None:
    """Records the check's settings in WORK/settings.json, or exits if the folder holds another check's."""
    path = work / "settings.json"
    if path.is_file() and (before := json.loads(path.read_text())) != settings:
        changed = ", ".join(f"{k} {before.get(k)} -> {v}" for k, v in settings.items() if before.get(k) != v)
        sys.exit(f"{work} holds a check of other settings ({changed}): give another --label or --work")
    path.write_text(json.dumps(settings, indent=1) + "\n")


def card_figures(model: str) -> dict:
    """The shipped model's 30,000-sample figures from its model card folder (docs/model_card/vX.Y)."""
    version = model.rsplit("-", 1)[-1]
    folder = ROOT / "docs" / "model_card" / version
    metrics, meta = folder / "metrics_30k.json", folder / "samples_30k.meta.json"
    if not (metrics.is_file() and meta.is_file()):
        sys.exit(f"{model}: its card's 30,000-sample figures are not in {folder} (metrics_30k.json, samples_30k.meta.json)")
    return figures(json.loads(metrics.read_text())["metrics"], json.loads(meta.read_text())["summary"])


def figures(metrics: dict, summary: dict) -> dict:
    """The measures the release rule reads, from `molvae evaluate`'s metrics and `molvae sample`'s summary."""
    out = {k: float(metrics[k]) for k in ("FCD/Test", "Filters", "SNN/Test", "Scaf/Test", "IntDiv", "unique@10k", "Novelty")}
    out["redrawn"] = float(summary["redrawn"])
    return out


def verdict(candidate: dict, shipped: dict) -> dict:
    """Each measure of the release rule, passed or not, and whether all passed (``ships``)."""
    checks = [{"measure": "Novelty", "candidate": candidate["Novelty"], "shipped": shipped["Novelty"],
               "rule": f">= {MIN_NOVELTY}", "passed": candidate["Novelty"] >= MIN_NOVELTY}]
    for measure, better, tie in MEASURES:
        c, s = candidate[measure], shipped[measure]
        passed = (c < s or (tie and c == s)) if better == "lower" else (c > s or (tie and c == s))
        rule = f"{'<' if better == 'lower' else '>'}{'=' if tie else ''} shipped"
        if measure == "redrawn":
            passed = passed or c <= MAX_REDRAWN
            rule += f", or <= {MAX_REDRAWN:.0%}"
        checks.append({"measure": measure, "candidate": c, "shipped": s, "rule": rule, "passed": bool(passed)})
    return {"ships": all(c["passed"] for c in checks), "checks": checks}


def table(result: dict, against: str) -> str:
    rows = [f"| measure | candidate | {against} | rule | passed |", "|---|---:|---:|---|---|"]
    for c in result["checks"]:
        rows.append(f"| {c['measure']} | {c['candidate']:.4f} | {c['shipped']:.4f} | {c['rule']} | {'yes' if c['passed'] else '**no**'} |")
    return "\n".join(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("snapshot", type=Path, help="the campaign's weights (RUN/snapshots/stepN.pt)")
    ap.add_argument("--width", type=float, help="the bank's width W (default: searched for the shipped model's novelty)")
    ap.add_argument("--novelty", type=float, help="the novelty the width search aims at (default: the shipped model's, from its card)")
    ap.add_argument("--search-n", type=int, help="samples per width in the search (default: --n)")
    ap.add_argument("--temperature", type=float, default=0.5, help="the decoding temperature stored with the bank")
    ap.add_argument("--label", required=True, help="names the record: OUT/ship_check_LABEL.json (e.g. leg3_e8.5)")
    ap.add_argument("--against", default=DEFAULTS["sample"], help="the shipped model to beat (default: the sampling default)")
    ap.add_argument("--n", type=int, default=30_000, help="samples")
    ap.add_argument("--bank", type=int, default=20_000, help="bank size (MOSES-train molecules)")
    ap.add_argument("--work", type=Path, help="where the bank, samples and metrics go (default: RUN/ship_LABEL, beside RUN/snapshots)")
    ap.add_argument("--out", type=Path, default=Path("docs/bench/quality"))
    args = ap.parse_args()
    if not args.snapshot.is_file():
        sys.exit(f"{args.snapshot}: no such file")
    shipped = card_figures(args.against)  # before the 11 minutes, so a wrong name fails at once
    work = args.work or args.snapshot.parent.parent / f"ship_{args.label}"
    work.mkdir(parents=True, exist_ok=True)
    searched = None
    if args.width is None:
        from molvae import MolVAE

        start = MolVAE.load(args.against, device="cpu", use="sample").prior.width
        searched = find_width(args.snapshot, work, args.novelty or shipped["Novelty"], start, args.temperature,
                              args.bank, args.search_n or args.n)
        args.width = searched["width"]
    same_settings(work, {"snapshot": str(args.snapshot.resolve()), "width": args.width, "temperature": args.temperature,
                         "n": args.n, "bank": args.bank})
    steps = commands(args.snapshot, work, args.width, args.temperature, args.n, args.bank)
    seconds, ran = {}, False
    for done, cmd in steps:
        name = cmd[3]
        if done.is_file() and not ran:  # a later step's old output does not describe a step run again
            print(f"{name}: done before ({done})", flush=True)
            continue
        ran = True
        print(" ".join(cmd[1:]), flush=True)
        tick = time.perf_counter()
        subprocess.run(cmd, check=True)
        seconds[name] = round(time.perf_counter() - tick, 1)
    summary = json.loads(steps[1][0].read_text())["summary"]
    metrics = json.loads(steps[2][0].read_text())["metrics"]
    candidate = figures(metrics, summary)
    result = verdict(candidate, shipped)
    record = script_provenance(
        what=f"ship check of {args.snapshot} against {args.against}: a bank of {args.bank:,} MOSES-train molecules at "
             f"W {args.width:g}, decoded at temperature {args.temperature:g}, {args.n:,} samples",
        commands=["python -m molvae " + " ".join(cmd[3:]) for _, cmd in steps], seconds=seconds,
        width_search=searched, sample_summary=summary, metrics=metrics, against={"model": args.against, "figures": shipped}, **result)
    from molvae.io import write_json

    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"ship_check_{args.label}.json"
    write_json(path, record)
    print(table(result, args.against))
    print(f"{'ships' if result['ships'] else 'does not ship'}: {path}")


if __name__ == "__main__":
    main()
