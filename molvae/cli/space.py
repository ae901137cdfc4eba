"""The latent space as a tool: molvae encode, interpolate, explore, score and map."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from molvae import properties as props
from molvae.cli.common import (add_verb, add_cleaning_flags, add_encoding_flags, add_input_columns, add_input_flags,
                               add_model_flags, add_output_flag, load_model, non_negative, positive, print_domain_count,
                               print_reject_counts, print_reject_reasons, print_summary, read_input,
                               record_provenance, with_suffix, write_table)


def add_parsers(sub) -> None:
    p = add_verb(sub, "encode", run_encode, help="molecules to latent vectors (embeddings)", description=(
        "Encode every row to its posterior mean (and log-variance with --logvar), in chunks with bounded "
        "memory. The format follows OUT's suffix: .csv, .tsv, .sdf (each optionally .gz) and .parquet hold row, "
        "the input's own columns, smiles (canonical), in_domain, domain_note, z_0.. for the encoded rows; .npy holds an "
        "(n_rows, D) float32 array aligned with the input (NaN rows where encoding failed). Rows that cannot be "
        "encoded are listed with a reason in OUT.rejects.csv. in_domain says whether a molecule is like the "
        "model's training molecules (elements, charges, stereo, size, and any ranges its checkpoint records); "
        "`molvae score` rates how unlike them each molecule is."))
    add_input_flags(p)
    add_model_flags(p)
    p.add_argument("-o", "--output", default="embeddings.csv", help=(
        "output file: .csv, .tsv, .sdf (each optionally .gz), .parquet or .npy (default: embeddings.csv)"))
    p.add_argument("--logvar", action="store_true", help="also write the posterior log-variances")
    add_encoding_flags(p)

    p = add_verb(sub, "interpolate", run_interpolate, help="decode the path between two molecules", description=(
        "Encode two molecules, decode STEPS+1 evenly spaced points between their posterior means (spherical "
        "and/or linear path) and write each step's molecule, whether it is new on the path, and its Tanimoto "
        "similarity (Morgan r=2) to both ends; OUT.png shows the path as a molecule grid."))
    p.add_argument("start", help="SMILES of the first molecule")
    p.add_argument("end", help="SMILES of the second molecule")
    add_model_flags(p)
    add_cleaning_flags(p)
    p.add_argument("--steps", type=positive(int), default=10, help="intervals on the path (default: 10)")
    p.add_argument("--method", default="slerp", choices=["slerp", "linear", "both"], help="path (default: slerp)")
    add_output_flag(p, "interpolation.csv")

    p = add_verb(sub, "explore", run_explore, help="molecules in the neighbourhood of one molecule", description=(
        "Decode N points around a molecule's posterior mean (Gaussian, about RADIUS away) and list the "
        "distinct valid molecules, most similar first, with their similarity, latent distance, how often "
        "each was found and their properties; OUT.png shows the first --grid of them."))
    p.add_argument("smiles", help="SMILES of the molecule to explore around")
    add_model_flags(p)
    add_cleaning_flags(p)
    p.add_argument("-n", "--num", type=positive(int), default=100, help="latent points to decode (default: 100)")
    p.add_argument("--radius", type=non_negative(float), default=2.0, help="typical distance from the molecule in latent space (default: 2.0)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("--properties", default="qed,logp,sa,mw", help=(
        f"property columns, comma-separated, or 'none' (known: {props.known()}; default: qed,logp,sa,mw)"))
    p.add_argument("--grid", type=positive(int), default=20, help="molecules in the picture (default: 20)")
    add_output_flag(p, "explore.csv")

    p = add_verb(sub, "score", run_score, help="anomaly scores: how unlike the training data each molecule is", description=(
        "Per molecule, in nats (higher = less like the training data): the negative ELBO, an importance-"
        "weighted estimate of -log p(x) from K posterior draws (also per token), and log p(x | z = mean). "
        "Rows that cannot be encoded (unparsable, unknown tokens, too long) keep their row with a reason."))
    add_input_flags(p)
    add_model_flags(p)
    p.add_argument("-k", type=positive(int), default=32, help="posterior draws per molecule (default: 32)")
    add_output_flag(p, "scores.csv", "scores")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("--batch-size", type=positive(int), default=256, help="molecules per batch (default: 256)")

    p = add_verb(sub, "map", run_map, help="2-D map of the latent space coloured by a property", description=(
        "Encode molecules, project their posterior means to 2-D (PCA, or UMAP when umap-learn is installed) "
        "and draw them coloured by a property; also writes the coordinates as OUT.csv."))
    add_input_flags(p, 5000)
    add_model_flags(p)
    p.add_argument("--color", default="qed", help="property to colour by, or 'none' (default: qed)")
    p.add_argument("--method", default="pca", choices=["pca", "umap"], help="projection (default: pca)")
    p.add_argument("-o", "--output", default="latent_map.png", help="output PNG (default: latent_map.png)")


def run_encode(args) -> int:
    from molvae.space import embedding_format, encode_to_file, rejects_path

    out = Path(args.output)
    embedding_format(out)  # a bad suffix is reported before the model loads
    inputs = read_input(args)
    vae = load_model(args)
    summary = encode_to_file(vae, inputs.smiles.tolist(), out, logvar=args.logvar, batch_size=args.batch_size,
                             progress=not args.quiet, spellings=args.spellings, columns=inputs.columns)
    record_provenance(out, args, input=str(args.input), logvar=args.logvar, summary=summary)
    print(f"wrote {out}: {summary['encoded']} of {summary['rows']} rows encoded"
          + (f"; {summary['rejected']} rejected (see {rejects_path(out)})" if summary["rejected"] else ""))
    print_reject_counts(summary["reasons"])
    print_domain_count(summary["out_of_domain"], summary["rows"], vae.domain)
    return 0


def run_interpolate(args) -> int:
    from molvae.plots import molecule_grid
    from molvae.space import interpolate

    vae = load_model(args)
    df = interpolate(vae, args.start, args.end, steps=args.steps, method=args.method)
    out = Path(args.output)
    write_table(df, out, args, start=args.start, end=args.end, steps=args.steps, method=args.method,
                unreconstructed=df.attrs.get("unreconstructed", []))
    grid = with_suffix(out, ".png")
    first = df[df.method == df.method.iloc[0]]
    molecule_grid(first.smiles.tolist(), grid, per_row=min(len(first), 6),
                  legends=[f"t={t:.2f}  sim {a:.2f}/{b:.2f}" for t, a, b in zip(first.t, first.sim_start, first.sim_end)])
    with pd.option_context("display.width", 160, "display.max_colwidth", 60):
        print(df.round(3).to_string(index=False))
    for method, part in df.groupby("method", sort=False):
        print(f"{method}: {part.valid.mean():.0%} valid, {part.smiles.nunique()} distinct molecules, {int(part.new.sum())} new on the path")
    print(f"wrote {out} and {grid} ({first.method.iloc[0]} path)")
    for name in df.attrs.get("unreconstructed", []):
        given, got = (args.start, first.smiles.iloc[0]) if name == "start" else (args.end, first.smiles.iloc[-1])
        print(f"warning: the model does not reconstruct the {name} molecule {given} (it decodes to {got or 'nothing'}), "
              f"so the path {'begins' if name == 'start' else 'ends'} at another molecule; `molvae reconstruct` "
              "shows which inputs a model reproduces", file=sys.stderr)
    return 0


def run_explore(args) -> int:
    from molvae.plots import molecule_grid
    from molvae.space import explore

    vae = load_model(args)
    df = explore(vae, args.smiles, n=args.num, radius=args.radius, seed=args.seed, properties=args.properties)
    out = Path(args.output)
    write_table(df, out, args, smiles=args.smiles, n=args.num, radius=args.radius, seed=args.seed)
    grid = with_suffix(out, ".png")
    top = df.head(args.grid)
    molecule_grid(top.smiles.tolist(), grid, legends=[f"sim {s:.2f}" + (" (start)" if st else "")
                                                      for s, st in zip(top.similarity, top.is_start)])
    with pd.option_context("display.width", 160, "display.max_colwidth", 60):
        print(df.head(10).round(3).to_string(index=False))
    print(f"{len(df)} distinct molecules from {args.num} points at radius {args.radius:g}; wrote {out} and {grid}")
    return 0


def run_score(args) -> int:
    from molvae.space import score

    inputs = read_input(args)
    vae = load_model(args)
    df = score(vae, inputs.smiles.tolist(), k=args.k, batch_size=args.batch_size, seed=args.seed, progress=not args.quiet)
    df["row"] = inputs.smiles.index
    add_input_columns(df, inputs)
    scored = df[df.reason == ""]
    summary = {"rows": len(df), "scored": len(scored), "rejected": len(df) - len(scored)}
    out = Path(args.output)
    write_table(df, out, args, float_format="%.6g", molecule_column="canonical", input=str(args.input), k=args.k,
                seed=args.seed, summary=summary)
    print_summary(out, summary)
    print("scores in nats; higher = less like the training data (use nll_per_token to compare molecules of "
          "different sizes)")
    if len(scored):
        print(scored[["neg_elbo", "nll", "nll_per_token", "recon_nll"]].describe().T[["mean", "std", "min", "max"]].round(3).to_string())
    print_reject_reasons(df.reason)
    return 0


def run_map(args) -> int:
    from molvae.plots import latent_map
    from molvae.space import latent_coordinates

    inputs = read_input(args)
    smiles = inputs.smiles
    vae = load_model(args)
    coords, mu = latent_coordinates(vae, smiles, args.color, args.method, progress=not args.quiet)
    add_input_columns(coords, inputs)
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    values = coords[args.color].to_numpy() if args.color != "none" else None
    latent_map(mu, out, values=values, label=args.color, method=args.method, xy=coords[["x", "y"]].to_numpy(),
               title=f"{args.method.upper()} of {len(coords)} molecules from {Path(str(args.input)).name}")
    coords.to_csv(with_suffix(out, ".csv"), index=False, float_format="%.6g")
    missing = len(smiles) - len(coords)
    print(f"wrote {out} and {with_suffix(out, '.csv')}: {len(coords)} of {len(smiles)} rows placed"
          + (f" ({missing} could not be encoded; molvae encode lists why)" if missing else ""))
    return 0
