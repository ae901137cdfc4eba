"""RDKit and SELFIES: parsing, canonicalization, SELFIES encoding and decoding.

Everything molecule-shaped goes through here. No torch.

SELFIES keeps its semantic (bond) constraints as process-global state. molvae never relies on
whatever the process happens to hold: callers pass the constraints a model was trained with and
the functions here set them for the duration of the call (:func:`selfies_constraints`).
"""

from __future__ import annotations

import contextlib
import zlib
from importlib.metadata import version
from typing import Any, Iterable, Iterator, Mapping

import selfies as sf
from rdkit import Chem, rdBase

from molvae.errors import InvalidInput, MoleculeRejected

SELFIES_VERSION = version("selfies")


def default_constraints() -> dict[str, int]:
    """The SELFIES preset 'default' bond constraints, as a plain dict (atom -> max bonds)."""
    return dict(sf.get_preset_constraints("default"))


def relaxed_constraints(constraints: Mapping[str, int] | None, extra: int) -> dict[str, int]:
    """`constraints` (``None``: the preset 'default') with every atom's bond capacity raised by `extra`.

    Decoding a model's SELFIES under these keeps most decoding slips as over-valent atoms, which RDKit
    then refuses, instead of SELFIES silently repairing them into odd but valid molecules (Skinnider,
    Nat. Mach. Intell. 2024), so they can be discarded; some slips still decode to another valid
    molecule. Strings that encode real molecules decode the same either way: no bond of theirs
    reaches a capacity."""
    base = dict(constraints) if constraints is not None else default_constraints()
    return {atom: cap + extra for atom, cap in base.items()}


@contextlib.contextmanager
def selfies_constraints(constraints: Mapping[str, int] | None) -> Iterator[None]:
    """Use `constraints` for SELFIES encode/decode inside the block; restore the old ones after.

    ``None`` means the SELFIES preset 'default'.
    """
    old = sf.get_semantic_constraints()
    sf.set_semantic_constraints(dict(constraints) if constraints is not None else "default")
    try:
        yield
    finally:
        sf.set_semantic_constraints(old)


def quiet_rdkit() -> rdBase.BlockLogs:
    """Silence RDKit's per-molecule warnings while the returned object lives (use with `with`)."""
    return rdBase.BlockLogs()


# RDKit's parsing time grows faster than the length (4,000 atoms take seconds): a pathological row
# must not stall a whole file. MOSES molecules are under 100 characters.
MAX_SMILES_LENGTH = 2_000
# The reason a salt or mixture is rejected ends with this; molvae.data.prepare adds how to keep its largest fragment.
MIXTURE = "(a salt or mixture)"
# An input row that holds no SMILES carries its reason after this prefix (e.g. an SDF record RDKit
# cannot read); no SMILES starts with '#', so it can never be mistaken for a molecule.
UNREADABLE = "#unreadable: "


def as_smiles_list(smiles: Any) -> list:
    """The molecules of an argument that takes several, as a list of SMILES in order. One string is
    one molecule (``"CCO"`` -> ``["CCO"]``), as in datamol; a list, tuple, array, Series or
    one-column DataFrame is many. Entries are kept as they are (``None`` and "" stay, to be rejected
    with their reason). Anything else (a number, ``None``, a table of several columns) raises
    :class:`InvalidInput`. Every public function that takes molecules reads them through this, so a
    single string always gives a result with one row."""
    if isinstance(smiles, str):
        return [smiles]
    if isinstance(smiles, (bytes, bytearray)):
        raise InvalidInput(f"SMILES must be text, got bytes {bytes(smiles[:30])!r}; decode them first")
    if isinstance(smiles, Chem.Mol):
        raise InvalidInput("expected SMILES, got an RDKit Mol; pass Chem.MolToSmiles(mol)")
    columns = getattr(smiles, "columns", None)
    if columns is not None:  # a DataFrame: its one column, never its column names
        if len(columns) != 1:
            raise InvalidInput(f"expected SMILES, got a table of {len(columns)} columns ({', '.join(map(str, columns[:5]))}"
                               f"{', ...' if len(columns) > 5 else ''}); pass its SMILES column, e.g. df[\"smiles\"]")
        smiles = smiles.iloc[:, 0]
    if getattr(smiles, "ndim", 1) == 0:  # a 0-d array holds one value
        smiles = [smiles.item()]
    try:
        return list(smiles)
    except TypeError:
        raise InvalidInput(f"expected SMILES (one string, or a list of them), got {type(smiles).__name__} "
                           f"{smiles!r:.40}") from None


def input_problem(smiles: object) -> str | None:
    """Why an input row cannot be a molecule before parsing it (empty, too long, unreadable), or ``None``."""
    if not isinstance(smiles, str) or not smiles.strip():
        return "empty SMILES"
    if smiles.startswith(UNREADABLE):  # a reader's mark (an SDF record RDKit cannot read), or text that looks like one
        return smiles[len(UNREADABLE):].strip() or "unreadable input"
    if len(smiles) > MAX_SMILES_LENGTH:
        return f"SMILES of {len(smiles):,} characters, over the {MAX_SMILES_LENGTH:,} read"
    return None


def mol_from_smiles(smiles: str) -> Chem.Mol | None:
    """Parse and sanitize a SMILES string; ``None`` if RDKit rejects it (silently) or :func:`input_problem`
    finds a reason not to parse it."""
    if input_problem(smiles) is not None:
        return None
    with quiet_rdkit():
        return Chem.MolFromSmiles(smiles.strip())


def canonical_smiles(smiles: str) -> str | None:
    """RDKit canonical SMILES (isomeric), or ``None`` when the input does not parse or is empty."""
    mol = mol_from_smiles(smiles)
    if mol is None or mol.GetNumAtoms() == 0:
        return None
    return Chem.MolToSmiles(mol)


def largest_fragment(smiles: str) -> str:
    """The largest fragment (most heavy atoms, then highest weight, then canonical order) of a
    multi-fragment SMILES such as a salt ``CCN.Cl``; any other input is returned unchanged."""
    if not isinstance(smiles, str) or "." not in smiles:
        return smiles
    mol = mol_from_smiles(smiles)
    if mol is None:
        return smiles
    from rdkit.Chem import Descriptors

    frags = Chem.GetMolFrags(mol, asMols=True)
    best = max(frags, key=lambda m: (m.GetNumHeavyAtoms(), Descriptors.MolWt(m), Chem.MolToSmiles(m)))
    return Chem.MolToSmiles(best)


def standardize(smiles: str) -> str:
    """The molecule as a model trained on MOSES-like data can read it, with RDKit's
    ``rdMolStandardize``: the largest fragment of a salt or mixture, charges neutralized where a
    neutral form exists, stereochemistry and isotopes removed. Returns canonical SMILES; an input
    that does not parse is returned unchanged (and rejected later with its reason)."""
    from rdkit.Chem.MolStandardize import rdMolStandardize

    mol = mol_from_smiles(largest_fragment(smiles))
    if mol is None:
        return smiles
    mol = rdMolStandardize.Uncharger().uncharge(mol)
    Chem.RemoveStereochemistry(mol)
    for atom in mol.GetAtoms():
        atom.SetIsotope(0)
    return Chem.MolToSmiles(Chem.RemoveHs(mol))


def prepare_smiles(smiles: str, keep_largest_fragment: bool = False, standardized: bool = False) -> tuple[str, str]:
    """Canonicalize a SMILES and encode it to SELFIES under the current constraints.

    Returns ``(canonical_smiles, selfies)``. Raises :class:`MoleculeRejected` with the reason
    when the input is empty, too long, unreadable, does not parse, has several fragments (a salt or
    mixture; with `keep_largest_fragment` the largest is used instead), or SELFIES cannot encode it
    (e.g. an atom that breaks the bond constraints). With `standardized`, :func:`standardize` comes first.
    """
    problem = input_problem(smiles)
    if problem is not None:
        raise MoleculeRejected(problem)
    canon = canonical_smiles(standardize(smiles) if standardized else smiles)
    if canon is None:
        raise MoleculeRejected("RDKit cannot parse the SMILES")
    if "." in canon:
        if not keep_largest_fragment:
            raise MoleculeRejected(f"{canon.count('.') + 1} fragments {MIXTURE}")
        canon = canonical_smiles(largest_fragment(canon))
    try:
        encoded = sf.encoder(canon)
    except sf.EncoderError as exc:
        raise MoleculeRejected(f"SELFIES cannot encode it: {_first_line(exc)}") from None
    if not encoded:
        raise MoleculeRejected("SELFIES encoding is empty")
    return canon, encoded


def encode_many(smiles: list[str], constraints: Mapping[str, int] | None = None,
                keep_largest_fragment: bool = False, standardized: bool = False) -> list[tuple[str | None, list[str] | str]]:
    """Canonicalize (after :func:`standardize` with `standardized`) and tokenize many SMILES under
    `constraints` (a process-pool worker). Each result is ``(canonical, tokens)`` or ``(None, reason)``.
    """
    out: list[tuple[str | None, list[str] | str]] = []
    with selfies_constraints(constraints):
        for s in smiles:
            try:
                canon, encoded = prepare_smiles(s, keep_largest_fragment, standardized)
                out.append((canon, split_selfies(encoded)))
            except MoleculeRejected as exc:
                out.append((None, str(exc)))
    return out


def random_spellings(smiles: str, n: int, seed: int = 0) -> list[str]:
    """`n` SMILES of the same molecule with random atom orders (RDKit ``doRandom``), reproducible:
    the random stream is seeded by `seed` and the molecule's own SMILES, not by call order."""
    mol = mol_from_smiles(smiles)
    if mol is None or n <= 0:
        return []
    stream = (seed * 1_000_003 + zlib.crc32(smiles.encode())) % (2**31 - 1)
    return list(Chem.MolToRandomSmilesVect(mol, n, randomSeed=stream))


def spell_many(smiles: list[str], n: int, seed: int = 0,
               constraints: Mapping[str, int] | None = None) -> list[list[list[str]]]:
    """For each canonical SMILES, the SELFIES tokens of `n` random spellings (a process-pool worker);
    a spelling SELFIES cannot encode is left out, so a molecule may get fewer than `n`."""
    out = []
    with selfies_constraints(constraints):
        for s in smiles:
            spelled = []
            for variant in random_spellings(s, n, seed):
                try:
                    spelled.append(split_selfies(sf.encoder(variant)))
                except sf.EncoderError:
                    continue
            out.append(spelled)
    return out


def canonical_many(smiles: list[str]) -> list[str | None]:
    """:func:`canonical_smiles` of each entry (a process-pool worker)."""
    return [canonical_smiles(s) for s in smiles]


def selfies_to_smiles(selfies: str) -> str | None:
    """Decode SELFIES (current constraints) to canonical SMILES; ``None`` for an empty result."""
    if not selfies:
        return None
    try:
        smiles = sf.decoder(selfies)
    except sf.DecoderError:
        return None
    return canonical_smiles(smiles) if smiles else None


def decode_many(selfies: list[str], constraints: Mapping[str, int] | None = None) -> list[str | None]:
    """:func:`selfies_to_smiles` of each entry under `constraints` (a process-pool worker)."""
    with selfies_constraints(constraints):
        return [selfies_to_smiles(s) for s in selfies]


def largest_ring(mols: Iterable[Chem.Mol | None]) -> int:
    """The most atoms in one ring (RDKit's smallest set of smallest rings) of `mols` (None skipped)."""
    return max((len(ring) for mol in mols if mol is not None for ring in mol.GetRingInfo().AtomRings()), default=0)


def slip_reason(smiles: str, tokens: frozenset[str] | set[str], max_ring: int = 0) -> str | None:
    """Why a decoded molecule is a decoding slip rather than an ordinary molecule, or ``None``.

    SELFIES repairs a slip into some valid molecule (Skinnider, Nat. Mach. Intell. 2024); two kinds
    are easy to see: a radical (unpaired electrons, which RDKit keeps when SELFIES leaves an atom
    short of bonds), and a molecule whose own SELFIES needs a token outside `tokens` (the model's
    vocabulary, e.g. a hypervalent ``[SH]``), which the model could not read back. The SELFIES is
    that of the canonical SMILES under the current constraints (call inside
    :func:`selfies_constraints` with the model's own).
    """
    mol = mol_from_smiles(smiles)
    if mol is None:
        return "not a molecule"
    if any(atom.GetNumRadicalElectrons() for atom in mol.GetAtoms()):
        return "radical"
    if max_ring and largest_ring([mol]) > max_ring:
        return f"a ring of more than {max_ring} atoms"
    try:
        encoded = sf.encoder(smiles)
    except sf.EncoderError:
        return "SELFIES cannot encode it"
    unknown = sorted({t for t in sf.split_selfies(encoded) if t not in tokens})
    return f"unreadable token {unknown[0]}" if unknown else None


def decode_screened(selfies: list[str], constraints: Mapping[str, int] | None, model_constraints: Mapping[str, int] | None,
                    tokens: frozenset[str], max_ring: int = 0) -> list[tuple[str | None, str | None]]:
    """Decode each SELFIES under `constraints` (a process-pool worker) and screen the molecules for
    slips (:func:`slip_reason`, re-encoded under `model_constraints` against `tokens`). Each result
    is ``(canonical, slip reason or None)``; ``(None, None)`` for a draw that decodes to no molecule."""
    decoded = decode_many(selfies, constraints)
    with selfies_constraints(model_constraints):
        return [(s, slip_reason(s, tokens, max_ring) if s is not None else None) for s in decoded]


def split_selfies(selfies: str) -> list[str]:
    """Split a SELFIES string into its bracketed tokens."""
    return list(sf.split_selfies(selfies))


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
