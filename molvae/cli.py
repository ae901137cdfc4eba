"""The ``molvae`` command: thin verbs over the Python API.

    molvae train [--config run.toml] [flags]        train a model (flags override the TOML)
    molvae sample -m best.pt -n 1000 -o out.csv     sample the prior
    molvae reconstruct IN.csv -m best.pt -o out.csv encode and decode molecules
    molvae evaluate samples.csv                     the MOSES metrics of generated molecules

Exit status: 0 success; 2 a user error (bad input file, flag, config or checkpoint; a path that cannot
be read or written), printed as one line without a traceback; 1 an internal error (a bug), printed
with its traceback; 130 interrupted.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
import traceback
from pathlib import Path

import numpy as np
import pandas as pd

from molvae import __version__
from molvae.errors import MolvaeError

EXIT_USER_ERROR = 2
EXIT_INTERNAL_ERROR = 1

# CLI flag names that differ from the config field name.
FLAG_NAMES = {("data", "train"): "data", ("data", "val"): "val-data"}


def _add_config_flags(parser: argparse.ArgumentParser) -> dict[str, str]:
    """One flag per config field, grouped by section; returns {argparse dest: 'section.field'}."""
    from molvae.config import SECTIONS

    dests = {}
    for section, kind in SECTIONS.items():
        group = parser.add_argument_group(f"[{section}] settings (also settable in the TOML config)")
        for f in dataclasses.fields(kind):
            flag = FLAG_NAMES.get((section, f.name), f.name.replace("_", "-"))
            dest = f"cfg_{section}_{f.name}"
            group.add_argument(f"--{flag}", dest=dest, default=None, metavar=type(f.default).__name__.upper()
                               if f.default is not None else "STR",
                               help=f"{f.metadata.get('help', '')} (default: {f.default!r})")
            dests[dest] = f"{section}.{f.name}"
    return dests


def _positive(kind: type):
    """An argparse type: a number of `kind` above zero, with a one-line error otherwise."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a {'whole ' if kind is int else ''}number, got {text!r}") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be above 0, got {value}")
        return value

    return parse


def _add_model_flags(p: argparse.ArgumentParser) -> None:
    """-m, --device and --precision: the flags of every verb that runs a trained model."""
    p.add_argument("-m", "--model", help="checkpoint to use (default: the model shipped with molvae)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda (default: auto)")
    p.add_argument("--precision", default="fp32", choices=["fp32", "bf16", "fp16", "auto"], help=(
        "network arithmetic; bf16 is about 2x faster on CPUs with native bf16 (default: fp32)"))


def _add_input_flags(p: argparse.ArgumentParser, limit: int = 0) -> None:
    """INPUT, --smiles-column and --limit: the flags of every verb that reads a file of molecules."""
    p.add_argument("input", help="CSV/SMI/TXT file of SMILES, or moses:test etc.")
    p.add_argument("--smiles-column", help="SMILES column name (default: detect)")
    p.add_argument("--limit", type=int, default=limit, help=(
        f"only the first N rows (default: {limit:,}; 0 = all)" if limit else "only the first N rows (default: all)"))
    p.add_argument("--largest-fragment", action="store_true", help=(
        "keep the largest fragment of salts and mixtures (CCN.Cl -> CCN; the output's input column then holds "
        "that fragment) instead of rejecting them"))


def _provenance(out: Path, args: argparse.Namespace, extra: dict) -> None:
    """Write ``OUT.meta.json`` beside an output CSV: what made it."""
    from molvae.cache import file_sha256

    info = {"command": " ".join(sys.argv), "molvae": __version__, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    model = getattr(args, "model", None)
    if model:
        info["model"] = {"path": str(Path(model).resolve()), "sha256": file_sha256(Path(model))}
    info.update(extra)
    out.with_name(out.name + ".meta.json").write_text(json.dumps(info, indent=2, default=str) + "\n")


def _load_model(args):
    from molvae.api import MolVAE

    return MolVAE.load(args.model, device=args.device, precision=args.precision)


# ------------------------------------------------------------------ verbs


def cmd_train(args, dests) -> int:
    from molvae.api import train
    from molvae.config import load_config

    overrides = {dests[d]: v for d, v in vars(args).items() if d in dests and v is not None}
    config = load_config(args.config, overrides)
    from molvae.device import distributed_rank

    rank, world, _ = distributed_rank()
    out = Path(args.out or f"runs/{time.strftime('%Y%m%d-%H%M%S')}")
    if rank == 0:
        print(f"# molvae {__version__} train -> {out}" + (f" ({world} processes)" if world > 1 else ""))
        print(f"# resolved config (saved as {out / 'config.toml'}):\n{config.to_toml()}")
    best = train(config, out, resume=args.resume, progress=not args.quiet)
    if rank == 0:
        rejects = len(pd.read_csv(out / "rejects.csv"))
        print(f"best model: {best}\nlog: {out / 'log.csv'}\nrejected training rows: {rejects} (see {out / 'rejects.csv'})")
    return 0


def cmd_sample(args) -> int:
    vae = _load_model(args)
    out = Path(args.output)
    summary = vae.sample_to_csv(out, args.num, temperature=args.temperature, greedy=args.greedy,
                                batch_size=args.batch_size, seed=args.seed, valid_only=not args.keep_invalid,
                                workers=args.workers if args.workers >= 0 else None, progress=not args.quiet,
                                properties=args.properties)
    _provenance(out, args, {"seed": args.seed, "temperature": args.temperature, "greedy": args.greedy,
                            "precision": args.precision, "properties": args.properties, "summary": summary})
    print(f"wrote {out}: " + ", ".join(f"{k}={v}" for k, v in summary.items()))
    _print_property_summary(out, args.properties)
    return 0


def _print_property_summary(path: Path, names: str) -> None:
    """Mean, sd and range of each property column of a sample CSV (read back column by column)."""
    from molvae import properties as props

    cols = props.resolve(names)
    if not cols:
        return
    df = pd.read_csv(path, usecols=cols)
    table = df.describe().T[["mean", "std", "min", "max"]]
    print("properties of the valid molecules:")
    print(table.round(3).to_string())


def cmd_reconstruct(args) -> int:
    smiles = _read_input(args)
    vae = _load_model(args)
    df = vae.reconstruct(smiles.tolist(), greedy=not args.sample, batch_size=args.batch_size, spellings=args.spellings)
    df.insert(0, "row", smiles.index)
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(out, index=False)
    encodable = df[df.reason == ""]
    summary = {"rows": len(df), "encoded": len(encodable), "rejected": int((df.reason != "").sum()),
               "exact_match": round(float(encodable.exact.mean()) if len(encodable) else 0.0, 4)}
    _provenance(out, args, {"input": str(args.input), "summary": summary})
    print(f"wrote {out}: " + ", ".join(f"{k}={v}" for k, v in summary.items()))
    _print_reject_reasons(df.reason)
    return 0


def _print_reject_reasons(reasons: pd.Series) -> None:
    """How many rows were rejected for each kind of reason (nothing when none were)."""
    from molvae.space import reason_kind

    reasons = reasons[reasons.fillna("") != ""]
    _print_reject_counts(reasons.map(reason_kind).value_counts().to_dict())


def _print_reject_counts(counts: dict[str, int]) -> None:
    if counts:
        width = max(map(len, counts))
        print("rejected rows by reason:\n" + "\n".join(f"  {k:<{width}}  {v}" for k, v in counts.items()))


def cmd_diagnose(args) -> int:
    from molvae.space import diagnose
    from molvae.io import read_smiles, resolve_data_path
    from molvae.latent import collapse_warning
    from molvae.plots import kl_per_dimension_bar, training_curves

    vae = _load_model(args)
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
    info = {"command": " ".join(sys.argv), "molvae": __version__, "data": str(args.data), "figures": figures}
    (out / "diagnostics.json").write_text(json.dumps(info, indent=2, default=float) + "\n")
    width = max(map(len, figures))
    for k, v in figures.items():
        print(f"{k:<{width}}  {v:.4g}" if isinstance(v, float) else f"{k:<{width}}  {v}")
    warning = collapse_warning(figures)
    if warning:
        print(f"warning: {warning}")
    plots = ["kl_per_dim.png"] + (["training_curves.png"] if history else [])
    print(f"wrote {out}/: diagnostics.json, kl_per_dim.csv, " + ", ".join(plots))
    return 0


def cmd_evaluate(args) -> int:
    from molvae.cache import file_sha256
    from molvae.data import canonical_set
    from molvae.io import read_smiles, resolve_data_path
    from molvae.metrics import evaluate, load_reference
    from molvae.device import resolve_device

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
    table = pd.DataFrame({"metric": list(result), "value": list(result.values())})
    table.to_csv(prefix.with_name(prefix.name + ".csv"), index=False)
    info = {"command": " ".join(sys.argv), "molvae": __version__, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "samples": {"path": str(samples_path.resolve()), "sha256": file_sha256(samples_path), "rows": len(samples)},
            "references": {k: str(v) for k, v in (("Test", args.test), ("TestSF", args.test_scaffolds), ("train", args.train))},
            "seconds": round(seconds, 1), "metrics": result}
    prefix.with_name(prefix.name + ".json").write_text(json.dumps(info, indent=2, default=float) + "\n")
    width = max(map(len, result))
    for k, v in result.items():
        print(f"{k:<{width}}  {v:.4f}")
    print(f"{len(samples)} rows evaluated in {seconds:.1f} s; wrote {prefix}.csv and {prefix}.json")
    return 0


def _read_input(args):
    from molvae.io import read_smiles, resolve_data_path

    smiles = read_smiles(resolve_data_path(args.input), args.smiles_column)
    if getattr(args, "limit", 0):
        smiles = smiles.iloc[: args.limit]
    if getattr(args, "largest_fragment", False):
        from molvae.chem import largest_fragment

        smiles = smiles.map(largest_fragment)
    return smiles


def _with_suffix(path: Path, suffix: str) -> Path:
    """`path` with its (last) suffix replaced, e.g. the PNG beside an output CSV."""
    return path.with_name(path.name.rsplit(".", 1)[0] + suffix) if "." in path.name else path.with_name(path.name + suffix)


def cmd_encode(args) -> int:
    from molvae.space import encode_to_file, embedding_format, rejects_path

    out = Path(args.output)
    embedding_format(out)  # a bad suffix is reported before the model loads
    smiles = _read_input(args)
    vae = _load_model(args)
    summary = encode_to_file(vae, smiles.tolist(), out, logvar=args.logvar, batch_size=args.batch_size,
                             progress=not args.quiet, spellings=args.spellings)
    _provenance(out, args, {"input": str(args.input), "logvar": args.logvar, "summary": summary})
    print(f"wrote {out}: {summary['encoded']} of {summary['rows']} rows encoded"
          + (f"; {summary['rejected']} rejected (see {rejects_path(out)})" if summary["rejected"] else ""))
    _print_reject_counts(summary["reasons"])
    return 0


def cmd_interpolate(args) -> int:
    from molvae.plots import molecule_grid
    from molvae.space import interpolate

    vae = _load_model(args)
    df = interpolate(vae, args.start, args.end, steps=args.steps, method=args.method)
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(out, index=False)
    _provenance(out, args, {"start": args.start, "end": args.end, "steps": args.steps, "method": args.method})
    grid = _with_suffix(out, ".png")
    first = df[df.method == df.method.iloc[0]]
    molecule_grid(first.smiles.tolist(), grid, per_row=min(len(first), 6),
                  legends=[f"t={t:.2f}  sim {a:.2f}/{b:.2f}" for t, a, b in zip(first.t, first.sim_start, first.sim_end)])
    with pd.option_context("display.width", 160, "display.max_colwidth", 60):
        print(df.round(3).to_string(index=False))
    for method, part in df.groupby("method", sort=False):
        print(f"{method}: {part.valid.mean():.0%} valid, {part.smiles.nunique()} distinct molecules, {int(part.new.sum())} new on the path")
    print(f"wrote {out} and {grid} ({first.method.iloc[0]} path)")
    return 0


def cmd_explore(args) -> int:
    from molvae.plots import molecule_grid
    from molvae.space import explore

    vae = _load_model(args)
    df = explore(vae, args.smiles, n=args.num, radius=args.radius, seed=args.seed, properties=args.properties)
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(out, index=False)
    _provenance(out, args, {"smiles": args.smiles, "n": args.num, "radius": args.radius, "seed": args.seed})
    grid = _with_suffix(out, ".png")
    top = df.head(args.grid)
    molecule_grid(top.smiles.tolist(), grid, legends=[f"sim {s:.2f}" + (" (start)" if st else "")
                                                      for s, st in zip(top.similarity, top.is_start)])
    with pd.option_context("display.width", 160, "display.max_colwidth", 60):
        print(df.head(10).round(3).to_string(index=False))
    print(f"{len(df)} distinct molecules from {args.num} points at radius {args.radius:g}; wrote {out} and {grid}")
    return 0


def cmd_score(args) -> int:
    from molvae.space import score

    smiles = _read_input(args)
    vae = _load_model(args)
    df = score(vae, smiles.tolist(), k=args.k, batch_size=args.batch_size, seed=args.seed, progress=not args.quiet)
    df["row"] = smiles.index
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(out, index=False, float_format="%.6g")
    scored = df[df.reason == ""]
    summary = {"rows": len(df), "scored": len(scored), "rejected": len(df) - len(scored)}
    _provenance(out, args, {"input": str(args.input), "k": args.k, "seed": args.seed, "summary": summary})
    print(f"wrote {out}: " + ", ".join(f"{k}={v}" for k, v in summary.items()))
    if len(scored):
        print(scored[["neg_elbo", "nll", "nll_per_token", "recon_log_prob"]].describe().T[["mean", "std", "min", "max"]].round(3).to_string())
    _print_reject_reasons(df.reason)
    return 0


def cmd_map(args) -> int:
    from molvae import properties as props
    from molvae.plots import latent_map, project_2d

    smiles = _read_input(args)
    vae = _load_model(args)
    mols = vae.prepare(smiles.tolist())
    mu = vae.encode_set(mols)[0]
    canon = mols.smiles
    values = props.compute(canon, [args.color], workers=1)[args.color].to_numpy() if args.color != "none" else None
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    xy = project_2d(mu, args.method)
    latent_map(mu, out, values=values, label=args.color, method=args.method, xy=xy,
               title=f"{args.method.upper()} of {len(mols)} molecules from {Path(str(args.input)).name}")
    ok = np.zeros(len(smiles), dtype=bool)
    ok[mols.rows] = True
    coords = pd.DataFrame({"row": smiles.index[ok], "smiles": canon, "x": xy[:, 0], "y": xy[:, 1]})
    if values is not None:
        coords[args.color] = values
    coords.to_csv(_with_suffix(out, ".csv"), index=False, float_format="%.6g")
    print(f"wrote {out} and {_with_suffix(out, '.csv')}: {int(ok.sum())} of {len(smiles)} rows placed"
          + (f" ({int((~ok).sum())} could not be encoded; molvae encode lists why)" if (~ok).any() else ""))
    return 0


def cmd_properties(args) -> int:
    from molvae import properties as props
    from molvae.chem import canonical_many, quiet_rdkit

    names = props.resolve(args.properties)
    smiles = _read_input(args)
    with quiet_rdkit():
        canon = canonical_many(smiles.tolist())
    table = props.compute(canon, names, workers=args.workers or None, progress=not args.quiet)
    if args.reference:
        table["similarity"] = props.tanimoto(canon, props.canonical(args.reference))
    table.insert(0, "canonical", [c or "" for c in canon])
    table.insert(0, "input", smiles.tolist())
    table.insert(0, "row", smiles.index)
    bad = [c is None for c in canon]
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    table[[not b for b in bad]].to_csv(out, index=False, float_format="%.6g")
    rejects = pd.DataFrame({"row": smiles.index[bad], "input": smiles[bad].tolist(),
                            "reason": ["empty SMILES" if not s else "RDKit cannot parse the SMILES" for s in smiles[bad]]})
    rejects.to_csv(_with_suffix(out, ".rejects.csv"), index=False)
    summary = {"rows": len(smiles), "written": int(len(smiles) - sum(bad)), "rejected": int(sum(bad))}
    _provenance(out, args, {"input": str(args.input), "properties": names, "reference": args.reference, "summary": summary})
    print(f"wrote {out}: " + ", ".join(f"{k}={v}" for k, v in summary.items())
          + (f" (see {_with_suffix(out, '.rejects.csv')})" if summary["rejected"] else ""))
    _print_reject_reasons(rejects.reason)
    return 0


def cmd_optimize(args) -> int:
    from molvae.optimize import load_spec, optimize, spec_objects, summary
    from molvae.plots import score_vs_calls

    if args.spec:
        objective, search = load_spec(args.spec)
    else:
        if not args.maximize and not args.minimize:
            raise MolvaeError("give a spec file, or --maximize / --minimize PROPERTY")
        spec = {"objective": {k: v for k, v in (("maximize", args.maximize), ("minimize", args.minimize)) if v}}
        if args.similarity_min is not None:
            spec["constraints"] = {"similarity_min": args.similarity_min}
        if args.start:
            spec["search"] = {"start": args.start}
        objective, search = spec_objects(spec)
    overrides = {k: getattr(args, k) for k in ("method", "budget", "seed", "start", "batch_size", "start_count")
                 if getattr(args, k) is not None}
    if args.start_from is not None:
        overrides["start_molecules"] = args.start_from
    search = dataclasses.replace(search, **overrides)
    if search.start and objective.start != search.start:
        objective = dataclasses.replace(objective, start=search.start)
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    resolved = {"search": dataclasses.asdict(search), "objective": [dataclasses.asdict(t) for t in objective.terms],
                "constraints": {k: v for k, v in vars(objective.constraints).items() if not k.startswith("_")}}
    print("# resolved optimization settings:\n" + json.dumps(resolved, indent=2))
    vae = _load_model(args)
    start = time.perf_counter()
    table = optimize(vae, objective, search)
    if args.train.lower() != "none" and len(table):
        from molvae.data import canonical_set
        from molvae.io import resolve_data_path

        train = canonical_set(resolve_data_path(args.train), progress=not args.quiet)
        table["novel"] = ~table.smiles.isin(train)
    table.to_csv(out / "proposals.csv", index=False, float_format="%.6g")
    result = summary(table, k=args.top)
    result["seconds"] = round(time.perf_counter() - start, 1)
    info = {"command": " ".join(sys.argv), "molvae": __version__, "settings": resolved, "summary": result}
    (out / "summary.json").write_text(json.dumps(info, indent=2, default=float) + "\n")
    score_vs_calls({search.method: table}, out / "score_vs_calls.png",
                   title=f"{search.method}, {len(table)} oracle calls")
    if search.start_molecules is not None and len(table):
        print(f"{int((table.step == 0).sum())} start molecules scored first (round 0 of proposals.csv)")
    print(f"{result['calls']} oracle calls ({result['feasible']} feasible) in {result['seconds']} s; best:")
    for i, row in enumerate(result["top"], 1):
        print(f"  {i}. {row['score']:.4f}  {row['smiles']}  (call {row['call']})")
    print(f"wrote {out}/proposals.csv, summary.json, score_vs_calls.png")
    return 0


def cmd_fit_predictor(args) -> int:
    from molvae.predictors import fit_predictor

    smiles = _read_input(args)
    vae = _load_model(args)
    predictor, metrics = fit_predictor(vae, smiles.tolist(), args.properties, epochs=args.epochs, seed=args.seed,
                                       progress=not args.quiet)
    vae.predictor = predictor
    out = vae.save(args.output)
    print(f"{'property':<16}{'R2':>8}{'MAE':>10}   (held-out molecules)")
    for name, m in metrics.items():
        print(f"{name:<16}{m['r2']:>8.3f}{m['mae']:>10.4g}   ({m['n_val']} of {m['n_val'] + m['n_train']})")
    print(f"wrote {out}: the model with its property predictor (use it with -m {out})")
    return 0


# ------------------------------------------------------------------ parser


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, str]]:
    parser = argparse.ArgumentParser(prog="molvae", description="SELFIES GRU VAE for molecules.")
    parser.add_argument("--version", action="version", version=f"molvae {__version__}")
    sub = parser.add_subparsers(dest="verb", metavar="VERB")

    p = sub.add_parser("train", help="train a model", description=(
        "Train a VAE. Settings come from the defaults, then --config FILE (TOML with [data], [model], "
        "[anneal], [train] tables), then the flags below. The resolved config is printed and saved as "
        "OUT/config.toml; OUT also gets log.csv, rejects.csv, last.pt (resume) and best.pt."))
    p.add_argument("--config", metavar="TOML", help="TOML run file")
    p.add_argument("-o", "--out", metavar="DIR", help="output folder (default: runs/<date-time>)")
    p.add_argument("--resume", metavar="LAST_PT", help="continue a run from its last.pt")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    dests = _add_config_flags(p)

    p = sub.add_parser("sample", help="sample molecules from the prior", description=(
        "Decode draws from the prior N(0, I) into molecules; draws that decode to no molecule are "
        "replaced by new ones, and the fraction of valid draws is reported as raw_validity. Writes a "
        "CSV (smiles, valid, selfies) and OUT.meta.json with what made it."))
    _add_model_flags(p)
    p.add_argument("-n", "--num", type=_positive(int), default=1000, help="how many molecules (default: 1000)")
    p.add_argument("-o", "--output", default="samples.csv", help="output CSV (default: samples.csv)")
    p.add_argument("--temperature", type=_positive(float), default=1.0, help="softmax temperature; <1 is more conservative (default: 1.0)")
    p.add_argument("--greedy", action="store_true", help="take the most likely token at each step instead of sampling")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("--keep-invalid", action="store_true", help=(
        "keep draws that decode to no molecule (valid=False) instead of replacing them with new draws"))
    p.add_argument("--batch-size", type=_positive(int), default=1024, help="molecules decoded at once (default: 1024)")
    p.add_argument("--properties", default="qed,logp,sa,mw", help=(
        "RDKit properties added as columns, comma-separated, or 'none' (known: qed, logp, sa, mw, tpsa, hbd, hba, "
        "rotatable_bonds, rings, aromatic_rings, heavy_atoms; default: qed,logp,sa,mw)"))
    p.add_argument("--workers", type=int, default=-1, help=(
        "processes turning SELFIES into canonical SMILES while the network decodes; 0 = none "
        "(default: from 20,000 molecules up, one fewer than the cores on a GPU or with 8+ cores)"))
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")

    p = sub.add_parser("reconstruct", help="encode and decode molecules", description=(
        "Encode each input molecule to its posterior mean and decode it greedily. Writes one row per "
        "input row: row, input, canonical, reconstructed, exact, reason (why a row could not be encoded)."))
    _add_input_flags(p)
    _add_model_flags(p)
    p.add_argument("-o", "--output", default="reconstructions.csv", help="output CSV (default: reconstructions.csv)")
    p.add_argument("--sample", action="store_true", help="sample tokens instead of greedy decoding")
    p.add_argument("--spellings", type=int, default=0, help=(
        "encode each molecule as the average over this many random SMILES spellings too (default: 0)"))
    p.add_argument("--batch-size", type=_positive(int), default=1024, help="molecules per batch (default: 1024)")

    p = sub.add_parser("diagnose", help="posterior-collapse diagnostics of a model, with plots", description=(
        "Encode molecules and report what the latent space holds: KL (total and per dimension), active "
        "units (posterior-mean variance over molecules > 0.01), the mutual information I(x; z), exact "
        "greedy reconstruction. Writes OUT/diagnostics.json, kl_per_dim.csv, kl_per_dim.png and, from the "
        "checkpoint's history, training_curves.png (reconstruction, KL, beta, active units per epoch)."))
    _add_model_flags(p)
    p.add_argument("--data", default="moses:test", help="molecules to encode (default: moses:test)")
    p.add_argument("--smiles-column", help="SMILES column name (default: detect)")
    p.add_argument("--limit", type=int, default=2000, help="first N rows (default: 2000; 0 = all)")
    p.add_argument("-o", "--output", default="diagnostics", help="output folder (default: diagnostics)")

    p = sub.add_parser("evaluate", help="MOSES metrics of a file of generated molecules", description=(
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
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")

    p = sub.add_parser("encode", help="molecules to latent vectors (embeddings)", description=(
        "Encode every row to its posterior mean (and log-variance with --logvar), in chunks with bounded "
        "memory. The format follows OUT's suffix: .csv/.csv.gz and .parquet hold row, smiles, z_0.. for the "
        "encoded rows; .npy holds an (n_rows, D) float32 array aligned with the input (NaN rows where "
        "encoding failed). Rows that cannot be encoded are listed with a reason in OUT.rejects.csv."))
    _add_input_flags(p)
    _add_model_flags(p)
    p.add_argument("-o", "--output", default="embeddings.csv", help="output file (default: embeddings.csv)")
    p.add_argument("--logvar", action="store_true", help="also write the posterior log-variances")
    p.add_argument("--spellings", type=int, default=0, help=(
        "average each embedding over this many random SMILES spellings of the molecule too (default: 0, canonical only)"))
    p.add_argument("--batch-size", type=_positive(int), default=1024, help="molecules per batch (default: 1024)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")

    p = sub.add_parser("interpolate", help="decode the path between two molecules", description=(
        "Encode two molecules, decode STEPS+1 evenly spaced points between their posterior means (spherical "
        "and/or linear path) and write each step's molecule, whether it is new on the path, and its Tanimoto "
        "similarity (Morgan r=2) to both ends; OUT.png shows the path as a molecule grid."))
    p.add_argument("start", help="SMILES of the first molecule")
    p.add_argument("end", help="SMILES of the second molecule")
    _add_model_flags(p)
    p.add_argument("--steps", type=_positive(int), default=10, help="intervals on the path (default: 10)")
    p.add_argument("--method", default="slerp", choices=["slerp", "linear", "both"], help="path (default: slerp)")
    p.add_argument("-o", "--output", default="interpolation.csv", help="output CSV (default: interpolation.csv)")

    p = sub.add_parser("explore", help="molecules in the neighbourhood of one molecule", description=(
        "Decode N points around a molecule's posterior mean (Gaussian, about RADIUS away) and list the "
        "distinct valid molecules, most similar first, with their similarity, latent distance, how often "
        "each was found and their properties; OUT.png shows the first --grid of them."))
    p.add_argument("smiles", help="SMILES of the molecule to explore around")
    _add_model_flags(p)
    p.add_argument("-n", "--num", type=_positive(int), default=100, help="latent points to decode (default: 100)")
    p.add_argument("--radius", type=float, default=2.0, help="typical distance from the molecule in latent space (default: 2.0)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("--properties", default="qed,logp,sa,mw", help="property columns, or 'none' (default: qed,logp,sa,mw)")
    p.add_argument("--grid", type=_positive(int), default=20, help="molecules in the picture (default: 20)")
    p.add_argument("-o", "--output", default="explore.csv", help="output CSV (default: explore.csv)")

    p = sub.add_parser("score", help="anomaly scores: how unlike the training data each molecule is", description=(
        "Per molecule, in nats (higher = less like the training data): the negative ELBO, an importance-"
        "weighted estimate of -log p(x) from K posterior draws (also per token), and log p(x | z = mean). "
        "Rows that cannot be encoded (unparsable, unknown tokens, too long) keep their row with a reason."))
    _add_input_flags(p)
    _add_model_flags(p)
    p.add_argument("-k", type=_positive(int), default=32, help="posterior draws per molecule (default: 32)")
    p.add_argument("-o", "--output", default="scores.csv", help="output CSV (default: scores.csv)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("--batch-size", type=_positive(int), default=256, help="molecules per batch (default: 256)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")

    p = sub.add_parser("map", help="2-D map of the latent space coloured by a property", description=(
        "Encode molecules, project their posterior means to 2-D (PCA, or UMAP when umap-learn is installed) "
        "and draw them coloured by a property; also writes the coordinates as OUT.csv."))
    _add_input_flags(p, 5000)
    _add_model_flags(p)
    p.add_argument("--color", default="qed", help="property to colour by, or 'none' (default: qed)")
    p.add_argument("--method", default="pca", choices=["pca", "umap"], help="projection (default: pca)")
    p.add_argument("-o", "--output", default="latent_map.png", help="output PNG (default: latent_map.png)")

    p = sub.add_parser("properties", help="RDKit properties of molecules in a file", description=(
        "Compute RDKit properties for every row: qed, logp, sa (Ertl & Schuffenhauer), mw, tpsa, hbd, hba, "
        "rotatable_bonds, rings, aromatic_rings, heavy_atoms, penalized_logp (JT-VAE's normalized form), "
        "penalized_logp_raw, and with --reference the Tanimoto similarity (Morgan r=2, 2048 bits) to a molecule. "
        "Unparsable rows go to OUT.rejects.csv with their reason. No model is needed."))
    _add_input_flags(p)
    p.add_argument("--properties", default="qed,logp,sa,mw,tpsa,hbd,hba,rotatable_bonds,rings,penalized_logp",
                   help="comma-separated (default: qed,logp,sa,mw,tpsa,hbd,hba,rotatable_bonds,rings,penalized_logp)")
    p.add_argument("--reference", help="SMILES to compute similarity to")
    p.add_argument("-o", "--output", default="properties.csv", help="output CSV (default: properties.csv)")
    p.add_argument("--workers", type=int, default=0, help="processes (default: all cores, from 20,000 rows)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")

    p = sub.add_parser("optimize", help="propose molecules with target properties (latent-space search)", description=(
        "Search the latent space for molecules that score well on an objective, each proposal re-scored by RDKit "
        "(one oracle call per new molecule, budget exact). The objective comes from a TOML spec ([objective] terms, "
        "[constraints], [search]) or from --maximize/--minimize; flags override the spec. Writes OUT/proposals.csv "
        "(every evaluated molecule: call, score, feasibility, properties, similarity to the start, novelty), "
        "OUT/summary.json (top-k, settings) and OUT/score_vs_calls.png."))
    p.add_argument("spec", nargs="?", help="TOML spec (see docs/optimize.md)")
    _add_model_flags(p)
    p.add_argument("--maximize", help="property to maximize (without a spec)")
    p.add_argument("--minimize", help="property to minimize (without a spec)")
    p.add_argument("--similarity-min", type=float, help="constraint: Tanimoto to the start molecule at least this")
    p.add_argument("--start", help="SMILES to start from (default: the prior)")
    p.add_argument("--start-from", metavar="FILE", help="start from these molecules (CSV/SMI, or moses:train): "
                   "--start-count of them are scored first, within the budget, and seed the search")
    p.add_argument("--start-count", type=_positive(int), help="molecules of --start-from to score (default: 100)")
    p.add_argument("--method", choices=["random", "cmaes", "bo", "gradient"], help="optimizer (default: cmaes)")
    p.add_argument("--budget", type=_positive(int), help="oracle calls (default: 500)")
    p.add_argument("--batch-size", type=_positive(int), help="proposals per round (default: 20)")
    p.add_argument("--seed", type=int, help="random seed (default: 0)")
    p.add_argument("--top", type=_positive(int), default=3, help="best molecules in the summary (default: 3)")
    p.add_argument("--train", default="moses:train", help="training set for novelty, or 'none' (default: moses:train)")
    p.add_argument("-o", "--output", default="optimize", help="output folder (default: optimize)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")

    p = sub.add_parser("fit-predictor", help="fit property predictors on a frozen model's latent space", description=(
        "Encode molecules, compute their RDKit properties and fit an MLP from the posterior mean to them; prints R2 "
        "and MAE on 10% held-out molecules and writes a copy of the model with the predictor inside."))
    _add_input_flags(p, 20000)
    _add_model_flags(p)
    p.add_argument("--properties", default="qed,logp,sa,mw", help="comma-separated (default: qed,logp,sa,mw)")
    p.add_argument("--epochs", type=_positive(int), default=100, help="training passes (default: 100)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("-o", "--output", default="model_with_predictor.pt", help="output checkpoint")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    return parser, dests


def main(argv: list[str] | None = None) -> int:
    parser, dests = build_parser()
    args = parser.parse_args(argv)
    if args.verb is None:
        parser.print_help()
        return 2
    try:
        if args.verb == "train":
            return cmd_train(args, dests)
        verbs = {"sample": cmd_sample, "evaluate": cmd_evaluate, "diagnose": cmd_diagnose, "reconstruct": cmd_reconstruct,
                 "encode": cmd_encode, "interpolate": cmd_interpolate, "explore": cmd_explore, "score": cmd_score,
                 "map": cmd_map, "properties": cmd_properties,
                 "optimize": cmd_optimize, "fit-predictor": cmd_fit_predictor}
        return verbs[args.verb](args)
    except MolvaeError as exc:
        print(f"molvae {args.verb}: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except OSError as exc:  # a path the user gave cannot be read or written (permissions, full disk, ...)
        where = f" {exc.filename}" if getattr(exc, "filename", None) else ""
        print(f"molvae {args.verb}: error:{where}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print(f"molvae {args.verb}: interrupted", file=sys.stderr)
        return 130
    except Exception:  # a bug in molvae, not a user mistake: keep the traceback for the report
        traceback.print_exc()
        print(f"molvae {args.verb}: internal error (a bug in molvae {__version__}, not in your input); "
              "please report it with the traceback above", file=sys.stderr)
        return EXIT_INTERNAL_ERROR


if __name__ == "__main__":
    sys.exit(main())
