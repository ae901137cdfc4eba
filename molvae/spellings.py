"""Randomized-SMILES augmentation: random spellings of each molecule (RDKit ``doRandom`` -> SELFIES),
tokenized beside its canonical one and cached, for training (``data.augment``) and for embeddings
averaged over spellings."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from functools import partial

import numpy as np

from molvae.cache import cache_file, pack_strings, save_npz_atomic
from molvae.chem import SELFIES_VERSION
from molvae.data import MoleculeSet
from molvae.errors import MoleculeRejected
from molvae.parallel import map_chunks


SPELLINGS_VERSION = 1


def spelling_matrix(ms: MoleculeSet, spelled: Sequence[Sequence[Sequence[str]]], max_len: int) -> tuple[np.ndarray, np.ndarray]:
    """(n, S, W) ids and (n, S) lengths: each molecule's canonical tokens, then its spellings; a
    spelling with a token outside the vocabulary, or over `max_len`, is replaced by the canonical one."""
    n_spell = 1 + max((len(x) for x in spelled), default=0)
    ids_of: list[list[list[int] | None]] = []
    longest = ms.tokens.shape[1] - 1
    for toks in spelled:
        row = []
        for t in toks:
            try:
                ids = ms.vocab.ids(t)
            except MoleculeRejected:
                ids = None
            if ids is not None and len(ids) > max_len:
                ids = None
            if ids is not None:
                longest = max(longest, len(ids))
            row.append(ids)
        ids_of.append(row)
    width = longest + 1
    tokens = np.full((len(ms), n_spell, width), ms.vocab.pad, dtype=ms.tokens.dtype)
    lengths = np.repeat(ms.lengths[:, None], n_spell, axis=1).astype(np.int64)
    tokens[:, :, : ms.tokens.shape[1]] = ms.tokens[:, None, :]  # every slot starts as the canonical spelling
    for i, row in enumerate(ids_of):
        for j, ids in enumerate(row, start=1):
            if ids is None:
                continue
            tokens[i, j, :] = ms.vocab.pad
            tokens[i, j, : len(ids)] = ids
            tokens[i, j, len(ids)] = ms.vocab.eos
            lengths[i, j] = len(ids) + 1
    return tokens, lengths


def add_spellings(ms: MoleculeSet, n: int, *, max_len: int, seed: int = 0, constraints: Mapping[str, int] | None = None,
                  cache_dir: str | os.PathLike | None = None, workers: int | None = None, progress: bool = True) -> MoleculeSet:
    """Give `ms` ``n`` random spellings of each molecule (randomized SMILES -> SELFIES; RDKit
    ``doRandom``) besides its canonical one, for augmented training. Cached like preprocessing, keyed
    by the molecules, the vocabulary, `n`, `seed`, the constraints and the SELFIES version."""
    from molvae.chem import spell_many

    settings = {"what": "spellings", "version": SPELLINGS_VERSION, "n": n, "seed": seed, "max_len": max_len,
                "molecules": hashlib.sha256(pack_strings(ms.smiles).tobytes()).hexdigest(),
                "vocab": ms.vocab.tokens, "constraints": dict(constraints) if constraints is not None else None,
                "selfies": SELFIES_VERSION}
    cache = cache_file(settings, cache_dir, prefix="spellings-")
    if cache is not None and cache.is_file():
        try:
            with np.load(cache, allow_pickle=False) as z:
                ms.spellings, ms.spelling_lengths = z["tokens"], z["lengths"]
            return ms
        except (OSError, ValueError, KeyError):
            pass  # rebuilt below
    constraints = dict(constraints) if constraints is not None else None
    spelled = map_chunks(partial(spell_many, n=n, seed=seed, constraints=constraints), ms.smiles, workers,
                         "spellings", progress)
    ms.spellings, ms.spelling_lengths = spelling_matrix(ms, spelled, max_len)
    if cache is not None:
        save_npz_atomic(cache, tokens=ms.spellings, lengths=ms.spelling_lengths)
    return ms
