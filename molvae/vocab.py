"""The SELFIES token vocabulary: token strings <-> integer ids.

Layout of an encoded molecule (one row of the token matrix)::

    tok_1 tok_2 ... tok_L <eos> <pad> <pad> ...

The decoder's input is the same row shifted right behind ``<bos>``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from molvae.chem import split_selfies
from molvae.errors import MoleculeRejected

PAD, BOS, EOS, UNK = "<pad>", "<bos>", "<eos>", "<unk>"
SPECIALS = (PAD, BOS, EOS, UNK)


class Vocab:
    """An ordered list of tokens; the four specials come first (``<pad>`` is id 0)."""

    def __init__(self, tokens: Sequence[str]):
        tokens = list(tokens)
        if tuple(tokens[: len(SPECIALS)]) != SPECIALS:
            raise ValueError(f"a vocabulary must start with {SPECIALS}")
        if len(set(tokens)) != len(tokens):
            raise ValueError("duplicate tokens in vocabulary")
        self.tokens = tokens
        self.index = {t: i for i, t in enumerate(tokens)}
        self.pad, self.bos, self.eos, self.unk = (self.index[t] for t in SPECIALS)

    @classmethod
    def from_token_lists(cls, token_lists: Iterable[Sequence[str]]) -> "Vocab":
        """Build from tokenized molecules; tokens are sorted so the vocabulary is reproducible."""
        seen: set[str] = set()
        for toks in token_lists:
            seen.update(toks)
        return cls(list(SPECIALS) + sorted(seen - set(SPECIALS)))

    def __len__(self) -> int:
        return len(self.tokens)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocab) and self.tokens == other.tokens

    def ids(self, tokens: Sequence[str]) -> list[int]:
        """Token ids for one molecule (no specials added). Raises MoleculeRejected on unknown tokens."""
        try:
            return [self.index[t] for t in tokens]
        except KeyError:
            unknown = sorted({t for t in tokens if t not in self.index})
            raise MoleculeRejected(f"tokens not in the model's vocabulary: {' '.join(unknown)}") from None

    def encode(self, selfies: str) -> list[int]:
        """SELFIES string -> token ids (no specials)."""
        return self.ids(split_selfies(selfies))

    def decode(self, ids: Iterable[int]) -> str:
        """Token ids -> SELFIES string, stopping at the first ``<eos>``; other specials are dropped."""
        out = []
        for i in ids:
            i = int(i)
            if i == self.eos:
                break
            if i >= len(SPECIALS):
                out.append(self.tokens[i])
        return "".join(out)

    def to_matrix(self, id_lists: Sequence[Sequence[int]], max_len: int) -> tuple[np.ndarray, np.ndarray]:
        """Pack id lists into a padded matrix.

        Returns ``tokens`` of shape ``(n, longest + 1)`` (each row ends in ``<eos>``; uint8 when the
        vocabulary fits, else int16) and ``lengths`` of shape ``(n,)``, tokens including ``<eos>``.
        """
        longest = max((len(ids) for ids in id_lists), default=0)
        if longest > max_len:
            row = next(i for i, ids in enumerate(id_lists) if len(ids) > max_len)
            raise ValueError(f"row {row} has {len(id_lists[row])} tokens, over max_len={max_len}")
        dtype = np.uint8 if len(self) <= 256 else np.int16
        tokens = np.full((len(id_lists), longest + 1), self.pad, dtype=dtype)
        lengths = np.empty(len(id_lists), dtype=np.int64)
        for row, ids in enumerate(id_lists):
            tokens[row, : len(ids)] = ids
            tokens[row, len(ids)] = self.eos
            lengths[row] = len(ids) + 1
        return tokens, lengths
