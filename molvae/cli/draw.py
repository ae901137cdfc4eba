"""molvae draw: a grid picture of the molecules in a file."""

from __future__ import annotations

from pathlib import Path

from molvae.cli.common import add_input_flags, add_verb, positive, read_input
from molvae.errors import ConfigError

LEGEND_COLUMNS = ("label", "name", "Name", "NAME", "title", "id", "ID")  # the default legend, first found


def add_parsers(sub) -> None:
    from molvae.plots import grid_format

    p = add_verb(sub, "draw", run_draw, help="a grid picture of the molecules in a file (PNG or SVG)", description=(
        "Draw the molecules of a file (the first --limit rows) as a grid of RDKit depictions, each with a legend: "
        "the value of --legend, else the row's label, name or id column when the file has one, else its row "
        "number. A row without a readable molecule is a cell holding only * whose legend says so, and is counted in "
        "the summary. No model is needed."))
    add_input_flags(p, 50)
    p.add_argument("-o", "--output", default="molecules.png", help="picture file: .png or .svg (default: molecules.png)")
    p.add_argument("--legend", metavar="COLUMN", help=(
        "the input's column (or SD tag) under each molecule, e.g. name or activity; 'row' for the row number "
        "(default: label, name or id when there is one, else row)"))
    p.add_argument("--per-row", type=positive(int), default=5, help="molecules per row of the grid (default: 5)")
    p.add_argument("--size", type=positive(int), default=250, help="pixels per molecule, square (default: 250)")
    p.set_defaults(check_output=grid_format)


def run_draw(args) -> int:
    from molvae.chem import canonical_smiles, input_problem, largest_fragment, standardize
    from molvae.plots import molecule_grid

    inputs = read_input(args)
    columns = inputs.columns
    legend = args.legend or next((c for c in LEGEND_COLUMNS if c in columns.columns), "row")
    if legend != "row" and legend not in columns.columns:
        raise ConfigError(f"--legend {legend}: the input has no such column; its columns are "
                          f"{['row', *map(str, columns.columns)]}")
    clean = standardize if args.standardize else largest_fragment if args.largest_fragment else (lambda s: s)
    drawn, legends, missing = [], [], []
    for row, smiles in inputs.smiles.items():
        text = str(row) if legend == "row" else str(columns.at[row, legend])
        molecule = canonical_smiles(clean(smiles)) if input_problem(smiles) is None else None
        if molecule is None:
            missing.append(row)
            text = f"{text} (row {row}: no molecule)" if legend != "row" else f"row {row}: no molecule"
        drawn.append(molecule or "*")  # RDKit writes no legend under an empty cell: a lone * keeps it
        legends.append(text)
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    molecule_grid(drawn, out, legends=legends, per_row=args.per_row, size=args.size)
    shown = ", ".join(map(str, missing[:10])) + (", ..." if len(missing) > 10 else "")
    print(f"wrote {out}: {len(drawn) - len(missing)} of {len(drawn)} rows drawn, legend {legend}"
          + (f"; no readable molecule in {len(missing)}, drawn as * (rows {shown})" if missing else ""))
    return 0
