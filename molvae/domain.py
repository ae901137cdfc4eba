"""Which molecules a model reads well: its domain, as far as its checkpoint says what its training
molecules held.

The vocabulary says which elements the training molecules had, and whether any had a charge,
stereo, an isotope or several fragments (a SELFIES token for each); ``max_len`` bounds their size
in tokens. Property ranges (e.g. the molecular weights) are known only where the checkpoint
records them (``meta["domain"]``, written by ``molvae fit-prior`` from the molecules it is given,
usually the training set). Nothing here is specific to one data set: a model trained on other
molecules has another domain. How unlike the training data one molecule is, beyond these limits,
is what the anomaly score (:func:`molvae.space.score`, ``molvae score``) measures.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from rdkit import Chem

from molvae import properties as props
from molvae.chem import largest_ring, mol_from_smiles, quiet_rdkit

if TYPE_CHECKING:
    from molvae.data import MoleculeSet

# a SELFIES atom token without its brackets and bond symbol: isotope, element, chirality, hydrogens, charge
_ATOM = re.compile(r"^(\d*)([A-Z][a-z]?)(@{0,2})(H\d*)?([+-]\d*)?$")


@dataclass(frozen=True)
class Domain:
    """What a model's training molecules held (see the module's docstring).

    elements:   the elements of the vocabulary's atom tokens (hydrogen is always allowed)
    charges, stereo, isotopes, fragments: whether the vocabulary has tokens for them
    max_tokens: the longest SELFIES the model reads (``max_len``)
    ranges:     property name -> (low, high) of the training molecules, where the checkpoint records it
    source:     where the recorded ranges come from ("" when none are recorded)
    max_ring:   the most atoms in one ring of the training molecules (0 where not recorded);
                ``molvae sample`` screens out molecules with a larger ring (``--max-ring``)
    """

    elements: tuple[str, ...]
    charges: bool = False
    stereo: bool = False
    isotopes: bool = False
    fragments: bool = False
    max_tokens: int = 0
    ranges: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    source: str = ""
    max_ring: int = 0

    @classmethod
    def of_model(cls, tokens: Sequence[str], max_len: int, meta: Mapping[str, Any] | None = None) -> "Domain":
        """The domain a checkpoint describes: its vocabulary `tokens`, `max_len` and, if recorded,
        ``meta["domain"]`` (``{"ranges": {name: [low, high]}, "source": ...}``)."""
        elements, charges, stereo, isotopes, fragments = set(), False, False, False, False
        for token in tokens:
            if token == ".":
                fragments = True
                continue
            if not (token.startswith("[") and token.endswith("]")):
                continue  # <pad>, <eos>, ...
            inner = token[1:-1]
            stereo |= inner[:1] in ("/", "\\")
            atom = _ATOM.match(inner.lstrip("=#/\\"))
            if atom is None:
                continue  # Branch, Ring, nop
            isotope, element, chirality, _, charge = atom.groups()
            elements.add(element)
            isotopes |= bool(isotope)
            stereo |= bool(chirality)
            charges |= bool(charge)
        recorded = dict((meta or {}).get("domain") or {})
        ranges = {name: (float(lo), float(hi)) for name, (lo, hi) in (recorded.get("ranges") or {}).items()
                  if name in props.REGISTRY}
        order = sorted(elements, key=lambda e: (Chem.GetPeriodicTable().GetAtomicNumber(e), e))
        return cls(tuple(order), charges, stereo, isotopes, fragments, int(max_len), ranges, str(recorded.get("source", "")),
                   int(recorded.get("max_ring") or 0))

    def problems(self, mol: Chem.Mol) -> list[str]:
        """Why `mol` lies outside the domain (empty when it does not)."""
        found = []
        foreign = sorted({a.GetSymbol() for a in mol.GetAtoms()} - set(self.elements) - {"H"})
        if foreign:
            found.append(f"element{'s' if len(foreign) > 1 else ''} {', '.join(foreign)} not among the training "
                         f"molecules' {', '.join(self.elements)}")
        if not self.charges and any(a.GetFormalCharge() for a in mol.GetAtoms()):
            found.append("charged atoms (the training molecules have none)")
        if not self.stereo and (any(a.GetChiralTag() != Chem.ChiralType.CHI_UNSPECIFIED for a in mol.GetAtoms())
                                or any(b.GetStereo() != Chem.BondStereo.STEREONONE for b in mol.GetBonds())):
            found.append("stereo (the training molecules have none)")
        if not self.isotopes and any(a.GetIsotope() for a in mol.GetAtoms()):
            found.append("isotopes (the training molecules have none)")
        pieces = len(Chem.GetMolFrags(mol))
        if not self.fragments and pieces > 1:
            found.append(f"{pieces} fragments (the training molecules have one)")
        ring = largest_ring([mol]) if self.max_ring else 0
        if ring > self.max_ring:
            found.append(f"a ring of {ring} atoms, larger than the training molecules' largest ({self.max_ring})")
        for name, (low, high) in self.ranges.items():
            value = props.REGISTRY[name](mol)
            if not low <= value <= high:
                found.append(f"{name} {value:.2f} outside the training molecules' {low:g} to {high:g}")
        return found

    def mark(self, smiles: Sequence[str], mols: "MoleculeSet | None" = None) -> pd.DataFrame:
        """One row per input SMILES: ``in_domain`` and ``domain_note`` (why not; empty when in).

        With `mols` (the inputs as the model prepared them, :meth:`molvae.api.MolVAE.prepare`), a row
        the model read is judged by the molecule it read (after any standardization or fragment
        choice), and a row it could not read is out, its note the reasons found in the input, or
        else the reason it was rejected."""
        smiles = list(smiles)
        read: dict[int, str] = dict(zip(mols.rows.tolist(), mols.smiles)) if mols is not None else {}
        reasons = dict(zip(mols.rejects["row"], mols.rejects["reason"])) if mols is not None else {}
        inside, notes = np.ones(len(smiles), dtype=bool), [""] * len(smiles)
        with quiet_rdkit():
            for i, given in enumerate(smiles):
                if i in read and not self.ranges:
                    continue  # its tokens are all in the vocabulary: elements, charges, stereo are the training ones
                mol = mol_from_smiles(read.get(i, given))
                found = self.problems(mol) if mol is not None and mol.GetNumAtoms() else ["no molecule"]
                if i in reasons and found == []:
                    found = [f"the model cannot read it: {reasons[i]}"]
                inside[i], notes[i] = not found, "; ".join(found)
        return pd.DataFrame({"in_domain": inside, "domain_note": notes})

    def describe(self) -> str:
        """The domain in one sentence."""
        absent = [what for what, held in (("charges", self.charges), ("stereo", self.stereo),
                                          ("isotopes", self.isotopes)) if not held]
        text = f"elements {', '.join(self.elements)}"
        text += f", no {' or '.join([', '.join(absent[:-1]), absent[-1]] if len(absent) > 1 else absent)}" if absent else ""
        text += ", one fragment" if not self.fragments else ""
        text += f", at most {self.max_tokens} SELFIES tokens" if self.max_tokens else ""
        text += f", rings of at most {self.max_ring} atoms" if self.max_ring else ""
        if self.ranges:
            text += "; " + ", ".join(f"{name} {lo:g} to {hi:g}" for name, (lo, hi) in self.ranges.items())
            text += f" (recorded from {self.source})" if self.source else ""
        else:
            text += "; the checkpoint records no property ranges (such as molecular weight) of its training molecules"
        return text


def recorded_from(smiles: pd.Series, size: int, seed: int, source: str) -> dict[str, Any]:
    """What ``molvae fit-prior SOURCE --size SIZE --seed SEED`` records as ``meta["domain"]``: the
    ranges of `size` molecules of `smiles` chosen at random with `seed`, as it chooses its bank."""
    chosen = smiles.sample(min(size, len(smiles)), random_state=seed)
    return recorded_ranges(chosen.tolist(), ("mw",), source=f"{len(chosen):,} molecules of {source}")


def recorded_ranges(smiles: Sequence[str], names: Sequence[str] = ("mw",), source: str = "") -> dict[str, Any]:
    """What to store as a checkpoint's ``meta["domain"]``: the lowest and highest of each property
    `names` over the molecules `smiles` (those that parse), their largest ring, and their `source`."""
    values = props.compute(list(smiles), list(names), workers=1)
    # two decimals, rounded outwards so that the extreme molecules stay inside
    ranges = {n: [math.floor(values[n].min() * 100) / 100, math.ceil(values[n].max() * 100) / 100] for n in names
              if values[n].notna().any()}
    with quiet_rdkit():
        max_ring = largest_ring(mol_from_smiles(s) for s in smiles)
    return {"ranges": ranges, "max_ring": max_ring, "source": source, "molecules": int(values.notna().all(axis=1).sum())}

