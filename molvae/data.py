"""Preprocessing SMILES once (with an on-disk cache) into a :class:`MoleculeSet`, and batching it.

Preprocessing a file means, per row: RDKit canonicalization, SELFIES encoding, tokenization and
a length limit. Rows that fail keep their input row number and reason in ``MoleculeSet.rejects``;
nothing is dropped silently. The tensorized result is cached under a key made of the file's
content and every setting that changes the result, so a second run starts in seconds.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from molvae.cache import cache_file, file_sha256, pack_strings, save_npz_atomic, unpack_strings
from molvae.chem import MIXTURE, SELFIES_VERSION, as_smiles_list, canonical_many, encode_many
from molvae.errors import ConfigError, InputFileError, MoleculeRejected, hint
from molvae.io import read_smiles
from molvae.parallel import map_chunks
from molvae.vocab import Vocab

# Bump when preprocessing changes what it produces, so old caches are not reused.
PREPROCESS_VERSION = 4  # 3: salts and mixtures rejected; 4: standardization, length limit, reasons with hints
REJECT_COLUMNS = ["row", "input", "reason"]


def rejects_frame(records: Sequence[tuple[int, str, str]] = ()) -> pd.DataFrame:
    """A rejects table (``row, input, reason``) from ``(row, input, reason)`` tuples, sorted by row."""
    frame = pd.DataFrame(sorted(records), columns=REJECT_COLUMNS)
    return frame.astype({"row": "int64", "input": str, "reason": str})


@dataclass
class MoleculeSet:
    """Preprocessed molecules, ready for batching.

    tokens:  (n, longest + 1) token ids (uint8/int16), each row ending in ``<eos>`` and padded.
    lengths: (n,) number of tokens per molecule including ``<eos>``.
    smiles:  canonical SMILES of each kept molecule.
    rows:    (n,) the input row (0-based, data rows only) each molecule came from.
    rejects: DataFrame with columns ``row, input, reason`` for every row that was not kept.
    """

    tokens: np.ndarray
    lengths: np.ndarray
    smiles: list[str]
    rows: np.ndarray
    vocab: Vocab
    rejects: pd.DataFrame
    props: np.ndarray | None = None  # (n, P) float32 RDKit properties, for a jointly trained property head
    # (n, S, W) token ids of S spellings of each molecule, the canonical one first, and their (n, S)
    # lengths: the randomized-SMILES augmentation (see :func:`add_spellings`)
    spellings: np.ndarray | None = None
    spelling_lengths: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.smiles)

    def collate(self, idx: np.ndarray) -> dict[str, torch.Tensor]:
        """The batch at positions `idx`: ``tokens`` (B, T) int64 trimmed to the longest, ``lengths`` (B,)."""
        lens = self.lengths[idx]
        batch = {"tokens": torch.from_numpy(self.tokens[idx, : int(lens.max())].astype(np.int64)),
                 "lengths": torch.from_numpy(lens.astype(np.int64))}
        if self.props is not None:
            batch["props"] = torch.from_numpy(self.props[idx])
        return batch

    def collate_spelled(self, idx: np.ndarray, mode: str) -> dict[str, torch.Tensor]:
        """An augmented batch. `idx` holds ``position + len(self) * spelling`` (spelling 0 is the
        canonical one); `mode` says which side reads the chosen spelling: ``input`` (the encoder; the
        decoder still writes the canonical SELFIES), ``target`` (the decoder; the encoder reads the
        canonical one) or ``both``."""
        pos, which = idx % len(self), idx // len(self)
        lens = self.spelling_lengths[pos, which]
        spelled = torch.from_numpy(self.spellings[pos, which, : int(lens.max())].astype(np.int64))
        canon = self.collate(pos)
        if mode == "both":
            return {**canon, "tokens": spelled, "lengths": torch.from_numpy(lens.astype(np.int64))}
        if mode == "input":
            return {**canon, "enc_tokens": spelled, "enc_lengths": torch.from_numpy(lens.astype(np.int64))}
        if mode == "target":
            return {**canon, "tokens": spelled, "lengths": torch.from_numpy(lens.astype(np.int64)),
                    "enc_tokens": canon["tokens"], "enc_lengths": canon["lengths"]}
        raise ConfigError(f"unknown augmentation {mode!r}; choose {', '.join(AUGMENT_MODES)}")

    def epoch_batches(self, epoch: int, batch_size: int, seed: int, augment: str = "none") -> list[np.ndarray]:
        """Length-bucketed batches of `epoch` in a seeded order: the same epoch always gives the same
        batches, which is what makes mid-epoch resume exact. With augmentation each molecule's
        spelling for the epoch is drawn too and folded into its index as ``position + len(self) *
        spelling`` (read back by :meth:`collate_spelled`); batches are then bucketed by the longer
        of the two spellings a molecule is read and written in, so random spellings add no padding."""
        order_seed = seed * 100_003 + epoch
        if augment == "none":
            return bucketed_batches(self.lengths, batch_size, seed=order_seed)
        which = np.random.default_rng(seed * 7_919 + epoch).integers(0, self.spellings.shape[1], size=len(self))
        spelled = self.spelling_lengths[np.arange(len(self)), which]
        order = bucketed_batches(np.maximum(self.lengths, spelled), batch_size, seed=order_seed)
        return [b + len(self) * which[b] for b in order]

    def collate_epoch(self, idx: np.ndarray, augment: str = "none") -> dict[str, torch.Tensor]:
        """The batch for indices from :meth:`epoch_batches` made with the same `augment`."""
        return self.collate(idx) if augment == "none" else self.collate_spelled(idx, augment)

    def scatter(self, values: np.ndarray, n_rows: int) -> np.ndarray:
        """Per-molecule `values` (len(self), ...) placed at their input rows of an (n_rows, ...) float
        array, NaN in the rows that were rejected."""
        out = np.full((n_rows, *values.shape[1:]), np.nan, dtype=np.result_type(values.dtype, np.float32))
        out[self.rows] = values
        return out

    def subset(self, idx: np.ndarray) -> "MoleculeSet":
        """The molecules at positions `idx` (rejects are not carried over)."""
        return MoleculeSet(
            self.tokens[idx], self.lengths[idx], [self.smiles[i] for i in idx], self.rows[idx],
            self.vocab, rejects_frame(), None if self.props is None else self.props[idx],
            None if self.spellings is None else self.spellings[idx],
            None if self.spelling_lengths is None else self.spelling_lengths[idx],
        )


AUGMENT_MODES = ("none", "input", "target", "both")

# A VAE trained from scratch on fewer molecules than this memorizes them rather than learning a latent space
FEW_MOLECULES = 1_000


def few_molecules_warning(n: int, fine_tuned: bool = False) -> str | None:
    """A sentence when a model was trained from scratch on fewer than :data:`FEW_MOLECULES` usable
    molecules (`n`, training and validation together), else ``None``."""
    if fine_tuned or n >= FEW_MOLECULES:
        return None
    return (f"only {n:,} usable molecule{'s' if n != 1 else ''} to train on: a data set this small is memorized rather "
            f"than learned, so the latent space means little (the shipped models learned from 1.6 million); train on "
            f"thousands of molecules, or fine-tune a trained model on yours"
            + hint("init_from", " ({})"))


# ----------------------------------------------------------------------------- reading files


# ----------------------------------------------------------------------------- preprocessing


def canonicalize(smiles: str | Sequence[str], workers: int | None = None, progress: bool = False) -> list[str | None]:
    """RDKit canonical SMILES of each entry (``None`` where it does not parse); parallel when large.
    One string is one molecule (a list of one comes back)."""
    return map_chunks(canonical_many, ["" if not isinstance(s, str) else s for s in as_smiles_list(smiles)], workers,
                      "canonicalize", progress)


def prepare(
    smiles: str | Sequence[str] | pd.Series,
    *,
    max_len: int,
    vocab: Vocab | None = None,
    constraints: Mapping[str, int] | None = None,
    workers: int | None = None,
    progress: bool = True,
    largest_fragment: bool = False,
    standardize: bool = False,
) -> MoleculeSet:
    """Preprocess SMILES strings into a :class:`MoleculeSet`.

    Salts and mixtures are rejected, or reduced to their largest fragment with `largest_fragment`.
    With `standardize`, each molecule is first standardized (:func:`molvae.chem.standardize`:
    largest fragment, neutral charges, no stereo or isotopes); without it, a molecule rejected for
    tokens outside `vocab` that standardizing would make readable says so in its reason.

    With ``vocab=None`` the vocabulary is built from the kept molecules; otherwise molecules
    with tokens outside `vocab` are rejected. Molecules longer than `max_len` SELFIES tokens are
    rejected. Large inputs are processed in `workers` processes (default: all cores). Row numbers
    in the result are the Series index when `smiles` is a Series, else positions. One string is one
    molecule. A reason that a setting would fix names the setting (``standardize``,
    ``largest_fragment``) as the caller spells it (:func:`molvae.errors.hint`).
    """
    molecules, advice = _prepare(smiles, max_len=max_len, vocab=vocab, constraints=constraints, workers=workers,
                                 progress=progress, largest_fragment=largest_fragment, standardize=standardize)
    return _advised(molecules, advice)


# What a reject's reason adds when a setting would have kept the molecule: rendered when the set is
# returned (the cache keeps the bare reasons, so a Python caller and the command line each read their own)
ADVICE = {"largest_fragment": "; keep the largest with {}", "standardize": "; {} makes it readable"}


def _advised(molecules: MoleculeSet, advice: Sequence[str]) -> MoleculeSet:
    """`molecules` with each reject's reason followed by its advice (a key of :data:`ADVICE`, or "")."""
    if any(advice):
        reasons = [reason + (hint(key, ADVICE[key]) if key else "") for reason, key in zip(molecules.rejects.reason, advice)]
        molecules.rejects = molecules.rejects.assign(reason=reasons)
    return molecules


def _prepare(smiles, *, max_len, vocab, constraints, workers, progress, largest_fragment,
             standardize) -> tuple[MoleculeSet, list[str]]:
    """:func:`prepare` with bare reasons, and per reject (in the rejects' order) the key of the
    :data:`ADVICE` its reason takes, or ""."""
    row_ids = list(smiles.index) if isinstance(smiles, pd.Series) else None
    smiles = [str(s) if s is not None else "" for s in as_smiles_list(smiles)]
    row_ids = row_ids if row_ids is not None else list(range(len(smiles)))
    constraints = dict(constraints) if constraints is not None else None
    results = map_chunks(partial(encode_many, constraints=constraints, keep_largest_fragment=largest_fragment,
                                 standardized=standardize), smiles, workers, "preprocess", progress)

    kept_rows, kept_smiles, kept_tokens, rejects = [], [], [], []
    for pos, (canon, toks) in enumerate(results):
        if canon is None:
            rejects.append((row_ids[pos], smiles[pos], toks, "largest_fragment" if toks.endswith(MIXTURE) else ""))
        elif len(toks) > max_len:
            rejects.append((row_ids[pos], smiles[pos], f"SELFIES has {len(toks)} tokens, over max_len={max_len}", ""))
        else:
            kept_rows.append(pos)
            kept_smiles.append(canon)
            kept_tokens.append(toks)
    if vocab is None:
        vocab = Vocab.from_token_lists(kept_tokens)
    id_lists, rows, canon_list = [], [], []
    for pos, canon, toks in zip(kept_rows, kept_smiles, kept_tokens):
        try:
            id_lists.append(vocab.ids(toks))
        except MoleculeRejected as exc:
            readable = not standardize and _standardized_fits(smiles[pos], vocab, max_len, constraints)
            rejects.append((row_ids[pos], smiles[pos], str(exc), "standardize" if readable else ""))
            continue
        rows.append(row_ids[pos])
        canon_list.append(canon)
    tokens, lengths = vocab.to_matrix(id_lists, max_len)
    rejects.sort(key=lambda r: r[:3])  # the order of rejects_frame
    frame = rejects_frame([r[:3] for r in rejects])
    return (MoleculeSet(tokens, lengths, canon_list, np.asarray(rows, dtype=np.int64), vocab, frame),
            [r[3] for r in rejects])


def _standardized_fits(smiles: str, vocab: Vocab, max_len: int, constraints: Mapping[str, int] | None) -> bool:
    """Whether the standardized form of the molecule fits `vocab` and `max_len`."""
    canon, toks = encode_many([smiles], constraints, standardized=True)[0]
    if canon is None or len(toks) > max_len:
        return False
    try:
        vocab.ids(toks)
    except MoleculeRejected:
        return False
    return True


def load_molecules(
    path: str | os.PathLike,
    *,
    column: str | None = None,
    max_len: int,
    vocab: Vocab | None = None,
    constraints: Mapping[str, int] | None = None,
    limit: int | None = None,
    seed: int = 0,
    cache_dir: str | os.PathLike | None = None,
    workers: int | None = None,
    progress: bool = True,
    largest_fragment: bool = False,
    standardize: bool = False,
) -> MoleculeSet:
    """Read and preprocess a SMILES file, using the on-disk cache when it holds this exact input.

    `limit` takes a random subset of that many rows (chosen by `seed`; row numbers stay those of
    the file). The cache key covers the file's bytes and every argument that changes the result.
    ``cache_dir=None`` uses ``$MOLVAE_CACHE`` or ``~/.cache/molvae``; ``cache_dir=""`` disables it.
    """
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"input file not found: {path}")
    cache = _cache_path(path, column, max_len, vocab, constraints, cache_dir, limit, seed, largest_fragment, standardize)
    if cache is not None and cache.is_file():
        try:
            return _advised(*_load_cache(cache))
        except (OSError, ValueError, KeyError):
            pass  # a damaged (or older) cache is rebuilt below
    smiles = read_smiles(path, column)
    if limit and limit < len(smiles):
        pick = np.sort(np.random.default_rng(seed).choice(len(smiles), size=limit, replace=False))
        smiles = smiles.iloc[pick]
    molecules, advice = _prepare(smiles, max_len=max_len, vocab=vocab, constraints=constraints, workers=workers,
                                 progress=progress, largest_fragment=largest_fragment, standardize=standardize)
    if cache is not None:
        _save_cache(cache, molecules, advice)
    return _advised(molecules, advice)


def canonical_set(
    path: str | os.PathLike,
    *,
    column: str | None = None,
    cache_dir: str | os.PathLike | None = None,
    workers: int | None = None,
    progress: bool = True,
    cached_only: bool = False,
) -> set[str] | None:
    """The distinct canonical SMILES of a file's valid rows (e.g. a training set, for novelty).

    Cached like preprocessing, keyed by the file's bytes, `column` and the RDKit version. With
    `cached_only`, ``None`` when it is not in the cache (nothing is computed); see
    :func:`molvae.novelty.in_training_set` for telling novelty without it.
    """
    from rdkit import __version__ as rdkit_version

    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"input file not found: {path}")
    settings = {"file": file_sha256(path), "column": column, "rdkit": rdkit_version, "what": "canonical-set-1"}
    cache = cache_file(settings, cache_dir)
    if cache is not None and cache.is_file():
        with np.load(cache, allow_pickle=False) as z:
            return set(unpack_strings(z["smiles"], int(z["n"])))
    if cached_only:
        return None
    canon = sorted({c for c in canonicalize(read_smiles(path, column).tolist(), workers, progress) if c})
    if cache is not None:
        save_npz_atomic(cache, smiles=pack_strings(canon), n=np.array(len(canon)))
    return set(canon)


def _cache_path(path, column, max_len, vocab, constraints, cache_dir, limit, seed, largest_fragment=False,
                standardize=False) -> Path | None:
    settings = {
        "file": file_sha256(path), "column": column, "max_len": max_len,
        "limit": limit or None, "seed": seed if limit else None,
        "vocab": vocab.tokens if vocab is not None else None,
        "constraints": constraints, "selfies": SELFIES_VERSION, "version": PREPROCESS_VERSION,
    }
    if largest_fragment:
        settings["largest_fragment"] = True
    if standardize:
        settings["standardize"] = True
    return cache_file(settings, cache_dir)


def _save_cache(cache: Path, m: MoleculeSet, advice: Sequence[str]) -> None:
    save_npz_atomic(
        cache, tokens=m.tokens, lengths=m.lengths, rows=m.rows,
        smiles=pack_strings(m.smiles), vocab=pack_strings(m.vocab.tokens),
        reject_rows=m.rejects["row"].to_numpy(np.int64),
        reject_inputs=pack_strings(m.rejects["input"].astype(str).tolist()),
        reject_reasons=pack_strings(m.rejects["reason"].astype(str).tolist()),
        reject_advice=pack_strings(list(advice)),
        n=np.array([len(m.smiles), len(m.vocab.tokens), len(m.rejects)]),
    )


# how caches written before the advice was kept apart ended their reasons (molvae 0.x with PREPROCESS_VERSION 4)
_OLD_ADVICE = {"largest_fragment": "; keep the largest with --largest-fragment",
               "standardize": "; --standardize makes it readable"}


def _load_cache(cache: Path) -> tuple[MoleculeSet, list[str]]:
    with np.load(cache, allow_pickle=False) as z:
        n_mol, n_vocab, n_rej = (int(v) for v in z["n"])
        reasons = unpack_strings(z["reject_reasons"], n_rej)
        if "reject_advice" in z:
            advice = unpack_strings(z["reject_advice"], n_rej)
        else:  # an older cache: its reasons end with the command line's advice
            advice = [next((key for key, old in _OLD_ADVICE.items() if r.endswith(old)), "") for r in reasons]
            reasons = [r[: len(r) - len(_OLD_ADVICE[key])] if key else r for r, key in zip(reasons, advice)]
        rejects = rejects_frame(list(zip(z["reject_rows"].tolist(), unpack_strings(z["reject_inputs"], n_rej), reasons)))
        return MoleculeSet(
            z["tokens"], z["lengths"], unpack_strings(z["smiles"], n_mol), z["rows"],
            Vocab(unpack_strings(z["vocab"], n_vocab)), rejects,
        ), advice


# ----------------------------------------------------------------------------- batching


def split_indices(n: int, val_fraction: float, seed: int, max_val: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A reproducible random (train, validation) split of ``range(n)``."""
    perm = np.random.default_rng(seed).permutation(n)
    n_val = int(round(n * val_fraction))
    if max_val is not None:
        n_val = min(n_val, max_val)
    if val_fraction > 0 and n > 1:
        n_val = min(max(n_val, 1), n - 1)
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


def bucketed_batches(lengths: np.ndarray, batch_size: int, seed: int, pool: int = 50) -> list[np.ndarray]:
    """Batches of indices whose molecules have similar lengths, in a random order.

    Indices are shuffled, cut into pools of ``pool * batch_size``, each pool sorted by length and
    cut into batches; the batch order is then shuffled. Less padding, still random. The same
    `seed` gives the same batches, which is what lets training resume mid-epoch.
    """
    rng = np.random.default_rng(seed)
    perm = rng.permutation(len(lengths))
    batches = []
    step = batch_size * pool
    for start in range(0, len(perm), step):
        chunk = perm[start : start + step]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        batches.extend(chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size))
    order = rng.permutation(len(batches))
    return [batches[i] for i in order]


def sequential_batches(n: int, batch_size: int) -> list[np.ndarray]:
    """Batches of ``range(n)`` in order (evaluation)."""
    return [np.arange(i, min(i + batch_size, n)) for i in range(0, n, batch_size)]
