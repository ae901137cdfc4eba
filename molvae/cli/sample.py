"""molvae sample, fit-prior and reconstruct: molecules out of the model."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from molvae import properties as props
from molvae.cli.common import (add_verb, add_encoding_flags, add_input_columns, add_input_flags, add_model_flags,
                               add_output_flag, load_model, non_negative, positive, print_domain_count,
                               print_reject_reasons, print_summary,
                               read_input, record_provenance, with_suffix, write_table)
from molvae.prior import PRIORS, describe_prior, resolve_prior
from molvae.shipped import shipped_name


def add_parsers(sub) -> None:
    p = add_verb(sub, "sample", run_sample, help="sample molecules from the prior", description=(
        "Decode latent codes into molecules: codes from the model's code bank (molvae fit-prior) when it has "
        "one, else from N(0, I). Draws that decode to no molecule are replaced by new ones, and the fraction "
        "of valid draws is reported as raw_validity. Writes OUT (smiles, valid, selfies and the properties; "
        "CSV, TSV or SDF by its extension) and OUT.meta.json with what made it."))
    add_model_flags(p, use="sample")
    p.add_argument("-n", "--num", type=positive(int), default=1000, help="how many molecules (default: 1000)")
    add_output_flag(p, "samples.csv")
    p.add_argument("--temperature", type=positive(float), default=None, help=(
        "softmax temperature; <1 is more conservative (default: the temperature stored with the model's code bank, "
        "else 1.0)"))
    p.add_argument("--greedy", action="store_true", help="take the most likely token at each step instead of sampling")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("--keep-invalid", action="store_true", help=(
        "keep draws that decode to no molecule (valid=False) instead of replacing them with new draws"))
    p.add_argument("--batch-size", type=positive(int), default=1024, help="molecules decoded at once (default: 1024)")
    p.add_argument("--keep-slips", action="store_true", help=(
        "keep decoding slips that SELFIES repaired into odd molecules (radicals, and molecules whose SELFIES needs "
        "a token outside the model's vocabulary, so that it cannot read them back); by default they are replaced "
        "by new draws and counted in the summary (redrawn, slips)"))
    p.add_argument("--relax", type=non_negative(int), default=0, metavar="K", help=(
        "decode with every SELFIES bond capacity raised by K and discard the draws RDKit then refuses: decoding "
        "slips are dropped instead of repaired into odd molecules; raw_validity reports the fraction kept "
        "(default: 0, off; see docs/quality.md)"))
    p.add_argument("--prior", choices=PRIORS, default="auto", help=(
        "where the latent codes come from: the model's code bank (bank), N(0, I) (normal), or the bank when the "
        "model has one (auto, the default); see docs/quality.md"))
    p.add_argument("--prior-width", type=positive(float), default=None, metavar="W", help=(
        "draw bank codes as mu + W * sigma * eps; a wider W gives more new molecules, fewer like the training data "
        "(default: the width stored with the bank)"))
    p.add_argument("--max-ring", default="auto", metavar="N|auto|none", help=(
        "replace molecules with a ring of more than N atoms by new draws, like decoding slips (auto: the largest "
        "ring of the model's training molecules, which `molvae fit-prior` records in the checkpoint, and no limit "
        "where it records none; none: no limit; default: auto; docs/quality.md)"))
    p.add_argument("--properties", default="qed,logp,sa,mw", help=(
        f"RDKit properties added as columns, comma-separated, or 'none' (known: {props.known()}; `molvae properties "
        "--help` says what each is; default: qed,logp,sa,mw)"))
    p.add_argument("--workers", type=int, default=-1, help=(
        "processes turning SELFIES into canonical SMILES while the network decodes; 0 = none "
        "(default: from 20,000 molecules up, one fewer than the cores on a GPU or with 8+ cores)"))

    p = add_verb(sub, "fit-prior", run_fit_prior, help="store a code bank of training molecules for sampling", description=(
        "Encode molecules (usually the model's training set) and store their posterior means and standard "
        "deviations in a copy of the model: molvae sample then draws codes mu + W * sigma * eps around them "
        "instead of from N(0, I), where the decoder writes fewer odd molecules (docs/quality.md). The molecular-weight "
        "range of the input's molecules is stored too, as the range of the model's training molecules: encode and "
        "reconstruct then mark inputs outside it (in_domain)."))
    add_input_flags(p)
    add_model_flags(p, use="sample")  # a code bank is for sampling
    p.add_argument("--size", type=positive(int), default=50_000, help=(
        "molecules in the bank, a seeded random choice of the input's (default: 50,000; 256 bytes each in the checkpoint)"))
    p.add_argument("--width", type=positive(float), default=1.0, help="stored width W (default: 1.0)")
    p.add_argument("--temperature", type=positive(float), default=1.0, help=(
        "stored decoding temperature, which molvae sample uses unless given another; a lower one with a wider W "
        "writes fewer odd molecules at the same novelty (default: 1.0; docs/quality.md)"))
    p.add_argument("--seed", type=int, default=0, help="random seed of the choice (default: 0)")
    p.add_argument("-o", "--output", default="model_with_prior.pt", help="output checkpoint (default: model_with_prior.pt)")

    p = add_verb(sub, "reconstruct", run_reconstruct, help="encode and decode molecules", description=(
        "Encode each input molecule to its posterior mean and decode it greedily. Writes one row per "
        "input row: row, the input's own columns, input, canonical, reconstructed, exact, reason (why a row could "
        "not be encoded), in_domain and domain_note (whether the molecule is like the model's training molecules in "
        "elements, charges, stereo, size and any ranges its checkpoint records, and why not; `molvae score` rates "
        "how unlike them each molecule is). An SDF output's molecules are the reconstructed ones."))
    add_input_flags(p)
    add_model_flags(p)
    add_output_flag(p, "reconstructions.csv")
    p.add_argument("--sample", action="store_true", help="sample tokens instead of greedy decoding")
    add_encoding_flags(p)


def run_sample(args) -> int:
    vae = load_model(args)
    out = Path(args.output)
    summary = vae.sample_to_csv(out, args.num, temperature=args.temperature, greedy=args.greedy,
                                batch_size=args.batch_size, seed=args.seed, valid_only=not args.keep_invalid,
                                workers=args.workers if args.workers >= 0 else None, progress=not args.quiet,
                                properties=args.properties, relax=args.relax, prior=args.prior,
                                prior_width=args.prior_width, screen=not args.keep_slips, max_ring=args.max_ring)
    record_provenance(out, args, seed=args.seed, temperature=summary["temperature"], greedy=args.greedy,
                      relax=args.relax, precision=args.precision, properties=args.properties,
                      prior=describe_prior(resolve_prior(vae, args.prior), args.prior_width, args.temperature, args.greedy),
                      summary=summary)
    slips = summary.pop("slips")
    print_summary(out, summary, note=f" [model: {shipped_name(vae.path) or vae.path}]")
    if slips:
        print(f"redrew {sum(slips.values()):,} decoding slips: " + ", ".join(f"{k} ({v:,})" for k, v in slips.items()))
    print_property_summary(out, args.properties)
    return 0


def run_fit_prior(args) -> int:
    from molvae.domain import recorded_from
    from molvae.prior import CodeBank

    inputs = read_input(args)
    vae = load_model(args)
    vae.prior = CodeBank.fit(vae, inputs.smiles.tolist(), size=args.size, width=args.width, seed=args.seed,
                             source=str(args.input), progress=not args.quiet, temperature=args.temperature)
    vae.meta["domain"] = recorded_from(inputs.smiles, args.size, args.seed, source=str(args.input))
    out = vae.save(args.output)
    info = vae.prior.info
    note = ""
    if info["rejected"]:
        rejects = with_suffix(out, ".rejects.csv")
        add_input_columns(vae.prior.rejects, inputs).to_csv(rejects, index=False)
        note = f", listed with their reasons in {rejects}"
    print(f"wrote {out}: the model with a code bank of {info['size']:,} molecules from {args.input} "
          f"(width {args.width:g}, temperature {args.temperature:g}; {info['rejected']} of the {info['offered']:,} chosen could not be encoded{note}). "
          f"Sample from it with: molvae sample -m {out}")
    print(f"its domain: {vae.domain.describe()}")
    print_reject_reasons(vae.prior.rejects.reason)
    return 0


def print_property_summary(path: Path, names: str) -> None:
    """Mean, sd and range of each property column of a sample file (read back column by column)."""
    from molvae import properties as props
    from molvae.io import read_table

    cols = props.resolve(names)
    if not cols:
        return
    df = read_table(path, cols).apply(pd.to_numeric, errors="coerce")
    table = df.describe().T[["mean", "std", "min", "max"]]
    print("properties of the valid molecules:")
    print(table.round(3).to_string())


def run_reconstruct(args) -> int:
    inputs = read_input(args)
    vae = load_model(args)
    df = vae.reconstruct(inputs.smiles.tolist(), greedy=not args.sample, batch_size=args.batch_size,
                         spellings=args.spellings, progress=not args.quiet)
    df.insert(0, "row", inputs.smiles.index)
    add_input_columns(df, inputs)
    encodable = df[df.reason == ""]
    summary = {"rows": len(df), "encoded": len(encodable), "rejected": int((df.reason != "").sum()),
               "exact_match": round(float(encodable.exact.mean()) if len(encodable) else 0.0, 4)}
    out = Path(args.output)
    write_table(df, out, args, molecule_column="reconstructed", input=str(args.input), summary=summary)
    print_summary(out, summary)
    print_reject_reasons(df.reason)
    print_domain_count(int((~df.in_domain).sum()), len(df), vae.domain)
    return 0
