"""How many molecules of real-world files the shipped model reads, with and without --standardize.

    python scripts/benchmarks/bench_inputs.py [--out docs/bench/inputs] [FILE ...]

For each file (default: the molecule files that ship with RDKit: two SDF sets of kinase ligands,
the c-Met ligands of RDKit's Free-Wilson example, and the first 5,000 rows of RDKit's NCI set, as
SMILES and the first 200 as SDF) it runs what ``molvae encode FILE`` runs, once as is and once
with ``--standardize``, and counts the rows encoded and the rejected rows by kind of reason. Every
row is in one of the two (checked). Prints a markdown table and writes OUT/inputs.csv and
OUT/inputs.json (with provenance).
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

import pandas as pd
import rdkit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # scripts/harness.py, shared by the benchmarks and studies
from harness import script_provenance
from molvae.api import MolVAE
from molvae.io import read_smiles, write_json
from molvae.space import reason_kind

RDKIT = Path(rdkit.__file__).parent
FILES = [
    RDKIT / "Contrib" / "Fastcluster" / "testdata" / "cdk2.sdf",
    RDKIT / "Contrib" / "PBF" / "testData" / "egfr.sdf",
    RDKIT / "Contrib" / "FreeWilson" / "data" / "cmet_ligands.sdf",
    RDKIT / "Data" / "NCI" / "first_200.props.sdf",
    RDKIT / "Data" / "NCI" / "first_5K.smi",
]


def count(vae: MolVAE, smiles: pd.Series, standardize: bool) -> dict:
    vae.standardize = standardize
    mols = vae.prepare(smiles.tolist())
    assert len(mols) + len(mols.rejects) == len(smiles), "a row was lost"
    reasons = Counter(reason_kind(r.split(";")[0]) for r in mols.rejects.reason)
    hinted = int(mols.rejects.reason.str.contains("--standardize").sum())
    return {"encoded": len(mols), "rejected": len(mols.rejects), "hinted": hinted, "reasons": dict(reasons)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="*", type=Path, help="molecule files (default: RDKit's, see above)")
    ap.add_argument("--out", default="docs/bench/inputs")
    ap.add_argument("-m", "--model", help="checkpoint (default: the shipped model)")
    args = ap.parse_args()
    vae = MolVAE.load(args.model, device="cpu")
    rows = []
    for path in args.files or FILES:
        smiles = read_smiles(path)
        for standardize in (False, True):
            result = count(vae, smiles, standardize)
            rows.append({"file": path.name, "rows": len(smiles), "standardize": standardize, **result})
    table = pd.DataFrame(rows)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / "inputs.csv", index=False)
    write_json(out / "inputs.json", script_provenance(model=vae.path, rows=rows))
    print("| file | rows | encoded | encoded with --standardize | rejected as is, by reason | rejected standardized, by reason |")
    print("|---|---:|---:|---:|---|---|")
    for name, part in table.groupby("file", sort=False):
        plain, std = part.iloc[0], part.iloc[1]

        def reasons(r):
            return "; ".join(f"{k} {v}" for k, v in sorted(r.reasons.items(), key=lambda kv: -kv[1])) or "none"

        print(f"| {name} | {plain.rows:,} | {plain.encoded:,} ({plain.encoded / plain.rows:.0%}) | "
              f"{std.encoded:,} ({std.encoded / std.rows:.0%}) | {reasons(plain)} (hint to standardize: {plain.hinted}) "
              f"| {reasons(std)} |")
    print(f"wrote {out / 'inputs.csv'} and {out / 'inputs.json'}")


if __name__ == "__main__":
    main()
