"""Properties and optimization: molvae properties, fit-predictor and optimize."""

from __future__ import annotations

import argparse
from pathlib import Path

from molvae import properties as props
from molvae.cli.common import (add_verb, add_cleaning_flags, add_input_columns, add_input_flags, add_model_flags,
                               add_output_flag, load_model, number, positive, print_reject_reasons, print_summary,
                               read_input, with_suffix, write_table)
from molvae.errors import ConfigError

DEFAULT_PROPERTIES = "qed,logp,sa,mw,tpsa,hbd,hba,rotatable_bonds,rings,fsp3,lipinski_violations,penalized_logp"


def add_parsers(sub) -> None:
    p = add_verb(sub, "properties", run_properties, help="RDKit properties of molecules in a file", description=(
        "Compute RDKit properties for every row (those listed below), and with --reference the Tanimoto similarity "
        "(Morgan r=2, 2048 bits) to a molecule. Unparsable rows go to OUT.rejects.csv with their reason. No model "
        "is needed."), epilog="properties:\n" + props.glossary(), formatter_class=argparse.RawDescriptionHelpFormatter)
    add_input_flags(p)
    p.add_argument("--properties", default=DEFAULT_PROPERTIES, help=(
        f"comma-separated, from those listed below (default: {DEFAULT_PROPERTIES})"))
    p.add_argument("--reference", help="SMILES to compute similarity to")
    add_output_flag(p, "properties.csv")
    p.add_argument("--workers", type=int, default=0, help="processes (default: all cores, from 20,000 rows)")

    p = add_verb(sub, "optimize", run_optimize, help="propose molecules with target properties (latent-space search)", description=(
        "Search the latent space for molecules that score well on an objective, each proposal re-scored by RDKit "
        "(one oracle call per new molecule, budget exact). The objective comes from a TOML spec ([objective] terms, "
        "[constraints], [search]) or from --maximize/--minimize; flags override the spec. Writes OUT/proposals.csv "
        "(every evaluated molecule: call, score, feasibility, properties, similarity to the start, novelty), "
        "OUT/proposals.sdf (the same rows as SD records, the columns as tags), OUT/summary.json (top-k, settings, "
        "the seconds the search took and those novelty took), OUT/score_vs_calls.png, and OUT/start_rejects.csv for "
        "start molecules that could not be used. An output folder that already holds files is refused unless "
        "--overwrite."))
    p.add_argument("spec", nargs="?", help="TOML spec (see docs/optimize.md)")
    add_model_flags(p, use="optimize")
    add_cleaning_flags(p)
    p.add_argument("--maximize", "--oracle", help=f"property to maximize (without a spec: {props.known()}), or a scorer: a Python "
                   "function SMILES -> float as module:function, or a TDC/PMO task as tdc:NAME (pip install \".[bench]\")")
    p.add_argument("--minimize", help="property to minimize (without a spec)")
    p.add_argument("--similarity-min", type=number(float, 0, 1), help="constraint: Tanimoto to the start molecule at least this")
    p.add_argument("--start", help="SMILES to start from (default: the prior)")
    p.add_argument("--start-from", metavar="FILE", help="start from these molecules (CSV/SMI, or moses:train): "
                   "--start-count of them are scored first, within the budget, and seed the search")
    p.add_argument("--start-count", type=positive(int), help="molecules of --start-from to score (default: 100)")
    p.add_argument("--method", choices=["random", "cmaes", "bo", "gradient", "policy"],
                   help="optimizer (default: cmaes); policy fine-tunes a copy of the decoder on the oracle's scores")
    p.add_argument("--budget", type=positive(int), help="oracle calls (default: 500)")
    p.add_argument("--batch-size", type=positive(int), help="proposals per round (default: 20)")
    p.add_argument("--time-limit-minutes", type=positive(float), metavar="N",
                   help="stop the search at its first round after N minutes, budget or not (default: none)")
    p.add_argument("--seed", type=int, help="random seed (default: 0)")
    p.add_argument("--top", type=positive(int), default=3, help="best molecules in the summary (default: 3)")
    p.add_argument("--train", default="moses:train", help="training set for novelty, or 'none' (default: moses:train)")
    p.add_argument("-o", "--output", default="optimize", help="output folder (default: optimize)")
    p.add_argument("--overwrite", action="store_true", help="replace the run already in the output folder")

    p = add_verb(sub, "fit-predictor", run_fit_predictor, help="fit property predictors on a frozen model's latent space", description=(
        "Encode molecules, compute their RDKit properties and fit an MLP from the posterior mean to them; prints R2 "
        "and MAE on 10% held-out molecules and writes a copy of the model with the predictor inside."))
    add_input_flags(p, 20000)
    add_model_flags(p)
    p.add_argument("--properties", default="qed,logp,sa,mw", help="comma-separated (default: qed,logp,sa,mw)")
    p.add_argument("--epochs", type=positive(int), default=100, help="training passes (default: 100)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("-o", "--output", default="model_with_predictor.pt", help="output checkpoint")


def run_properties(args) -> int:
    from molvae import properties as props

    names = props.resolve(args.properties)
    inputs = read_input(args)
    smiles = inputs.smiles
    table, rejects = props.table(smiles, names, reference=args.reference, workers=args.workers or None,
                                 progress=not args.quiet, largest_fragment=args.largest_fragment,
                                 standardize=args.standardize)
    out = Path(args.output)
    add_input_columns(table, inputs)
    add_input_columns(rejects, inputs)
    summary = {"rows": len(smiles), "written": len(table), "rejected": len(rejects)}
    write_table(table, out, args, float_format="%.6g", molecule_column="canonical", input=str(args.input),
                properties=names, reference=args.reference, summary=summary)
    rejects.to_csv(with_suffix(out, ".rejects.csv"), index=False)
    print_summary(out, summary, f" (see {with_suffix(out, '.rejects.csv')})" if len(rejects) else "")
    print_reject_reasons(rejects.reason)
    return 0


def run_fit_predictor(args) -> int:
    from molvae.predictors import fit_predictor

    inputs = read_input(args)
    smiles = inputs.smiles
    measured = [n for n in props.names_of(args.properties) if n not in props.REGISTRY and n in inputs.columns]
    if measured:  # a column of the user's own measurements, not a property RDKit computes
        raise ConfigError(f"{', '.join(map(repr, measured))} is a column of {args.input}, not an RDKit property: "
                          f"fit-predictor learns properties that RDKit computes (so that optimize can re-score "
                          f"them; known: {', '.join(props.REGISTRY)}). To model your own measurements, use "
                          f"the embeddings: `molvae encode {args.input} -o z.csv` keeps the column beside "
                          f"z_0..z_63 for any regressor, or molvae.sklearn.MolVAEEmbedder in a scikit-learn "
                          f"pipeline (docs/how-to/encode.md)")
    vae = load_model(args)
    predictor, metrics = fit_predictor(vae, smiles.tolist(), args.properties, epochs=args.epochs, seed=args.seed,
                                       progress=not args.quiet)
    vae.predictor = predictor
    out = vae.save(args.output)
    print(f"{'property':<16}{'R2':>8}{'MAE':>10}   (held-out molecules)")
    for name, m in metrics.items():
        print(f"{name:<16}{m['r2']:>8.3f}{m['mae']:>10.4g}   ({m['n_val']} of {m['n_val'] + m['n_train']})")
    print(f"wrote {out}: the model with its property predictor (use it with -m {out})")
    return 0


def run_optimize(args) -> int:
    from molvae.optimize import check_output_folder, report, run_to_folder, spec_from_options, spec_toml

    objective, search = spec_from_options(
        args.spec, maximize=args.maximize, minimize=args.minimize, similarity_min=args.similarity_min,
        method=args.method, budget=args.budget, seed=args.seed, start=args.start, batch_size=args.batch_size,
        start_count=args.start_count, start_molecules=args.start_from, time_limit_minutes=args.time_limit_minutes)
    check_output_folder(args.output, args.overwrite)  # before the model loads
    print("# resolved optimization spec (saved as " + str(Path(args.output) / "spec.toml") + "):\n"
          + spec_toml(objective, search))
    vae = load_model(args)
    table, result = run_to_folder(vae, objective, search, args.output, train=args.train, top=args.top,
                                  progress=not args.quiet, model=vae.path, overwrite=args.overwrite)
    print(report(table, result, search, args.output))
    return 0
