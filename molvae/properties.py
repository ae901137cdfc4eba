"""RDKit molecular properties. Each function takes an RDKit ``Mol`` (or a SMILES string) and
returns a float; an unparsable SMILES raises :class:`~molvae.errors.InvalidSmiles` (a ``ValueError``).

:data:`REGISTRY` names them for the command line and for :func:`compute`, which scores many
SMILES at once (in worker processes for large inputs); :func:`register` adds a user's own. The
functions that take many molecules take one SMILES string as one molecule (one row comes back)."""

from __future__ import annotations

import hashlib
import importlib
import math
import os
import sys
from functools import lru_cache, partial
from typing import Callable, Sequence

import numpy as np
import pandas as pd
from rdkit import Chem, RDConfig
from rdkit import DataStructs
from rdkit.Chem import Crippen, Descriptors, Lipinski, rdFingerprintGenerator, rdMolDescriptors
from rdkit.Chem import QED as _QED

from molvae.cache import cache_file, save_npz_atomic
from molvae.chem import as_smiles_list, canonical_smiles, mol_from_smiles, quiet_rdkit
from molvae.errors import ConfigError, InvalidSmiles
from molvae.parallel import map_chunks

MolLike = Chem.Mol | str


def as_mol(mol: MolLike) -> Chem.Mol:
    """A ``Mol`` from a ``Mol`` or SMILES; ``InvalidSmiles`` naming the SMILES if it does not parse."""
    if isinstance(mol, Chem.Mol):
        return mol
    parsed = mol_from_smiles(mol)
    if parsed is None:
        raise InvalidSmiles(f"not a valid SMILES: {mol!r}")
    return parsed


@lru_cache(maxsize=1)
def _sascorer():
    # The SA scorer ships in RDKit's Contrib folder, whose location RDConfig knows for pip and conda.
    path = os.path.join(RDConfig.RDContribDir, "SA_Score")
    if path not in sys.path:
        sys.path.append(path)
    return importlib.import_module("sascorer")


def logp(mol: MolLike) -> float:
    """Wildman-Crippen logP (RDKit ``MolLogP``)."""
    return Crippen.MolLogP(as_mol(mol))


def qed(mol: MolLike) -> float:
    """Quantitative estimate of drug-likeness (Bickerton et al. 2012), in [0, 1]."""
    return _QED.qed(as_mol(mol))


def sa_score(mol: MolLike) -> float:
    """Synthetic accessibility (Ertl & Schuffenhauer 2009), 1 (easy) to 10 (hard)."""
    return _sascorer().calculateScore(as_mol(mol))


def mol_weight(mol: MolLike) -> float:
    """Average molecular weight in daltons (RDKit ``MolWt``)."""
    return Descriptors.MolWt(as_mol(mol))


def tpsa(mol: MolLike) -> float:
    """Topological polar surface area (Ertl et al. 2000), in square angstroms."""
    return rdMolDescriptors.CalcTPSA(as_mol(mol))


def hbd(mol: MolLike) -> float:
    """Hydrogen-bond donors (RDKit ``NumHDonors``, by SMARTS patterns; not Lipinski's N-H/O-H count)."""
    return float(Lipinski.NumHDonors(as_mol(mol)))


def hba(mol: MolLike) -> float:
    """Hydrogen-bond acceptors (RDKit ``NumHAcceptors``, by SMARTS patterns; not Lipinski's N+O count)."""
    return float(Lipinski.NumHAcceptors(as_mol(mol)))


def rotatable_bonds(mol: MolLike) -> float:
    """Rotatable bonds (RDKit ``NumRotatableBonds``, strict definition)."""
    return float(rdMolDescriptors.CalcNumRotatableBonds(as_mol(mol)))


def rings(mol: MolLike) -> float:
    """Number of rings (SSSR)."""
    return float(rdMolDescriptors.CalcNumRings(as_mol(mol)))


def aromatic_rings(mol: MolLike) -> float:
    """Number of aromatic rings."""
    return float(rdMolDescriptors.CalcNumAromaticRings(as_mol(mol)))


def heavy_atoms(mol: MolLike) -> float:
    """Number of heavy (non-hydrogen) atoms."""
    return float(as_mol(mol).GetNumHeavyAtoms())


def fsp3(mol: MolLike) -> float:
    """Fraction of the carbons that are sp3 (RDKit ``CalcFractionCSP3``), in [0, 1]; 0 for a molecule without carbon."""
    return rdMolDescriptors.CalcFractionCSP3(as_mol(mol))


def lipinski_violations(mol: MolLike) -> float:
    """Rule-of-five violations (Lipinski et al. 1997), 0 to 4: weight over 500 Da (``MolWt``), Crippen logP
    over 5, over 5 H-bond donors (N-H and O-H hydrogens, ``NumLipinskiHBD``), over 10 acceptors (N and O
    atoms, ``NumLipinskiHBA``). Lipinski's donor and acceptor counts, not those of hbd and hba."""
    mol = as_mol(mol)
    return float((mol_weight(mol) > 500) + (logp(mol) > 5) + (rdMolDescriptors.CalcNumLipinskiHBD(mol) > 5)
                 + (rdMolDescriptors.CalcNumLipinskiHBA(mol) > 10))


# Penalized logP (Kusner et al. 2017, GVAE; used by JT-VAE, GCPN, LIMO and most later work):
# logP - SA - ring penalty, the penalty being how far the largest ring (networkx cycle basis of the
# heavy-atom graph, as in the JT-VAE code) exceeds six atoms. JT-VAE's form z-scores each term
# with these means and standard deviations over ZINC250k (250k_rndm_zinc_drugs_clean.smi); the
# MolDQN-style form adds the raw terms. The two differ by a constant scale, so compare a published
# number only with the form its paper used.
PLOGP_NORMALIZATION = {
    "logp": (2.4570953396190123, 1.434324401111988),
    "neg_sa": (-3.0525811293166134, 0.8335207024513095),
    "neg_ring": (-0.0485696876403053, 0.2860212110245455),
}


def largest_ring_penalty(mol: MolLike) -> float:
    """max(0, size of the largest ring in the cycle basis - 6)."""
    import networkx as nx

    graph = nx.Graph(Chem.rdmolops.GetAdjacencyMatrix(as_mol(mol)))
    cycles = nx.cycle_basis(graph)
    return float(max(0, max((len(c) for c in cycles), default=0) - 6))


def penalized_logp(mol: MolLike) -> float:
    """JT-VAE's penalized logP: z-scored logP - SA - ring penalty (z-scored over ZINC250k)."""
    mol = as_mol(mol)
    terms = {"logp": logp(mol), "neg_sa": -sa_score(mol), "neg_ring": -largest_ring_penalty(mol)}
    return sum((terms[k] - mean) / sd for k, (mean, sd) in PLOGP_NORMALIZATION.items())


def penalized_logp_raw(mol: MolLike) -> float:
    """Unnormalized penalized logP: logP - SA - ring penalty (the MolDQN form)."""
    mol = as_mol(mol)
    return logp(mol) - sa_score(mol) - largest_ring_penalty(mol)


def canonical(smiles: str) -> str:
    """RDKit canonical SMILES; ``InvalidSmiles`` naming the input if it does not parse."""
    out = canonical_smiles(smiles)
    if out is None:
        raise InvalidSmiles(f"not a valid SMILES: {smiles!r}")
    return out


@lru_cache(maxsize=1)
def _morgan():
    return rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)


def fingerprint(mol: MolLike):
    """Morgan fingerprint, radius 2, 2048 bits (ECFP4-like; the usual basis of similarity constraints)."""
    return _morgan().GetFingerprint(as_mol(mol))


def tanimoto(smiles: str | Sequence[str | None], reference: MolLike) -> list[float]:
    """Tanimoto similarity (Morgan radius 2, 2048 bits) of each SMILES to `reference`; NaN for
    rows that do not parse. One string is one molecule (a list of one comes back)."""
    ref = fingerprint(reference)
    out = []
    with quiet_rdkit():
        for smi in as_smiles_list(smiles):
            mol = mol_from_smiles(smi) if smi else None
            out.append(DataStructs.TanimotoSimilarity(ref, fingerprint(mol)) if mol is not None else math.nan)
    return out


REGISTRY: dict[str, Callable[[Chem.Mol], float]] = {
    "qed": qed, "logp": logp, "sa": sa_score, "mw": mol_weight, "tpsa": tpsa, "hbd": hbd, "hba": hba,
    "rotatable_bonds": rotatable_bonds, "rings": rings, "aromatic_rings": aromatic_rings,
    "heavy_atoms": heavy_atoms, "fsp3": fsp3, "lipinski_violations": lipinski_violations,
    "penalized_logp": penalized_logp, "penalized_logp_raw": penalized_logp_raw,
}
DEFAULT = ("qed", "logp", "sa", "mw")


def register(name: str, fn: Callable[[Chem.Mol], float]) -> None:
    """Make a user's property available by `name` (to :func:`compute` and the command line of this
    process). `fn` takes an RDKit ``Mol`` and returns a number. For worker processes it must be
    importable (a module-level function)."""
    if not name.isidentifier():
        raise ConfigError(f"property name must be an identifier, got {name!r}")
    REGISTRY[name] = fn


def known() -> str:
    """The names of the properties :func:`compute` knows, comma-separated (for help texts)."""
    return ", ".join(REGISTRY)


def glossary(width: int = 100) -> str:
    """Each known property: its name and the first paragraph of its docstring (what it is, its unit),
    wrapped to `width` columns."""
    import textwrap

    pad = max(map(len, REGISTRY)) + 4
    entries = []
    for name, fn in REGISTRY.items():
        doc = " ".join((fn.__doc__ or "").split("\n\n")[0].split()).replace("``", "")
        entries.append(textwrap.fill(doc, width, initial_indent=f"  {name:<{pad - 2}}", subsequent_indent=" " * pad))
    return "\n".join(entries)


def names_of(names: str | Sequence[str] | None) -> list[str]:
    """The names a list or a comma-separated string holds ("" or "none": none; ``None``: the
    defaults), not yet checked against the registry."""
    if names is None:
        return list(DEFAULT)
    if isinstance(names, str):
        return [] if names.strip().lower() in ("", "none") else [n.strip() for n in names.split(",") if n.strip()]
    return list(names)


def resolve(names: str | Sequence[str] | None) -> list[str]:
    """Property names from a list or a comma-separated string ("" or "none": no properties);
    unknown names raise :class:`ConfigError` listing the known ones."""
    names = names_of(names)
    unknown = [n for n in names if n not in REGISTRY]
    if unknown:
        raise ConfigError(f"unknown propert{'y' if len(unknown) == 1 else 'ies'} {', '.join(map(repr, unknown))}; "
                          f"known: {', '.join(REGISTRY)}")
    return list(names)


def _compute_chunk(smiles: list[str], names: Sequence[str], fns: Sequence[Callable] | None = None) -> list[list[float]]:
    fns = fns or [REGISTRY[n] for n in names]
    rows = []
    with quiet_rdkit():
        for smi in smiles:
            mol = mol_from_smiles(smi) if smi else None
            if mol is None:
                rows.append([math.nan] * len(fns))
                continue
            row = []
            for fn in fns:
                try:
                    row.append(float(fn(mol)))
                except Exception:  # a property undefined for this molecule (e.g. a failing user function)
                    row.append(math.nan)
            rows.append(row)
    return rows


def compute(smiles: str | Sequence[str | None], names: str | Sequence[str] | None = None, workers: int | None = None,
            progress: bool = False) -> pd.DataFrame:
    """The properties `names` (default: qed, logp, sa, mw) of each SMILES, one row per input in order
    (one string is one molecule: ``compute("CCO", ["mw"])`` is one row). Rows that do not parse (or
    ``None``/"") are NaN. Large inputs run in worker processes; properties registered by the user at
    run time are computed in this process."""

    names = resolve(names)
    smiles = [s or "" for s in as_smiles_list(smiles)]
    if all(REGISTRY[n] is _BUILTIN.get(n) for n in names):
        fn = partial(_compute_chunk, names=names)  # workers look the functions up themselves
    else:  # a user's function may not be importable in a worker: this process only
        fn, workers = partial(_compute_chunk, names=names, fns=[REGISTRY[n] for n in names]), 1
    rows = map_chunks(fn, smiles, workers, "properties", progress)
    return pd.DataFrame(rows, columns=names, dtype=float) if rows else pd.DataFrame(columns=names, dtype=float)


_BUILTIN = dict(REGISTRY)


def molecule_properties(smiles: str | Sequence[str], names: Sequence[str], cache_dir: str | os.PathLike | None = None,
                        workers: int | None = None, progress: bool = False) -> np.ndarray:
    """RDKit properties `names` of canonical SMILES as an (n, P) float32 array, cached by the
    molecules, the names and the RDKit version (all of MOSES takes minutes to score). One string is
    one molecule: (1, P)."""
    from rdkit import __version__ as rdkit_version

    smiles = as_smiles_list(smiles)
    digest = hashlib.sha256("\n".join(smiles).encode()).hexdigest()
    cache = cache_file({"smiles": digest, "names": list(names), "rdkit": rdkit_version, "what": "props-1"}, cache_dir,
                       prefix="props-")
    if cache is not None and cache.is_file():
        with np.load(cache) as z:
            return z["props"]
    values = compute(list(smiles), list(names), workers=workers, progress=progress).to_numpy(np.float32)
    if cache is not None:
        save_npz_atomic(cache, props=values)
    return values


def table(smiles: str | Sequence[str], names: str | Sequence[str] | None = None, reference: str | None = None,
          workers: int | None = None, progress: bool = False, largest_fragment: bool = False,
          standardize: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(properties, rejects) of input SMILES: one properties row per parsable input (``row, input,
    canonical``, each property, and ``similarity`` to `reference` if given), and one rejects row
    (``row, input, reason``) per input that does not parse. ``row`` is the input's position (or its
    Series index). Every input is in exactly one of the two. The properties are those of the
    largest fragment with `largest_fragment`, of the standardized molecule with `standardize`
    (:func:`molvae.chem.standardize`); ``canonical`` is the molecule scored. One string is one molecule."""
    from molvae.chem import input_problem, largest_fragment as largest, standardize as standardized

    names = resolve(names)
    rows = list(smiles.index) if isinstance(smiles, pd.Series) else None
    inputs = [str(s) if s is not None else "" for s in as_smiles_list(smiles)]
    rows = rows if rows is not None else list(range(len(inputs)))
    ref = canonical(reference) if reference else None  # a bad reference is an error before any work
    clean = standardized if standardize else largest if largest_fragment else (lambda s: s)
    with quiet_rdkit():
        canon = [canonical_smiles(clean(s)) if input_problem(s) is None else None for s in inputs]
    values = compute(canon, names, workers=workers, progress=progress)
    if ref is not None:
        values["similarity"] = tanimoto(canon, ref)
    values.insert(0, "canonical", [c or "" for c in canon])
    values.insert(0, "input", inputs)
    values.insert(0, "row", rows)
    bad = np.array([c is None for c in canon], dtype=bool)
    rejects = pd.DataFrame({"row": np.asarray(rows)[bad], "input": np.asarray(inputs, dtype=object)[bad],
                            "reason": [input_problem(s) or "RDKit cannot parse the SMILES"
                                       for s in np.asarray(inputs, dtype=object)[bad]]})
    return values[~bad].reset_index(drop=True), rejects
