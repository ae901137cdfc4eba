"""molvae evaluate (the MOSES metrics of generated molecules) and molvae diagnose (posterior collapse)."""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd

from molvae.cli.common import add_cleaning_flags, add_model_flags, add_verb, load_model, non_negative
from molvae.io import provenance, write_json


def add_parsers(sub) -> None:
    p = add_verb(sub, "evaluate", run_evaluate, help="MOSES metrics of a file of generated molecules", description=(
        "Compute the MOSES metric suite (Polykovskiy et al. 2020) for generated SMILES: validity, "
        "unique@1k/10k, novelty, FCD, SNN, Frag and Scaf against the test and scaffold-test sets, "
        "IntDiv1/2, Filters, and Wasserstein distances of logP, SA, QED and weight. Empty or invalid "
        "rows count as invalid. Writes PREFIX.csv (metric, value) and PREFIX.json (with provenance)."))
    p.add_argument("samples", help="CSV/SMI/TXT of generated SMILES (e.g. the output of molvae sample)")
    p.add_argument("--smiles-column", help="SMILES column name (default: detect)")
    p.add_argument("--train", default="moses:train", help="training set for novelty, or 'none' (default: moses:train)")
    p.add_argument("--test", default="moses:test", help="test set (default: moses:test, stored statistics)")
    p.add_argument("--test-scaffolds", default="moses:test_scaffolds",
                   help="scaffold test set, or 'none' (default: moses:test_scaffolds)")
    p.add_argument("-o", "--output", help="output prefix (default: SAMPLES_metrics beside the samples)")
    p.add_argument("--workers", type=int, default=0, help="processes for RDKit work (default: all cores)")
    p.add_argument("--device", default="auto", help="device for ChemNet (FCD): auto, cpu, cuda (default: auto)")

    p = add_verb(sub, "diagnose", run_diagnose, help="posterior-collapse diagnostics of a model, with plots", description=(
        "Encode molecules and report what the latent space holds: KL (total and per dimension), active "
        "units (posterior-mean variance over molecules > 0.01), the mutual information I(x; z), exact "
        "greedy reconstruction. Writes OUT/diagnostics.json, kl_per_dim.csv, kl_per_dim.png and, from the "
        "checkpoint's history, training_curves.png (reconstruction, KL, beta, active units per epoch)."))
    add_model_flags(p)
    p.add_argument("--data", default="moses:test", help="molecules to encode (default: moses:test)")
    p.add_argument("--smiles-column", help="SMILES column name (default: detect)")
    p.add_argument("--limit", type=non_negative(int), default=2000, help="first N rows (default: 2000; 0 = all)")
    add_cleaning_flags(p)
    p.add_argument("-o", "--output", default="diagnostics", help="output folder (default: diagnostics)")


def run_evaluate(args) -> int:
    from molvae.cache import file_sha256
    from molvae.data import canonical_set
    from molvae.device import resolve_device
    from molvae.io import read_smiles, resolve_data_path
    from molvae.metrics import evaluate, load_reference

    samples_path = resolve_data_path(args.samples)
    samples = read_smiles(samples_path, args.smiles_column)
    progress = not args.quiet
    device = str(resolve_device(args.device))
    refs = {"Test": load_reference(args.test, args.workers or None, device, progress=progress)}
    if args.test_scaffolds.lower() != "none":
        refs["TestSF"] = load_reference(args.test_scaffolds, args.workers or None, device, progress=progress)
    train = None
    if args.train.lower() != "none":
        train = canonical_set(resolve_data_path(args.train), workers=args.workers or None, progress=progress)
    start = time.perf_counter()
    result = evaluate(samples.tolist(), refs, train, workers=args.workers or None, device=device, progress=progress)
    seconds = time.perf_counter() - start
    prefix = Path(args.output) if args.output else samples_path.with_name(samples_path.name.split(".")[0] + "_metrics")
    prefix.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"metric": list(result), "value": list(result.values())}).to_csv(
        prefix.with_name(prefix.name + ".csv"), index=False)
    write_json(prefix.with_name(prefix.name + ".json"), provenance(
        samples={"path": str(samples_path.resolve()), "sha256": file_sha256(samples_path), "rows": len(samples)},
        references={k: str(v) for k, v in (("Test", args.test), ("TestSF", args.test_scaffolds), ("train", args.train))},
        seconds=round(seconds, 1), metrics=result))
    width = max(map(len, result))
    for k, v in result.items():
        print(f"{k:<{width}}  {v:.4f}")
    print(f"{len(samples)} rows evaluated in {seconds:.1f} s; wrote {prefix}.csv and {prefix}.json")
    return 0


def run_diagnose(args) -> int:
    from molvae.io import read_smiles, resolve_data_path
    from molvae.latent import collapse_warning
    from molvae.plots import kl_per_dimension_bar, training_curves
    from molvae.space import diagnose

    vae = load_model(args)
    smiles = read_smiles(resolve_data_path(args.data), args.smiles_column)
    if args.limit:
        smiles = smiles.iloc[: args.limit]
    figures, kl, active = diagnose(vae, smiles.tolist())
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"dimension": [f"z{i}" for i in range(len(kl))], "kl_nats": kl, "active": active}).to_csv(
        out / "kl_per_dim.csv", index=False)
    kl_per_dimension_bar(kl, out / "kl_per_dim.png", active=active)
    history = vae.meta.get("history") or []
    if history:
        training_curves(history, out / "training_curves.png")
    write_json(out / "diagnostics.json", provenance(vae.path, data=str(args.data), figures=figures))
    width = max(map(len, figures))
    for k, v in figures.items():
        print(f"{k:<{width}}  {v:.4g}" if isinstance(v, float) else f"{k:<{width}}  {v}")
    warning = collapse_warning(figures)
    if warning:
        print(f"warning: {warning}")
    plots = ["kl_per_dim.png"] + (["training_curves.png"] if history else [])
    print(f"wrote {out}/: diagnostics.json, kl_per_dim.csv, " + ", ".join(plots))
    return 0
