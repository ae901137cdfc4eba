"""Reading users' files of molecules (CSV/TSV/SMI/TXT/SDF, optionally gzipped) with the rest of each
row, writing tables of molecules in the format their file name says (CSV, TSV or SDF), the shipped
MOSES sets, and the provenance record written beside every output."""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import math
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from molvae.cache import atomic_path, file_sha256
from molvae.chem import canonical_smiles
from molvae.errors import ConfigError, InputFileError, hint
from molvae.shipped import resolve_model, shipped_name
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


@dataclass
class MoleculeFile:
    """A user's file of molecules: the SMILES of each data row and the rest of the row.

    smiles:  one SMILES per data row, indexed by row (0-based, after any header). For SDF, row i
             is record i + 1, and a record RDKit cannot read holds its reason (see
             :data:`molvae.chem.UNREADABLE`).
    columns: the row's other columns, same index, as the strings the file holds: a CSV's or TSV's
             columns other than the SMILES one under their names; a headerless file's as
             ``column_N`` (N its 1-based position), except that the column after a .smi/.txt file's
             SMILES is ``name``; an SDF record's ``label`` (its title, or an ID tag when the title is
             empty) then every SD tag, empty where a record lacks it.
    """

    smiles: pd.Series
    columns: pd.DataFrame

    def head(self, n: int) -> "MoleculeFile":
        """The first `n` rows."""
        return MoleculeFile(self.smiles.iloc[:n], self.columns.iloc[:n])


def read_molecules(path: str | os.PathLike, column: str | None = None) -> MoleculeFile:
    """Read a CSV/TSV/SMI/TXT or SDF file (optionally ``.gz``): its SMILES and the rest of each row.

    `column` picks the SMILES column by name (or 0-based position for headerless files); by default
    it is found by its name (``smiles``, ``SMILES``, ...) or, failing that, by which column parses
    as SMILES. A .csv or .tsv file separated by another delimiter (``;`` as spreadsheets write it in
    many countries, a tab, a comma) is read by that delimiter. SDF molecules are written as SMILES.
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
            table, has_header = _read_delimited(path, sep="\t" if kind == ".tsv" else ",")
        else:
            table, has_header = _read_whitespace(path)
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
    others = table.drop(columns=[name]).fillna("").astype(str).reset_index(drop=True)
    if not has_header:  # positions, not names: the .smi convention "SMILES NAME" names the next one
        after = int(name) + 1 if kind not in (".csv", ".tsv") else -1
        others.columns = ["name" if int(c) == after else f"column_{int(c) + 1}" for c in others.columns]
    return MoleculeFile(series.reset_index(drop=True), others)


def read_smiles(path: str | os.PathLike, column: str | None = None) -> pd.Series:
    """The SMILES of a file :func:`read_molecules` reads, as a string Series indexed by data row;
    for SDF each record's title or ID is in ``series.attrs["labels"]``."""
    molecules = read_molecules(path, column)
    smiles = molecules.smiles
    if "label" in molecules.columns and _is_sdf(path):
        smiles.attrs["labels"] = molecules.columns["label"].tolist()
    return smiles


def _is_sdf(path: str | os.PathLike) -> bool:
    suffixes = [s.lower() for s in Path(path).suffixes if s.lower() != ".gz"]
    return bool(suffixes) and suffixes[-1] in (".sdf", ".sd", ".mol")


SDF_LABELS = ("_Name", "ID", "id", "chembl_id", "ChEMBL_ID", "Name", "name", "IDNUMBER")


def _read_sdf(path: Path) -> MoleculeFile:
    from rdkit import Chem

    from molvae.chem import UNREADABLE, quiet_rdkit

    smiles, tags = [], []
    raw = gzip.open(path, "rb") if path.suffix.lower() == ".gz" else open(path, "rb")
    with raw, quiet_rdkit():
        for i, mol in enumerate(Chem.ForwardSDMolSupplier(raw, sanitize=True, removeHs=True)):
            if mol is None:  # RDKit gives no tags of a record it cannot read
                smiles.append(f"{UNREADABLE}SDF record {i + 1}: RDKit cannot read its molecule block")
                tags.append({"label": ""})
                continue
            smiles.append(Chem.MolToSmiles(mol))
            label = next((mol.GetProp(k).strip() for k in SDF_LABELS if mol.HasProp(k) and mol.GetProp(k).strip()), "")
            # an SD tag named "label" is kept as "label_tag": "label" is the record's name
            tags.append({"label": label, **{k if k != "label" else "label_tag": mol.GetProp(k) for k in mol.GetPropNames()}})
    if not smiles:
        raise InputFileError(f"{path} holds no SDF records")
    columns = pd.DataFrame(tags, dtype=object).fillna("").astype(str)
    return MoleculeFile(pd.Series(smiles, name="smiles", dtype=str), columns)


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


def _read_delimited(path: Path, sep: str) -> tuple[pd.DataFrame, bool]:
    """The table and whether its first line was a header."""
    skip = _leading_comment_lines(path)
    sep = _delimiter(path, sep, skip)
    first = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, skiprows=skip, nrows=1, header=None)
    if first.empty:
        return first, False
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
    return table, has_header


def _read_whitespace(path: Path) -> tuple[pd.DataFrame, bool]:
    """The table (columns split at whitespace) and whether its first line was a header."""
    with _open_text(path) as fh:
        rows = [line.split() or [""] for line in fh if not line.startswith("#")]
    if not rows:
        return pd.DataFrame(), False
    width = max(len(r) for r in rows)
    table = pd.DataFrame([r + [""] * (width - len(r)) for r in rows], columns=[str(i) for i in range(width)])
    header = list(table.iloc[0])
    if any(h.lower() in SMILES_COLUMN_NAMES for h in header):
        table = table.iloc[1:].reset_index(drop=True)
        table.columns = [h or str(i) for i, h in enumerate(header)]
        return table, True
    return table, False


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


# ----------------------------------------------------------------------------- writing tables of molecules

OUTPUT_FORMATS = {".csv": "csv", ".tsv": "tsv", ".sdf": "sdf", ".sd": "sdf"}
OUTPUT_EXTENSIONS = ".csv, .tsv or .sdf, each optionally followed by .gz"
TITLE_COLUMNS = ("label", "name", "Name", "NAME", "title", "Title", "id", "ID")  # an SDF record's title, first found


def output_format(path: str | os.PathLike) -> str:
    """``csv``, ``tsv`` or ``sdf`` from an output file's name (``.csv``, ``.tsv``, ``.sdf``/``.sd``,
    each optionally followed by ``.gz``); any other name is a :class:`ConfigError` naming these."""
    name = Path(path).name.lower()
    suffix = Path(name[:-3] if name.endswith(".gz") else name).suffix
    if suffix in OUTPUT_FORMATS:
        return OUTPUT_FORMATS[suffix]
    why = (" (a SMILES file holds only SMILES and a name; .csv keeps every column, .sdf every column as SD tags)"
            if suffix in (".smi", ".txt") else "")
    raise ConfigError(f"cannot tell the output format of {path} from its extension: name it {OUTPUT_EXTENSIONS}{why}")


# extensions an output's side files drop: a table's usual one, pictures and checkpoints
_SIDE_STRIPPED = {"csv", "png", "svg", "pt"}


def output_stem(path: str | os.PathLike) -> str:
    """The name an output's side files (``.rejects.csv``, ``.png``) take: the output's file name
    without a ``.csv``, picture (``.png``, ``.svg``) or checkpoint (``.pt``) extension, so ``out``
    of ``out.csv`` or ``out.csv.gz``; other formats keep theirs (``out.sdf`` of ``out.sdf.gz``, ``out.npy``), so that
    outputs of one name in two formats do not overwrite each other's rejects."""
    name = Path(path).name
    if name.lower().endswith(".gz"):
        name = name[:-3]
    stem, dot, extension = name.rpartition(".")
    return stem if dot and stem and extension.lower() in _SIDE_STRIPPED else name


class MoleculeWriter:
    """Writes a table of molecules, chunk by chunk, in the format its file name says (see
    :func:`output_format`); a ``.gz`` ending compresses it. The file appears complete when the
    ``with`` block ends, and not at all if it fails.

    CSV and TSV hold the columns as they are. SDF holds one record per row, in order: the molecule of
    `molecule_column` (with 2-D coordinates) titled by the row's ``label``, ``name`` or ``id`` column
    (:data:`TITLE_COLUMNS`; a ``label`` is not repeated as a tag), and every other column as an SD
    tag (floats in `float_format`, NaN as an empty tag). A row with no valid molecule (an empty or
    unparsable SMILES) is an empty record (no atoms) that keeps its tags, so row i is always record
    i + 1 and no row is lost. `columns`: the header to write if no row is written (CSV/TSV)."""

    def __init__(self, path: str | os.PathLike, molecule_column: str = "smiles", float_format: str | None = None,
                 columns: Sequence[str] = ()):
        self.path = Path(path)
        self.format = output_format(self.path)
        self.molecule_column, self.float_format, self.columns = molecule_column, float_format, list(columns)
        self.rows = 0
        self._stack: contextlib.ExitStack | None = None

    def __enter__(self) -> "MoleculeWriter":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.ExitStack() as stack:
            tmp = stack.enter_context(atomic_path(self.path))
            gz = self.path.name.lower().endswith(".gz")
            self._fh = stack.enter_context(gzip.open(tmp, "wt", encoding="utf-8", newline="") if gz
                                           else open(tmp, "w", encoding="utf-8", newline=""))
            self._stack = stack.pop_all()
        return self

    def __exit__(self, *exc) -> bool:
        if exc[0] is None and self.rows == 0 and self.format != "sdf" and self.columns:
            self._fh.write(("\t" if self.format == "tsv" else ",").join(self.columns) + "\n")
        return self._stack.__exit__(*exc)

    def write(self, frame: pd.DataFrame) -> None:
        """Append the rows of `frame` (the same columns every time)."""
        if self.format == "sdf":
            self._write_sdf(frame)
        else:
            frame.to_csv(self._fh, sep="\t" if self.format == "tsv" else ",", index=False, header=self.rows == 0,
                         float_format=self.float_format)
        self.rows += len(frame)

    def _write_sdf(self, frame: pd.DataFrame) -> None:
        from rdkit import Chem
        from rdkit.Chem import rdDepictor

        from molvae.chem import mol_from_smiles, quiet_rdkit

        if self.molecule_column not in frame.columns:
            raise ConfigError(f"no column {self.molecule_column!r} to take the molecules from; "
                              f"columns are {list(frame.columns)}")
        title = next((c for c in TITLE_COLUMNS if c in frame.columns), None)
        tags = [c for c in frame.columns if c != self.molecule_column and c != "label"]
        text = {c: frame[c].map(self._tag_text).tolist() for c in tags}
        titles = frame[title].map(self._tag_text).tolist() if title else [""] * len(frame)
        with quiet_rdkit():
            for i, smiles in enumerate(frame[self.molecule_column].tolist()):
                mol = mol_from_smiles(smiles) if isinstance(smiles, str) and smiles else None
                if mol is None:
                    mol = Chem.Mol()
                else:
                    rdDepictor.Compute2DCoords(mol)
                mol.SetProp("_Name", titles[i])
                block = [Chem.MolToMolBlock(mol).rstrip("\n")]
                block += [f">  <{c}>\n{text[c][i]}\n" for c in tags]
                self._fh.write("\n".join(block) + "\n$$$$\n")

    def _tag_text(self, value: Any) -> str:
        """A value as an SD tag's one line: empty for missing, floats in `float_format`."""
        if value is None or (isinstance(value, (float, np.floating)) and math.isnan(value)):
            return ""
        if isinstance(value, (float, np.floating)):
            return self.float_format % value if self.float_format else repr(float(value))
        return " ".join(str(value).splitlines())


def write_molecules(table: pd.DataFrame, path: str | os.PathLike, molecule_column: str = "smiles",
                    float_format: str | None = None) -> Path:
    """Write a table of molecules in the format `path`'s name says (:class:`MoleculeWriter`)."""
    with MoleculeWriter(path, molecule_column, float_format, columns=table.columns) as out:
        out.write(table)
    return Path(path)


def with_input_columns(table: pd.DataFrame, columns: pd.DataFrame) -> pd.DataFrame:
    """`table` with an input file's own `columns` (:attr:`MoleculeFile.columns`, indexed by input row)
    inserted after its ``row`` column, each row's values looked up by its ``row``. A column whose name
    `table` already has is prefixed with ``input_`` (again until the name is free), so a user's
    ``qed`` column next to a computed one is written as ``input_qed``."""
    if columns.shape[1] == 0 or "row" not in table.columns:
        return table
    values = columns.reindex(table["row"].to_numpy()).fillna("")
    taken = set(map(str, table.columns))
    at = int(table.columns.get_loc("row")) + 1
    for i, name in enumerate(values.columns):
        free = str(name)
        while free in taken:
            free = "input_" + free
        taken.add(free)
        table.insert(at + i, free, values[name].to_numpy())
    return table


def read_table(path: str | os.PathLike, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """A table :class:`MoleculeWriter` wrote, read back (an SDF's tags as strings); `columns`: only these."""
    fmt = output_format(path)
    if fmt == "sdf":
        table = read_molecules(path).columns
        return table[list(columns)] if columns is not None else table
    return pd.read_csv(path, sep="\t" if fmt == "tsv" else ",", usecols=columns)


def provenance(model: str | os.PathLike | None = None, command: str | None = None, **extra: Any) -> dict[str, Any]:
    """What made an output: the command line (default: this process's), molvae's version, the time,
    the model file (path, SHA-256, and its release name when it is a shipped model) when one was used,
    then `extra` (settings, summaries). `model` is a checkpoint's path or a shipped model's name."""
    info: dict[str, Any] = {"command": command if command is not None else " ".join(sys.argv),
                            "molvae": __version__, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    if model:
        model = resolve_model(model)
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
