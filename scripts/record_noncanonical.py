"""Record which rows of a training file are not stored as RDKit-canonical SMILES, for the installed
RDKit: the lines of molvae/resources/noncanonical_rows.csv that let `molvae optimize` judge novelty
against the file exactly without canonicalizing it on a first run (molvae/novelty.py).

    python scripts/record_noncanonical.py moses:train      # about 4 min on 2 cores

Replaces the file's lines for this RDKit version, keeps every other line, and prints the count.
"""

from __future__ import annotations

import argparse
import time

import pandas as pd

from molvae.io import resolve_data_path
from molvae.novelty import RECORD, RECORD_COLUMNS, noncanonical_rows, record_rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("file", help="training file (CSV/SMI, or moses:train)")
    parser.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    args = parser.parse_args()
    path = resolve_data_path(args.file)
    start = time.perf_counter()
    lines = record_rows(path, noncanonical_rows(path, args.workers, progress=True))
    old = pd.read_csv(RECORD, dtype=str, keep_default_na=False) if RECORD.is_file() else pd.DataFrame(columns=RECORD_COLUMNS)
    mine = (old.sha256 == lines.sha256.iloc[0]) & (old.rdkit == lines.rdkit.iloc[0])
    pd.concat([old[~mine], lines.astype(str)], ignore_index=True).to_csv(RECORD, index=False)
    found = int((lines.row.astype(int) >= 0).sum())
    print(f"{path.name}: {found} non-canonical rows under RDKit {lines.rdkit.iloc[0]} "
          f"({time.perf_counter() - start:.0f} s); wrote {RECORD}")


if __name__ == "__main__":
    main()
