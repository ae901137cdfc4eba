"""What the verbs share: every verb's own flags (-q), the model, input and cleaning flags, how
messages name a setting (the verb's flag), reading the input, loading the model, the provenance
file beside each output, and the table of rejected rows."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import pandas as pd

from molvae.errors import MolvaeError
from molvae.io import MoleculeFile, output_format, provenance, with_input_columns, write_json, write_molecules


def number(kind: type, low: float | None = None, high: float | None = None, above: bool = False):
    """An argparse type: a finite number of `kind` at least `low` (above it with `above`) and at most
    `high`, with a one-line error otherwise (``inf`` and ``nan`` are refused too)."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a {'whole ' if kind is int else ''}number, got {text!r}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"must be a finite number, got {text}")
        if low is not None and (value <= low if above else value < low):
            raise argparse.ArgumentTypeError(f"must be {'above' if above else 'at least'} {low:g}, got {value:g}")
        if high is not None and value > high:
            raise argparse.ArgumentTypeError(f"must be at most {high:g}, got {value:g}")
        return value

    return parse


def positive(kind: type):
    """An argparse type: a finite number of `kind` above zero."""
    return number(kind, 0, above=True)


def non_negative(kind: type):
    """An argparse type: a finite number of `kind`, zero or more."""
    return number(kind, 0)


def add_verb(sub, name: str, run, **kwargs) -> argparse.ArgumentParser:
    """A new verb `name` (``help=``, ``description=`` as for ``add_parser``) that `run(args)` runs,
    with the flags every verb has: -q/--quiet."""
    p = sub.add_parser(name, **kwargs)
    p.set_defaults(run=run)
    add_quiet_flag(p)
    return p


def add_model_flags(p: argparse.ArgumentParser, use: str = "latent") -> None:
    """-m, --device and --precision: the flags of every verb that runs a trained model. `use` says
    which shipped model the verb loads when -m is not given ("sample", "optimize" or "latent"; molvae.shipped)."""
    from molvae.shipped import default_model

    p.add_argument("-m", "--model", help=(
        f"checkpoint file, or a shipped model's name (default: {default_model(use).name}; `molvae models` lists them)"))
    p.set_defaults(model_use=use)
    p.add_argument("--device", default="auto", help="auto, cpu, cuda (default: auto)")
    p.add_argument("--precision", default="fp32", choices=["fp32", "bf16", "fp16", "auto"], help=(
        "network arithmetic; bf16 is about 2x faster on CPUs with native bf16 (default: fp32)"))


def add_input_flags(p: argparse.ArgumentParser, limit: int = 0) -> None:
    """INPUT, --smiles-column and --limit: the flags of every verb that reads a file of molecules."""
    p.add_argument("input", help=(
        "CSV/TSV/SMI/TXT file of SMILES or an SDF (optionally .gz), or moses:test etc.; the file's other columns "
        "(an SDF's title as label, and its SD tags) are carried into the output after `row`, prefixed input_ where "
        "a name is taken"))
    p.add_argument("--smiles-column", help="SMILES column name (default: detect)")
    p.add_argument("--limit", type=non_negative(int), default=limit, help=(
        f"only the first N rows (default: {limit:,}; 0 = all)" if limit else "only the first N rows (default: all)"))
    add_cleaning_flags(p)


def add_cleaning_flags(p: argparse.ArgumentParser) -> None:
    """--largest-fragment and --standardize: the flags of every verb that reads molecules for a model
    (from a file or as SMILES arguments)."""
    p.add_argument("--largest-fragment", action="store_true", help=(
        "keep the largest fragment of salts and mixtures (CCN.Cl -> CCN) instead of rejecting them"))
    p.add_argument("--standardize", action="store_true", help=(
        "standardize each molecule with RDKit first (largest fragment, charges neutralized, stereo and isotopes "
        "removed), so that e.g. a MOSES-trained model reads stereo and charged inputs; a table of the input "
        "molecules keeps each input beside the canonical SMILES of the standardized molecule"))


def refuse_overwriting_the_input(args: argparse.Namespace) -> None:
    """A verb's output must not be its input file: writing it would destroy the data being read."""
    source, target = getattr(args, "input", None) or getattr(args, "samples", None), getattr(args, "output", None)
    if not source or not target or str(source).startswith("moses:"):
        return
    if Path(source).resolve() == Path(target).resolve():
        raise MolvaeError(f"the output {target} is the input file; write the output elsewhere (-o)")


def add_output_flag(p: argparse.ArgumentParser, default: str, what: str = "molecules") -> None:
    """-o for a verb that writes a table of molecules: its format follows the extension (molvae.io),
    checked before any work is done."""
    p.add_argument("-o", "--output", default=default, help=(
        f"output file of {what}: .csv, .tsv or .sdf (a record per row: its molecule, titled by a label, name or id "
        f"column, the other columns as SD tags; a row without a molecule is a record without atoms), optionally .gz "
        f"(default: {default})"))
    p.set_defaults(check_output=output_format)


def check_output(args: argparse.Namespace) -> None:
    """Refuse an output file name whose format the verb cannot write, before any work is done."""
    if getattr(args, "check_output", None) and getattr(args, "output", None):
        args.check_output(args.output)


def add_encoding_flags(p: argparse.ArgumentParser) -> None:
    """--spellings and --batch-size: the flags of the verbs that encode molecules."""
    p.add_argument("--spellings", type=non_negative(int), default=0, help=(
        "average each molecule's embedding over this many random SMILES spellings too (default: 0, canonical only)"))
    p.add_argument("--batch-size", type=positive(int), default=1024, help="molecules per batch (default: 1024)")


def add_quiet_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")


# The flag that sets each setting a library message may tell the user to change (molvae.errors.hint)
FLAGS = {"standardize": "--standardize", "largest_fragment": "--largest-fragment",
         "smiles_column": "--smiles-column NAME", "prior": "--prior normal",
         "objective": "--maximize or --minimize PROPERTY", "overwrite": "--overwrite",
         "init_from": "--init-from CHECKPOINT, e.g. a shipped model's file"}


def spelling(parser: argparse.ArgumentParser) -> dict[str, str]:
    """The settings this verb has flags for, spelled as its flags: what messages name inside the verb
    (:func:`molvae.errors.spelled_as`); a setting the verb has no flag for gets no hint."""
    flags = {option for action in parser._actions for option in action.option_strings}
    return {setting: flag for setting, flag in FLAGS.items() if flag.split()[0] in flags}


def read_input(args: argparse.Namespace) -> MoleculeFile:
    """The verb's input file (its first ``--limit`` rows): ``.smiles`` indexed by row, and ``.columns``,
    the rest of each row (see :class:`molvae.io.MoleculeFile`)."""
    from molvae.io import read_molecules, resolve_data_path

    inputs = read_molecules(resolve_data_path(args.input), args.smiles_column)
    return inputs.head(args.limit) if getattr(args, "limit", 0) else inputs


def add_input_columns(table: pd.DataFrame, inputs: MoleculeFile) -> pd.DataFrame:
    """The input's own columns (an SDF's ``label`` and tags, a CSV's other columns) after ``row``, on
    the rows they came from; a name the verb already writes gets the prefix ``input_``."""
    return with_input_columns(table, inputs.columns)


def load_model(args: argparse.Namespace):
    """The model ``-m`` names (default: the shipped one for the verb's use) on ``--device`` at ``--precision``."""
    from molvae.api import MolVAE

    vae = MolVAE.load(args.model, device=args.device, precision=args.precision, use=getattr(args, "model_use", "latent"))
    args.model_file = vae.path  # what the outputs' provenance records (a shipped default has no -m)
    vae.largest_fragment = getattr(args, "largest_fragment", False)
    vae.standardize = getattr(args, "standardize", False)
    return vae


def with_suffix(path: Path, suffix: str) -> Path:
    """`path` with its format extension replaced (a ``.gz`` ending too), e.g. the PNG beside an output CSV."""
    from molvae.io import output_stem

    return path.with_name(output_stem(path) + suffix)


def write_table(table: pd.DataFrame, out: Path, args: argparse.Namespace, float_format: str | None = None,
                molecule_column: str = "smiles", **extra) -> None:
    """Write an output table in the format its extension says (CSV, TSV or SDF, whose molecules are
    `molecule_column`'s) and ``OUT.meta.json`` beside it: what made it (command, version, model, `extra`)."""
    write_molecules(table, out, molecule_column, float_format)
    record_provenance(out, args, **extra)


def record_provenance(out: Path, args: argparse.Namespace, **extra) -> None:
    """``OUT.meta.json`` beside an output: what made it."""
    write_json(out.with_name(out.name + ".meta.json"),
               provenance(getattr(args, "model_file", None) or getattr(args, "model", None), **extra))


def print_summary(out: Path, summary: dict, note: str = "") -> None:
    print(f"wrote {out}: " + ", ".join(f"{k}={v}" for k, v in summary.items()) + note)


def print_domain_count(outside: int, rows: int, domain) -> None:
    """One line: how many inputs lie outside the model's domain (a :class:`molvae.domain.Domain`), and what it is."""
    print(f"{outside} of {rows} input rows outside the model's domain (in_domain, domain_note; the model's training "
          f"molecules: {domain.describe()}; `molvae score` rates how unlike them each molecule is)")


def print_reject_reasons(reasons: pd.Series) -> None:
    """Rejected rows counted by kind of reason (the reasons column of an output)."""
    from molvae.space import reason_kind

    reasons = reasons[reasons.fillna("") != ""]
    print_reject_counts(reasons.map(reason_kind).value_counts().to_dict())


def print_reject_counts(counts: dict[str, int]) -> None:
    if counts:
        width = max(map(len, counts))
        print("rejected rows by reason:\n" + "\n".join(f"  {k:<{width}}  {v}" for k, v in counts.items()))
