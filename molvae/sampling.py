"""Prior samples as a stream of DataFrames: the network decodes in this process while worker
processes turn SELFIES into canonical SMILES, in an order fixed by the seed alone."""

from __future__ import annotations

import math
import os
from collections import Counter, deque
from functools import partial
from typing import Any

import pandas as pd
import torch
from tqdm.auto import tqdm

from molvae.chem import decode_many, decode_screened, relaxed_constraints
from molvae.errors import MolvaeError
from molvae.parallel import PARALLEL_MIN_ROWS, spawn_is_safe, worker_pool
from molvae.prior import check_width, describe_prior, resolve_prior, sampling_temperature


class SampleStream:
    """Prior samples of `vae` (a loaded :class:`molvae.api.MolVAE`) as an iterator of DataFrames (one per
    decoded batch, in a fixed order).

    With `relax` > 0 the SELFIES are decoded with every bond capacity raised by that much
    (:func:`molvae.chem.relaxed_constraints`), so decoding slips fail and are discarded (replaced by
    new draws with `valid_only`); ``raw_validity`` is then the fraction of draws kept. The latent
    codes come from `prior` (:func:`molvae.prior.resolve_prior`: the model's code bank, or N(0, I)),
    at `prior_width` if given, and decoded at `temperature` (None: the bank's stored temperature, or 1
    for N(0, I)); ``codes`` describes them.

    With `screen` (the default), decoding slips that SELFIES repaired into odd molecules are screened
    out (:func:`molvae.chem.slip_reason`: radicals, and molecules the model cannot read back because
    their SELFIES needs a token outside its vocabulary): with `valid_only` they are replaced by new
    draws like invalid ones, otherwise they are kept with their reason in a ``slip`` column.
    ``slips`` counts them by reason and ``redrawn`` is the fraction of draws not emitted as molecules.
    The screen also takes out molecules with a ring of more than `max_ring` atoms (:func:`resolve_max_ring`:
    by default the largest ring of the model's training molecules, where its checkpoint records it),
    which a decoder that slips while closing a ring writes and no training molecule holds.

    The network decodes in this process; SELFIES -> canonical SMILES runs in worker processes
    for large requests, overlapping the next batch's decoding. The draws depend only on the seed
    and batch size, never on timing or the number of workers. After iteration, ``drawn``,
    ``valid`` and ``raw_validity`` describe every draw made.
    """

    def __init__(self, vae: Any, n: int, temperature: float | None = None, greedy: bool = False, batch_size: int = 1024,
                 seed: int | None = None, valid_only: bool = True, max_rounds: int = 20,
                 workers: int | None = None, progress: bool = False, relax: int = 0, prior: str = "auto",
                 prior_width: float | None = None, screen: bool = True, max_ring: int | str | None = "auto"):
        if relax < 0:
            raise MolvaeError(f"relax must be 0 (off) or a positive number of extra bonds, got {relax}")
        self.vae, self.n, self.greedy = vae, n, greedy
        self.bank = resolve_prior(vae, prior)
        # greedy decoding takes the likeliest token and uses no temperature (None in the record)
        self.temperature = None if greedy else sampling_temperature(self.bank, temperature)
        self.prior_width = None if prior_width is None else check_width(prior_width)
        if self.bank is None and prior_width is not None:
            raise MolvaeError("a prior width applies to a code bank, and these codes come from N(0, I) "
                              "(use a model with a bank, from `molvae fit-prior`, or drop the width)")
        if self.bank is not None:
            if self.bank.latent_dim != vae.config.latent_dim:
                raise MolvaeError(f"the code bank has {self.bank.latent_dim} dimensions, the model {vae.config.latent_dim}")
            self.bank.to(vae.device)  # where the network is now, if it moved after loading
        # decoding constraints: the model's own, or relaxed so that slips fail and are discarded
        self.constraints = relaxed_constraints(vae.constraints, relax) if relax else vae.constraints
        self.batch_size, self.valid_only, self.max_rounds, self.progress = batch_size, valid_only, max_rounds, progress
        self.seed = seed if seed is not None else int(torch.randint(0, 2**31 - 1, (1,)))
        if workers is None:
            # Conversion processes pay only when the network does not need the cores itself: on a
            # GPU, or with many cores (on 2 cores one worker measured 12% slower than none).
            cores = os.cpu_count() or 1
            many = vae.device.type == "cuda" or cores >= 8
            workers = min(cores - 1, 16) if n >= PARALLEL_MIN_ROWS and many else 0
        self.workers = workers
        self.screen = screen
        # molecules with a ring of more than max_ring atoms are screened out ("auto": the training molecules' largest)
        self.max_ring = resolve_max_ring(max_ring, vae.domain.max_ring)
        if not screen:
            if self.max_ring is not None and max_ring != "auto":
                raise MolvaeError("a ring limit screens molecules out, and screening is off: keep the slips or the limit, not both")
            self.max_ring = None
        self.drawn = self.valid = self.kept = 0
        self.slips: Counter[str] = Counter()
        self._draw = None  # the bank's sampler during iteration

    @property
    def codes(self) -> dict:
        """Where the latent codes come from (kind, and for a bank its width, size and source)."""
        return describe_prior(self.bank, self.prior_width, self.temperature, self.greedy)

    @property
    def raw_validity(self) -> float:
        """The fraction of draws that decoded to a molecule (MOSES's validity; slips count as valid)."""
        return self.valid / max(self.drawn, 1)

    @property
    def redrawn(self) -> float:
        """The fraction of draws not emitted as molecules: no molecule, or a slip screened out."""
        return 1 - self.kept / max(self.drawn, 1)

    def _decode_batches(self, sizes: list[int], gen: torch.Generator):
        """SELFIES strings of each batch, decoded lazily."""
        vae = self.vae
        for size in sizes:
            z = vae.model.sample_prior(size, generator=gen) if self._draw is None else self._draw(size)
            with vae.autocast():
                ids = vae.model.generate(z, temperature=self.temperature or 1.0, greedy=self.greedy, generator=gen)
            yield [vae.vocab.decode(row) for row in ids.cpu().numpy()]

    def _converted(self, sizes: list[int], gen: torch.Generator, pool):
        """(SELFIES, [(SMILES, slip reason)]) per batch, in order; with a pool, a few batches convert ahead."""
        if self.screen:
            convert = partial(decode_screened, constraints=self.constraints, model_constraints=self.vae.constraints,
                              tokens=frozenset(self.vae.vocab.tokens), max_ring=self.max_ring or 0)
        else:
            convert = partial(_decode_unscreened, constraints=self.constraints)
        if pool is None:
            for selfies in self._decode_batches(sizes, gen):
                yield selfies, convert(selfies)
            return
        pending: deque = deque()
        for selfies in self._decode_batches(sizes, gen):
            pending.append((selfies, pool.apply_async(convert, (selfies,))))
            while len(pending) > self.workers:
                done_selfies, job = pending.popleft()
                yield done_selfies, job.get()
        while pending:
            done_selfies, job = pending.popleft()
            yield done_selfies, job.get()

    def __iter__(self):
        gen = torch.Generator(device=self.vae.device)
        gen.manual_seed(self.seed)
        # bank codes: one sampler for the whole stream, so that its pass through the bank spans the rounds
        self._draw = None if self.bank is None else self.bank.sampler(gen, self.prior_width)
        emitted = 0
        pool = worker_pool(self.workers) if self.workers > 0 and spawn_is_safe() else None
        try:
            with tqdm(total=self.n, desc="sample", unit="mol", disable=not self.progress) as bar:
                for _ in range(self.max_rounds if self.valid_only else 1):
                    missing = self.n - emitted
                    if missing == 0:
                        break
                    # after the first round, draw enough for the yield seen so far (the surplus is dropped)
                    wanted = missing if not self.drawn else min(
                        math.ceil(1.1 * missing * self.drawn / max(self.kept, 1)), 20 * missing)
                    sizes = [min(self.batch_size, wanted - i) for i in range(0, wanted, self.batch_size)]
                    for selfies, results in self._converted(sizes, gen, pool):
                        smiles, slips = zip(*results) if results else ((), ())
                        ok = [m is not None for m in smiles]
                        self.drawn += len(ok)
                        self.valid += sum(ok)
                        self.slips.update(r for r in slips if r)
                        clean = [m and not r for m, r in zip(ok, slips)]
                        self.kept += sum(clean)
                        df = pd.DataFrame({"smiles": [m or "" for m in smiles], "valid": ok, "selfies": list(selfies)})
                        if self.valid_only:
                            df = df[clean].reset_index(drop=True).iloc[: self.n - emitted]
                        elif self.screen:
                            df["slip"] = [r or "" for r in slips]
                        emitted += len(df)
                        bar.update(len(df))
                        yield df
                        if self.valid_only and emitted >= self.n:
                            break
        finally:
            if pool is not None:
                pool.terminate()
        if emitted < self.n:
            slips = f", {sum(self.slips.values())} of them decoding slips screened out" if self.slips else ""
            raise MolvaeError(f"only {emitted} of {self.n} valid molecules after {self.drawn} draws{slips}; "
                              "the model is not trained enough to sample from")


def resolve_max_ring(value: int | str | None, recorded: int = 0) -> int | None:
    """The ring limit to screen with: "auto" is `recorded` (the largest ring of the model's training
    molecules, which ``molvae fit-prior`` records; no limit where none is recorded), "none" or None is
    no limit, and a whole number of atoms (at least 3) is that."""
    if value is None or value == "none":
        return None
    if value == "auto":
        return recorded or None
    text = str(value).strip()
    if not text.isdigit() or int(text) < 3:
        raise MolvaeError(f"max_ring must be 'auto', 'none' or a whole number of ring atoms (at least 3), got {value!r}")
    return int(text)


def _decode_unscreened(selfies: list[str], constraints) -> list[tuple[str | None, None]]:
    """:func:`molvae.chem.decode_many` in :func:`molvae.chem.decode_screened`'s shape, without the screen."""
    return [(s, None) for s in decode_many(selfies, constraints)]
