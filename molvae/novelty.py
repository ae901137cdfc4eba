"""Whether molecules are in a training set (novelty), answered exactly without canonicalizing the
whole training set on a first run.

A molecule is in the training set when its canonical SMILES is the canonical SMILES of one of the
set's rows. Canonicalizing all 1,584,663 rows of MOSES-train takes about four minutes on two cores,
so the full index is built only when nothing cheaper gives the exact answer:

1. the file's index built before (:func:`molvae.data.canonical_set`, cached) answers at once;
2. otherwise the file's rows are read as they are stored (2-3 s for MOSES-train). A row whose
   stored string is already RDKit-canonical stands for itself, so the answer is exact once the
   rows that are not canonical are known: :data:`RECORD` lists them for the files measured (for
   MOSES-train under RDKit 2026.09.1: 276 of 1,584,663 rows, mostly imines written ``[H]N=`` and
   fused rings written with explicit single bonds), keyed by the file's SHA-256 and the RDKit
   version, since another RDKit may canonicalize differently;
3. for another file or RDKit version, a molecule found among the stored rows is answered exactly
   by checking that its row is canonical; any other molecule needs the full index, which is built
   once with a progress bar, said to cost what it costs, and cached for later runs.
"""

from __future__ import annotations

import os
import sys
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from molvae.cache import default_cache_dir, file_sha256
from molvae.chem import as_smiles_list, canonical_many
from molvae.io import read_smiles

# the rows of training files whose stored SMILES are not what molvae.chem.canonical_smiles makes of
# them (canonical "" where the row does not parse); a file measured with none has one row with row -1
RECORD = Path(__file__).resolve().parent / "resources" / "noncanonical_rows.csv"
RECORD_COLUMNS = ["sha256", "rdkit", "row", "stored", "canonical"]
# molecules canonicalized per second per core, measured on MOSES-train (1,584,663 in 254 s on one busy core)
CANONICAL_PER_SECOND = 6_000


def noncanonical_rows(path: str | os.PathLike, workers: int | None = None, progress: bool = False) -> pd.DataFrame:
    """The rows of a SMILES file whose stored string is not its RDKit canonical SMILES:
    ``row, stored, canonical`` (canonical "" where the row does not parse). Canonicalizes every row."""
    from molvae.data import canonicalize

    stored = read_smiles(path)
    canon = canonicalize(stored.tolist(), workers, progress)
    rows = [(i, s, c or "") for i, (s, c) in enumerate(zip(stored, canon)) if s != c]
    return pd.DataFrame(rows, columns=["row", "stored", "canonical"])


def record_rows(path: str | os.PathLike, rows: pd.DataFrame) -> pd.DataFrame:
    """:data:`RECORD`'s lines for the file `path` whose :func:`noncanonical_rows` are `rows`, under
    this RDKit (write them with the file's other lines to extend the record)."""
    from rdkit import __version__ as rdkit_version

    if not len(rows):
        rows = pd.DataFrame({"row": [-1], "stored": [""], "canonical": [""]})
    return rows.assign(sha256=file_sha256(Path(path)), rdkit=rdkit_version)[RECORD_COLUMNS]


@lru_cache(maxsize=8)
def recorded_exceptions(sha256: str, rdkit: str) -> dict[str, str] | None:
    """The stored -> canonical SMILES of the non-canonical rows :data:`RECORD` lists for the file with
    this SHA-256 under this RDKit version; ``None`` when it was not measured so."""
    if not RECORD.is_file():
        return None
    table = pd.read_csv(RECORD, dtype=str, keep_default_na=False)
    mine = table[(table.sha256 == sha256) & (table.rdkit == rdkit)]
    if not len(mine):
        return None
    mine = mine[mine.row != "-1"]
    return dict(zip(mine.stored, mine.canonical))


def in_training_set(smiles: str | Sequence[str], train: str | os.PathLike, workers: int | None = None,
                    cache_dir: str | os.PathLike | None = None, progress: bool = False) -> np.ndarray:
    """(n,) bool: whether each molecule (SMILES; one string is one molecule) is in the training file
    `train`, i.e. its canonical SMILES is that of one of the file's rows. Exact, and fast when the
    file's index is cached or its non-canonical rows are recorded (see the module's description);
    otherwise the index is built once (all cores by default, `workers`), which `progress` reports."""
    from rdkit import __version__ as rdkit_version

    from molvae.data import canonical_set

    path = Path(train)
    molecules = [s if isinstance(s, str) else "" for s in as_smiles_list(smiles)]
    canon = canonical_many(molecules)  # each candidate as the index holds it ("" where it does not parse)
    canon = [c or "" for c in canon]
    cached = canonical_set(path, cache_dir=cache_dir, cached_only=True)
    if cached is not None:
        return np.array([bool(c) and c in cached for c in canon])
    stored = set(read_smiles(path))
    exceptions = recorded_exceptions(file_sha256(path), rdkit_version)
    if exceptions is not None:
        canonical_of_exceptions = set(exceptions.values())
        return np.array([bool(c) and ((c in stored and c not in exceptions) or c in canonical_of_exceptions)
                         for c in canon])
    # unmeasured: a molecule whose own row is canonical is answered; any other needs every row's canonical form
    found = [bool(c) and c in stored and canonical_many([c])[0] == c for c in canon]
    if all(found[i] or not c for i, c in enumerate(canon)):
        return np.array(found)
    if progress:
        cores = workers or os.cpu_count() or 1
        minutes = len(stored) / (CANONICAL_PER_SECOND * cores) / 60
        print(f"novelty: telling which molecules are in {path.name} needs the canonical SMILES of its {len(stored):,} "
              f"rows, not measured for this file under RDKit {rdkit_version}: building that index once (about "
              f"{max(minutes, 0.1):.1f} min on {cores} core{'s' if cores > 1 else ''}), cached in "
              f"{cache_dir or default_cache_dir()} for later runs", file=sys.stderr, flush=True)
    index = canonical_set(path, cache_dir=cache_dir, workers=workers, progress=progress)
    return np.array([bool(c) and c in index for c in canon])
