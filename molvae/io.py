"""Reading users' SMILES files (CSV/TSV/SMI/TXT, optionally gzipped), the shipped MOSES sets, and
the provenance record written beside every output."""

from __future__ import annotations

import gzip
import io
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from molvae.cache import file_sha256
from molvae.chem import canonical_smiles
from molvae.errors import InputFileError, hint
from molvae.shipped import shipped_name
from molvae.version import __version__


SMILES_COLUMN_NAMES = ("smiles", "canonical_smiles", "smi", "smiles_string", "mol", "molecule")


MOSES_SETS = ("train", "test", "test_scaffolds", "example")
_SET_FILES = {"example": "example.csv"}  # 2,000 random MOSES-train molecules, for notebooks and tutorials
_PACKAGED = Path(__file__).resolve().parent / "datasets"  # inside an installed wheel
_REPOSITORY = Path(__file__).resolve().parent.parent / "data"  # a clone (editable install)


def data_dir() -> Path:
    """The folder of the MOSES sets and reference statistics: ``$MOLVAE_DATA`` when set, else the copy
    inside the installed package (a wheel carries them), else the repository's ``data/``."""
    if os.environ.get("MOLVAE_DATA"):
        return Path(os.environ["MOLVAE_DATA"]).expanduser()
    return _PACKAGED if _PACKAGED.is_dir() else _REPOSITORY


def resolve_data_path(spec: str | os.PathLike) -> Path:
    """A user path, or one of the shipped MOSES sets by name (``moses:train``, ``moses:test``,
    ``moses:test_scaffolds``, and ``moses:example``: 2,000 training molecules for tutorials)."""
    name = str(spec)
    if name.startswith("moses:"):
        split = name.split(":", 1)[1]
        if split not in MOSES_SETS:
            raise InputFileError(f"unknown MOSES set {name!r}; choose moses:{', moses:'.join(MOSES_SETS)}")
        path = data_dir() / _SET_FILES.get(split, f"{split}.csv.gz")
        if not path.is_file():
            raise InputFileError(
                f"{name} is not where this install looks for it ({path}); set MOLVAE_DATA to a folder that holds "
                "the MOSES files (train.csv.gz, test.csv.gz, ...), or pass the file's path"
            )
        return path
    return Path(spec)


def read_smiles(path: str | os.PathLike, column: str | None = None) -> pd.Series:
    """Read the molecules of a CSV/TSV/SMI/TXT or SDF file (optionally ``.gz``) as SMILES.

    `column` picks a column by name (or 0-based position for headerless files); by default the
    column is found by its name (``smiles``, ``SMILES``, ...) or, failing that, by which column
    parses as SMILES. A .csv or .tsv file separated by another delimiter (``;`` as spreadsheets
    write it in many countries, a tab, a comma) is read by that delimiter. Returns a string Series
    indexed by data row (0-based, after any header).
    For SDF, row i is record i + 1; a record RDKit cannot read holds its reason (see
    :data:`molvae.chem.UNREADABLE`), and each record's title or ID is in ``series.attrs["labels"]``.
    """
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"input file not found: {path}" if not path.exists() else f"{path} is not a regular file")
    suffixes = [s.lower() for s in path.suffixes if s.lower() != ".gz"]
    kind = suffixes[-1] if suffixes else ".txt"
    if kind in (".sdf", ".sd", ".mol"):
        return _read_sdf(path)
    try:
        if kind in (".csv", ".tsv"):
            table = _read_delimited(path, sep="\t" if kind == ".tsv" else ",")
        else:
            table = _read_whitespace(path)
    except pd.errors.EmptyDataError:
        raise InputFileError(f"{path} is empty: no header and no data rows") from None
    except (UnicodeDecodeError, OSError, pd.errors.ParserError) as exc:
        raise InputFileError(f"cannot read {path}: {exc}") from None
    if table.empty:
        raise InputFileError(f"{path} has no data rows")
    name = _pick_column(table, column, path)
    series = table[name].fillna("").astype(str).str.strip()
    _check_looks_like_smiles(series, name, path)
    series.name = "smiles"
    return series.reset_index(drop=True)


SDF_LABELS = ("_Name", "ID", "id", "chembl_id", "ChEMBL_ID", "Name", "name", "IDNUMBER")


def _read_sdf(path: Path) -> pd.Series:
    from rdkit import Chem

    from molvae.chem import UNREADABLE, quiet_rdkit

    smiles, labels = [], []
    raw = gzip.open(path, "rb") if path.suffix.lower() == ".gz" else open(path, "rb")
    with raw, quiet_rdkit():
        for i, mol in enumerate(Chem.ForwardSDMolSupplier(raw, sanitize=True, removeHs=True)):
            if mol is None:
                smiles.append(f"{UNREADABLE}SDF record {i + 1}: RDKit cannot read its molecule block")
                labels.append("")
                continue
            smiles.append(Chem.MolToSmiles(mol))
            labels.append(next((mol.GetProp(k).strip() for k in SDF_LABELS if mol.HasProp(k) and mol.GetProp(k).strip()), ""))
    if not smiles:
        raise InputFileError(f"{path} holds no SDF records")
    series = pd.Series(smiles, name="smiles", dtype=str)
    series.attrs["labels"] = labels
    return series


def _open_text(path: Path) -> io.TextIOBase:
    raw = gzip.open(path, "rb") if path.suffix.lower() == ".gz" else open(path, "rb")
    return io.TextIOWrapper(raw, encoding="utf-8")


def _leading_comment_lines(path: Path) -> int:
    # '#' is a SMILES bond symbol, so only whole leading lines starting with '#' are comments.
    n = 0
    with _open_text(path) as fh:
        for line in fh:
            if not line.startswith("#"):
                break
            n += 1
    return n


DELIMITERS = (",", ";", "\t")  # none can be part of a SMILES ("|" can: CXSMILES)


def _delimiter(path: Path, expected: str, skip: int) -> str:
    """The delimiter of a delimited file: `expected` (by its suffix) unless the first line holds none
    of it and holds another of :data:`DELIMITERS` (then the one it holds most)."""
    with _open_text(path) as fh:
        line = next((line for i, line in enumerate(fh) if i >= skip), "")
    if expected in line:
        return expected
    counts = {d: line.count(d) for d in DELIMITERS if d != expected}
    found = max(counts, key=counts.get)
    return found if counts[found] else expected


def _read_delimited(path: Path, sep: str) -> pd.DataFrame:
    skip = _leading_comment_lines(path)
    sep = _delimiter(path, sep, skip)
    first = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, skiprows=skip, nrows=1, header=None)
    if first.empty:
        return first
    header_names = [str(v).strip() for v in first.iloc[0]]
    has_header = any(h.lower() in SMILES_COLUMN_NAMES for h in header_names) or not any(
        canonical_smiles(h) for h in header_names
    )
    # Blank lines are rows too (rejected as empty), so output row numbers match the file's rows.
    table = pd.read_csv(
        path, sep=sep, dtype=str, keep_default_na=False, skiprows=skip, header=0 if has_header else None,
        skip_blank_lines=False,
    )
    if not has_header:
        table.columns = [str(c) for c in table.columns]
    return table


def _read_whitespace(path: Path) -> pd.DataFrame:
    with _open_text(path) as fh:
        rows = [line.split() or [""] for line in fh if not line.startswith("#")]
    if not rows:
        return pd.DataFrame()
    width = max(len(r) for r in rows)
    table = pd.DataFrame([r + [""] * (width - len(r)) for r in rows], columns=[str(i) for i in range(width)])
    header = list(table.iloc[0])
    if any(h.lower() in SMILES_COLUMN_NAMES for h in header):
        table = table.iloc[1:].reset_index(drop=True)
        table.columns = [h or str(i) for i, h in enumerate(header)]
    return table


def _check_looks_like_smiles(series: pd.Series, name: str, path: Path, head: int = 50) -> None:
    """A column none of whose first `head` non-empty values parses is not SMILES (an ID or number
    column picked by mistake): say so rather than reject every row."""
    values = [v for v in series.head(head * 4) if v][:head]
    if len(values) >= 3 and not any(canonical_smiles(v) for v in values):
        example = ", ".join(repr(v[:30]) for v in values[:3])
        raise InputFileError(f"{path}: column {name!r} does not look like SMILES (none of its first {len(values)} "
                             f"values parses, e.g. {example})" + hint("smiles_column", "; name the SMILES column with {}"))


def _pick_column(table: pd.DataFrame, column: str | None, path: Path) -> str:
    columns = [str(c) for c in table.columns]
    if column is not None:
        if column in columns:
            return column
        raise InputFileError(f"{path}: no column named {column!r}; columns are {columns}")
    for c in columns:
        if c.strip().lower() in SMILES_COLUMN_NAMES:
            return c
    head = table.head(50)
    rates = {c: np.mean([canonical_smiles(str(v)) is not None for v in head[c]]) for c in columns}
    best = max(rates, key=rates.get)
    if rates[best] < 0.5:
        raise InputFileError(f"{path}: cannot find a SMILES column (columns: {columns})"
                             + hint("smiles_column", "; name it with {}"))
    return best


def provenance(model: str | os.PathLike | None = None, command: str | None = None, **extra: Any) -> dict[str, Any]:
    """What made an output: the command line (default: this process's), molvae's version, the time,
    the model file (path, SHA-256, and its release name when it is a shipped model) when one was used,
    then `extra` (settings, summaries)."""
    info: dict[str, Any] = {"command": command if command is not None else " ".join(sys.argv),
                            "molvae": __version__, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    if model:
        info["model"] = {"path": str(Path(model).resolve()), "sha256": file_sha256(Path(model))}
        name = shipped_name(model)
        if name:
            info["model"]["name"] = name
    info.update(extra)
    return info


def write_json(path: str | os.PathLike, info: dict[str, Any]) -> Path:
    """Write `info` as indented, strict JSON: NaN and infinities (a figure that is undefined, such as
    the third-best score of a run with two results) become ``null``, which every JSON parser reads;
    numpy numbers and arrays are written as numbers and lists, anything else (paths, ...) as it prints."""
    path = Path(path)
    path.write_text(json.dumps(strict_json(info), indent=2, allow_nan=False) + "\n")
    return path


def strict_json(value: Any) -> Any:
    """`value` as plain JSON data: dicts (keys as strings), lists, strings, finite numbers, booleans
    and ``None``, with NaN and infinities as ``None``."""
    if isinstance(value, dict):
        return {k if isinstance(k, str) else str(k): strict_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [strict_json(v) for v in value]
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if hasattr(value, "tolist"):  # numpy (and torch) numbers and arrays
        return strict_json(value.tolist())
    return str(value)
