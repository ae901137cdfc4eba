"""The MOSES metric suite, as defined by Polykovskiy et al. 2020, "Molecular Sets (MOSES)".

One line per metric (``gen`` = the valid generated molecules in RDKit canonical SMILES, duplicates
kept, unless a line says otherwise):

- ``valid``: fraction of all rows (empty and unparsable ones included) that RDKit parses and sanitizes.
- ``unique@k``: distinct canonical SMILES among the first k of ``gen``, divided by their number.
- ``Novelty``: fraction of the distinct molecules of ``gen`` absent from the training set (canonical SMILES).
- ``FCD/<ref>``: Fréchet distance between ChemNet penultimate-layer activations (mean, covariance) of
  ``gen`` and of the reference set (``fcd_torch``'s ChemNet weights).
- ``SNN/<ref>``: mean over ``gen`` of the highest Tanimoto similarity to any reference molecule
  (Morgan fingerprints, radius 2, 1024 bits).
- ``Frag/<ref>``: cosine similarity of the BRICS-fragment count vectors of ``gen`` and the reference.
- ``Scaf/<ref>``: cosine similarity of the Bemis-Murcko scaffold count vectors (scaffolds of at
  least two rings).
- ``IntDiv``/``IntDiv2``: 1 - mean over ``gen`` of (mean over ``gen`` of T^p)^(1/p) with p = 1, 2,
  T the Tanimoto similarity (self-pairs included).
- ``Filters``: fraction of ``gen`` passing the MOSES filters: no ring of 8 or more atoms, no charged
  atom, only C N S O F Cl Br H, and no MCF or PAINS substructure.
- ``logP``, ``SA``, ``QED``, ``weight``: Wasserstein-1 distance between the property distributions of
  ``gen`` and of the test set.

Reference statistics (ChemNet mean and covariance, fingerprints, fragment and scaffold counts,
property values) are computed once per reference set (:func:`reference_stats`) and stored.
"""

from __future__ import annotations

import json
import os
import warnings
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
from rdkit import Chem, DataStructs
from rdkit.Chem import rdFingerprintGenerator
from rdkit.Chem.Scaffolds import MurckoScaffold
from scipy.stats import wasserstein_distance
from tqdm.auto import tqdm

from molvae.chem import as_smiles_list, mol_from_smiles, quiet_rdkit
from molvae.cache import cache_file, file_sha256, save_npz_atomic
from molvae.data import canonicalize
from molvae.io import data_dir, read_smiles, resolve_data_path
from molvae.parallel import map_chunks
from molvae.errors import InputFileError
from molvae.properties import logp, mol_weight, qed, sa_score

FP_RADIUS, FP_BITS = 2, 1024
SCAFFOLD_MIN_RINGS = 2
ALLOWED_ATOMS = frozenset({"C", "N", "S", "O", "F", "Cl", "Br", "H"})
PROPERTIES = {"logP": logp, "SA": sa_score, "QED": qed, "weight": mol_weight}
RESOURCES = Path(__file__).resolve().parent / "resources"


# ----------------------------------------------------------------------------- per molecule


@lru_cache(maxsize=1)
def _filter_patterns() -> tuple[tuple[Chem.Mol, DataStructs.ExplicitBitVect], ...]:
    """The MCF and PAINS queries, each with its pattern fingerprint for screening."""
    mcf = pd.read_csv(RESOURCES / "mcf.csv")["smarts"]
    pains = pd.read_csv(RESOURCES / "wehi_pains.csv", names=["smarts", "names"])["smarts"]
    queries = [Chem.MolFromSmarts(s) for s in pd.concat([mcf, pains])]
    return tuple((q, Chem.PatternFingerprint(q)) for q in queries)


@lru_cache(maxsize=1)
def _morgan_generator():
    return rdFingerprintGenerator.GetMorganGenerator(radius=FP_RADIUS, fpSize=FP_BITS)


def passes_filters(mol: Chem.Mol) -> bool:
    """The MOSES ``Filters`` test for one molecule (see the module docstring)."""
    if any(len(ring) >= 8 for ring in mol.GetRingInfo().AtomRings()):
        return False
    atoms = list(mol.GetAtoms())
    if any(a.GetFormalCharge() != 0 for a in atoms) or any(a.GetSymbol() not in ALLOWED_ATOMS for a in atoms):
        return False
    with_h = Chem.AddHs(mol)
    # A query can only match if its pattern-fingerprint bits are all set in the molecule's (the
    # screen RDKit's substructure library uses): same answers, five times faster.
    screen = Chem.PatternFingerprint(with_h)
    if any(DataStructs.AllProbeBitsMatch(fp, screen) and with_h.HasSubstructMatch(q) for q, fp in _filter_patterns()):
        return False
    smiles = Chem.MolToSmiles(mol, isomericSmiles=False)
    return bool(smiles) and mol_from_smiles(smiles) is not None


def morgan_fingerprint(mol: Chem.Mol) -> np.ndarray:
    """Morgan bits (radius 2, 1024), packed: (128,) uint8."""
    return np.packbits(_morgan_generator().GetFingerprintAsNumPy(mol).astype(bool))


def brics_fragments(mol: Chem.Mol) -> list[str]:
    """SMILES of the pieces left after cutting every BRICS bond (with dummy atoms at the cuts)."""
    return Chem.MolToSmiles(Chem.FragmentOnBRICSBonds(mol)).split(".")


def scaffold(mol: Chem.Mol, min_rings: int = SCAFFOLD_MIN_RINGS) -> str | None:
    """Canonical SMILES of the Bemis-Murcko scaffold, or ``None`` if it has fewer than `min_rings` rings."""
    try:
        scaf = MurckoScaffold.GetScaffoldForMol(mol)
    except (ValueError, RuntimeError):
        return None
    smiles = Chem.MolToSmiles(scaf)
    if not smiles or scaf.GetRingInfo().NumRings() < min_rings:
        return None
    return smiles


# ----------------------------------------------------------------------------- per set


@dataclass
class Features:
    """What the metrics need of a set of valid molecules, in bounded memory (n molecules).

    fps: (n, 128) packed Morgan bits; fragments / scaffolds: counts over the set;
    filters: (n,) bool; properties: name -> (n,) float64.
    """

    fps: np.ndarray
    fragments: Counter = field(default_factory=Counter)
    scaffolds: Counter = field(default_factory=Counter)
    filters: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    properties: dict[str, np.ndarray] = field(default_factory=dict)

    @classmethod
    def merge(cls, parts: Sequence["Features"]) -> "Features":
        out = cls(np.concatenate([p.fps for p in parts]) if parts else np.zeros((0, FP_BITS // 8), np.uint8))
        for p in parts:
            out.fragments.update(p.fragments)
            out.scaffolds.update(p.scaffolds)
        out.filters = np.concatenate([p.filters for p in parts]) if parts else np.zeros(0, bool)
        out.properties = {k: np.concatenate([p.properties[k] for p in parts]) if parts else np.zeros(0)
                          for k in PROPERTIES}
        return out


def _features_of(smiles: list[str]) -> list[Features]:
    """Worker: features of a chunk of valid canonical SMILES (a one-element list, for map_chunks)."""
    fps, frags, scafs, filt = [], Counter(), Counter(), []
    props: dict[str, list[float]] = {k: [] for k in PROPERTIES}
    with quiet_rdkit():
        for s in smiles:
            mol = Chem.MolFromSmiles(s)
            fps.append(morgan_fingerprint(mol))
            frags.update(brics_fragments(mol))
            scaf = scaffold(mol)
            if scaf is not None:
                scafs[scaf] += 1
            filt.append(passes_filters(mol))
            for name, fn in PROPERTIES.items():
                props[name].append(fn(mol))
    return [Features(np.array(fps, dtype=np.uint8).reshape(-1, FP_BITS // 8), frags, scafs, np.array(filt, bool),
                     {k: np.array(v, dtype=np.float64) for k, v in props.items()})]


def features(smiles: str | Sequence[str], workers: int | None = None, progress: bool = False) -> Features:
    """:class:`Features` of valid canonical SMILES (check validity first); one string is one molecule."""
    return Features.merge(map_chunks(_features_of, as_smiles_list(smiles), workers, "features", progress))


# ----------------------------------------------------------------------------- similarities


def _unpack(fps: np.ndarray) -> np.ndarray:
    return np.unpackbits(fps, axis=1).astype(np.float32)


def _sparse_rows(fps: np.ndarray, block: int = 8192):
    """Packed fingerprints as a CSR matrix of ones (torch, float32) and the bits set in each row."""
    import torch

    cols, counts = [], []
    for i in range(0, len(fps), block):  # unpacked a block at a time: a whole set would take a byte per bit
        bits = np.unpackbits(fps[i : i + block], axis=1)
        counts.append(bits.sum(1, dtype=np.int64))
        cols.append(np.nonzero(bits)[1])
    counts = np.concatenate(counts) if counts else np.zeros(0, np.int64)
    crow = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    cols = np.concatenate(cols).astype(np.int64) if cols else np.zeros(0, np.int64)
    return crow, torch.from_numpy(cols), torch.from_numpy(counts.astype(np.float32))


def aggregate_tanimoto(gen: np.ndarray, ref: np.ndarray, agg: str = "max", p: int = 1,
                       block: int = 4096) -> np.ndarray:
    """For each row of `gen` (packed fingerprints), the max or the power mean (p) of its Tanimoto
    similarity to every row of `ref`. Two empty fingerprints have similarity 1 (as in MOSES).
    Returns (len(gen),).

    A Morgan fingerprint sets about 40 of its 1024 bits, so the bits two molecules share are counted
    as a sparse (ref) by dense (gen) product: for each reference row, the sum of the generated
    molecules' columns at its bits, about 25 times less work than the dense product (measured:
    ``scripts/benchmarks/bench_tanimoto.py``). Counts are whole numbers, exact in float32. Computed
    in blocks of both sets, so memory stays bounded (about 200 MB at the default block).
    """
    import torch

    crow, cols, r_bits_all = _sparse_rows(ref)
    ones = torch.ones(len(cols))
    r_empty = int((r_bits_all == 0).sum())
    out = np.zeros(len(gen), dtype=np.float64)
    for i in range(0, len(gen), block):
        g = torch.from_numpy(_unpack(gen[i : i + block]))
        g_bits, gt = g.sum(1), g.T.contiguous()
        acc = torch.zeros(len(g), dtype=torch.float64)
        for j in range(0, len(ref), block):
            m = min(block, len(ref) - j)
            lo, hi = int(crow[j]), int(crow[j + m])
            with warnings.catch_warnings():  # "sparse CSR support is in beta": the product used here is plain
                warnings.simplefilter("ignore", UserWarning)
                r = torch.sparse_csr_tensor(torch.from_numpy(crow[j : j + m + 1] - lo), cols[lo:hi], ones[lo:hi],
                                            size=(m, g.shape[1]), check_invariants=False)
            both = r @ gt  # (m, len(g)): bits each reference shares with each generated molecule
            union = (r_bits_all[j : j + m, None] + g_bits[None, :]).sub_(both).clamp_(min=1.0)
            sim = both.div_(union)  # a union of 0 (two empty fingerprints) gives 0 here; fixed below
            if agg == "max":
                acc = torch.maximum(acc, sim.amax(0).double())
            else:
                acc += (sim if p == 1 else sim.pow_(p)).sum(0, dtype=torch.float64)
        g_empty = (g_bits == 0).numpy()
        if agg == "max":
            acc = acc.numpy()
            if r_empty:
                acc[g_empty] = 1.0
            out[i : i + len(g)] = acc
        else:
            acc = acc.numpy()
            acc[g_empty] += r_empty  # an empty row against each empty reference: similarity 1
            out[i : i + len(g)] = (acc / len(ref)) ** (1.0 / p) if len(ref) else np.nan
    return out


def cosine_similarity(a: Mapping[str, int], b: Mapping[str, int]) -> float:
    """Cosine similarity of two count dictionaries (absent keys count zero); NaN if either is empty."""
    if not a or not b:
        return float("nan")
    keys = set(a) | set(b)
    va = np.array([a.get(k, 0) for k in keys], dtype=np.float64)
    vb = np.array([b.get(k, 0) for k in keys], dtype=np.float64)
    return float(va @ vb / (np.linalg.norm(va) * np.linalg.norm(vb)))


# ----------------------------------------------------------------------------- FCD


def chemnet_stats(smiles: str | Sequence[str], device: str = "cpu", batch_size: int = 512,
                  progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Mean (512,) and covariance (512, 512) of ChemNet activations over `smiles` (one string: one molecule).

    Uses ``fcd_torch``'s ChemNet and input encoding unchanged (so the numbers match MOSES), but
    accumulates the moments batch by batch, so memory does not grow with the number of molecules.
    """
    import torch  # only needed here
    from fcd_torch import FCD
    from fcd_torch.utils import SmilesDataset
    from torch.utils.data import DataLoader

    smiles = as_smiles_list(smiles)
    model = FCD(device=device, n_jobs=1, batch_size=batch_size).model.to(device)
    loader = DataLoader(SmilesDataset(smiles), batch_size=batch_size)
    n, total, outer = 0, None, None
    with torch.no_grad(), quiet_rdkit(), tqdm(total=len(smiles), desc="ChemNet", unit="mol",
                                              disable=not progress, leave=False) as bar:
        for batch in loader:
            act = model(batch.transpose(1, 2).float().to(device)).cpu().numpy().astype(np.float64)
            total = act.sum(0) if total is None else total + act.sum(0)
            outer = act.T @ act if outer is None else outer + act.T @ act
            n += len(act)
            bar.update(len(act))
    mu = total / n
    return mu, (outer - n * np.outer(mu, mu)) / (n - 1)


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray,
                     eps: float = 1e-6) -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2):
    ||mu1 - mu2||² + Tr(sigma1 + sigma2 - 2 (sigma1 sigma2)^½).

    As in fcd_torch: when the matrix square root is not finite, `eps` is added to both diagonals;
    a negligible imaginary part from round-off is dropped.
    """
    from scipy import linalg

    diff = mu1 - mu2
    covmean = linalg.sqrtm(sigma1 @ sigma2)
    if not np.isfinite(covmean).all():
        offset = np.eye(sigma1.shape[0]) * eps
        covmean = linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            raise ValueError(f"imaginary component {np.max(np.abs(covmean.imag))} in the FCD square root")
        covmean = covmean.real
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))


# ----------------------------------------------------------------------------- reference sets


@dataclass
class Reference:
    """Statistics of a reference set (e.g. MOSES test) that the metrics compare against."""

    name: str
    fcd_mu: np.ndarray
    fcd_sigma: np.ndarray
    features: Features
    info: dict = field(default_factory=dict)

    def save(self, path: str | os.PathLike, dtype: type = np.float64) -> None:
        """A compressed ``.npz`` with plain arrays only (loads without pickle), written atomically.

        Numbers are stored as `dtype` and loaded back as float64. The shipped MOSES statistics are
        float32 (scripts/release/build_reference_stats.py): a fifth less room in the wheel, and FCD moves by
        5e-8 (measured on 2,000 samples), far below its precision. Caches keep float64, so a metric is
        the same number whether its statistics were just computed or read back."""
        f = self.features
        save_npz_atomic(
            Path(path), compress=True, fcd_mu=self.fcd_mu.astype(dtype), fcd_sigma=self.fcd_sigma.astype(dtype),
            fps=f.fps, counts=np.frombuffer(json.dumps({"Frag": f.fragments, "Scaf": f.scaffolds,
                                                        "info": dict(self.info, name=self.name)}).encode(), np.uint8),
            **{f"prop_{k}": np.asarray(v, dtype) for k, v in f.properties.items()},
        )

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Reference":
        with np.load(path, allow_pickle=False) as z:
            counts = json.loads(z["counts"].tobytes().decode())
            feats = Features(z["fps"], Counter(counts["Frag"]), Counter(counts["Scaf"]),
                             properties={k: z[f"prop_{k}"].astype(np.float64) for k in PROPERTIES})
            info = counts["info"]
            return cls(info.pop("name"), z["fcd_mu"].astype(np.float64), z["fcd_sigma"].astype(np.float64), feats, info)


def reference_stats(smiles: str | Sequence[str], name: str, workers: int | None = None, device: str = "cpu",
                    progress: bool = True) -> Reference:
    """Compute a :class:`Reference` from SMILES (invalid ones are dropped, as MOSES does)."""
    from rdkit import __version__ as rdkit_version

    canon = [c for c in canonicalize(smiles, workers, progress) if c is not None]
    mu, sigma = chemnet_stats(canon, device, progress=progress)
    info = {"n": len(canon), "rdkit": rdkit_version}
    return Reference(name, mu, sigma, features(canon, workers, progress), info)


def reference_path(split: str) -> Path:
    """Where the stored statistics of a shipped MOSES set live (``data/moses_<split>_stats.npz``)."""
    return data_dir() / f"moses_{split}_stats.npz"


def load_reference(spec: str | os.PathLike, workers: int | None = None, device: str = "cpu",
                   cache_dir: str | os.PathLike | None = None, progress: bool = True) -> Reference:
    """Statistics of a reference set: stored ones for ``moses:test`` / ``moses:test_scaffolds``,
    otherwise computed from the file once and cached (keyed by its bytes and the RDKit version)."""
    from rdkit import __version__ as rdkit_version

    name = str(spec)
    if name.startswith("moses:"):
        resolve_data_path(name)  # checks the name
        path = reference_path(name.split(":", 1)[1])
        if not path.is_file():
            raise InputFileError(f"reference statistics {path} are missing; rebuild them with "
                                 "`python scripts/release/build_reference_stats.py`")
        return Reference.load(path)
    path = resolve_data_path(spec)
    if not path.is_file():
        raise InputFileError(f"reference file not found: {path}")
    cache = cache_file({"file": file_sha256(path), "rdkit": rdkit_version, "what": "reference-1"}, cache_dir,
                       prefix="reference-")
    if cache is not None and cache.is_file():
        return Reference.load(cache)
    ref = reference_stats(read_smiles(path).tolist(), path.name, workers, device, progress)
    if cache is not None:
        ref.save(cache)
    return ref


# ----------------------------------------------------------------------------- the suite


def unique_name(k: int) -> str:
    """The column of ``unique@k``: ``unique@10k`` for thousands, ``unique@500`` otherwise."""
    return f"unique@{k // 1000}k" if k % 1000 == 0 else f"unique@{k}"


def evaluate(
    samples: str | Sequence[str],
    references: Mapping[str, Reference],
    train: str | Iterable[str] | None = None,
    ks: Sequence[int] = (1000, 10000),
    workers: int | None = None,
    device: str = "cpu",
    progress: bool = True,
) -> dict[str, float]:
    """All MOSES metrics for generated SMILES.

    `references` maps a label (``"Test"``, ``"TestSF"``) to its statistics; property distances
    are taken against the first one. `train` is a set of canonical training SMILES for novelty.
    One string is one molecule, for `samples` as for `train`.
    Metrics that are undefined (e.g. no valid sample) are NaN; ``unique@k`` with fewer than k
    valid samples uses all of them, as MOSES does.
    """
    canon = canonicalize(samples, workers, progress)
    gen = [c for c in canon if c is not None]
    if len(gen) < max(ks):
        # MOSES scores 30,000 samples; below a few thousand FCD is biased upward and unique@k uses all there are
        warnings.warn(f"only {len(gen):,} valid molecules: {unique_name(max(ks))} uses all of them, and FCD, SNN "
                      "and the other distances are unreliable below about 10,000 (MOSES scores 30,000)", stacklevel=2)
    result: dict[str, float] = {"valid": len(gen) / len(canon) if canon else float("nan")}
    for k in ks:
        head = gen[:k]
        result[unique_name(k)] = (
            len(set(head)) / len(head) if head else float("nan"))
    if not gen:
        return result
    feats = features(gen, workers, progress)
    mu = sigma = None
    if len(gen) > 1:
        mu, sigma = chemnet_stats(gen, device, progress=progress)
    for label, ref in references.items():
        result[f"FCD/{label}"] = frechet_distance(ref.fcd_mu, ref.fcd_sigma, mu, sigma) if mu is not None else float("nan")
        result[f"SNN/{label}"] = float(aggregate_tanimoto(feats.fps, ref.features.fps, "max").mean())
        result[f"Frag/{label}"] = cosine_similarity(ref.features.fragments, feats.fragments)
        result[f"Scaf/{label}"] = cosine_similarity(ref.features.scaffolds, feats.scaffolds)
    result["IntDiv"] = float(1 - aggregate_tanimoto(feats.fps, feats.fps, "mean", p=1).mean())
    result["IntDiv2"] = float(1 - aggregate_tanimoto(feats.fps, feats.fps, "mean", p=2).mean())
    result["Filters"] = float(feats.filters.mean())
    if references:
        first = next(iter(references.values()))
        for name in PROPERTIES:
            result[name] = float(wasserstein_distance(first.features.properties[name], feats.properties[name]))
    if train is not None:
        train_set = train if isinstance(train, (set, frozenset)) else set(as_smiles_list(train))
        distinct = set(gen)
        result["Novelty"] = len(distinct - train_set) / len(distinct)
    return result
