"""RDKit molecular properties. Each function takes an RDKit ``Mol`` (or a SMILES string) and
returns a float; an unparsable SMILES raises ``ValueError``."""

from __future__ import annotations

import importlib
import os
import sys
from functools import lru_cache

from rdkit import Chem, RDConfig
from rdkit.Chem import Crippen, Descriptors
from rdkit.Chem import QED as _QED

from molvae.chem import mol_from_smiles

MolLike = Chem.Mol | str


def as_mol(mol: MolLike) -> Chem.Mol:
    """A ``Mol`` from a ``Mol`` or SMILES; ``ValueError`` naming the SMILES if it does not parse."""
    if isinstance(mol, Chem.Mol):
        return mol
    parsed = mol_from_smiles(mol)
    if parsed is None:
        raise ValueError(f"not a valid SMILES: {mol!r}")
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
