"""The Python API: :class:`MolVAE` (load, sample, encode, decode, reconstruct) and :func:`train`.

This is the layer that joins the chemistry (SMILES, SELFIES, vocabulary) to the network; the CLI
and notebooks use only what is here.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import platform
import sys
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import asdict, replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.distributed as dist
from tqdm.auto import tqdm

from molvae import __version__
from molvae.annealing import kl_weight, word_dropout_rate
from molvae.chem import SELFIES_VERSION, decode_many, default_constraints
from molvae.checkpoint import load_checkpoint, save_checkpoint
from molvae.config import RunConfig
from molvae.cache import file_sha256
from molvae.data import (add_spellings, AUGMENT_MODES, bucketed_batches, load_molecules, MoleculeSet, prepare, sequential_batches, split_indices)
from molvae.io import resolve_data_path
from molvae.parallel import PARALLEL_MIN_ROWS, spawn_is_safe
from molvae.errors import CheckpointError, ConfigError, InputFileError, MolvaeError
from molvae.latent import active_units, collapse_diagnostics, collapse_warning, kl_per_dimension
from molvae.model import VAE, ModelConfig, SpecialIds
from molvae.device import autocast, distributed_rank, init_distributed, resolve_device, resolve_precision
from molvae.trainer import Trainer
from molvae.vocab import Vocab

PRETRAINED = Path(__file__).resolve().parent / "pretrained" / "default.pt"


def build_model(cfg: ModelConfig, vocab: Vocab) -> VAE:
    """An untrained network sized for `vocab`."""
    return VAE(cfg, len(vocab), SpecialIds(vocab.pad, vocab.bos, vocab.eos, vocab.unk))


class MolVAE:
    """A trained model with its vocabulary and SELFIES constraints: SMILES in, SMILES out.

    >>> vae = MolVAE.load("runs/quickstart/best.pt")
    >>> vae.sample(100)            # DataFrame: smiles, valid, selfies
    >>> z = vae.encode(["CCO"])    # (1, latent_dim) posterior means
    >>> vae.decode(z)              # ['CCO']
    """

    def __init__(self, model: VAE, vocab: Vocab, constraints: dict[str, int], meta: dict[str, Any] | None = None,
                 precision: str = "fp32"):
        self.model, self.vocab, self.constraints = model.eval(), vocab, dict(constraints)
        self.meta = meta or {}
        self.precision = precision
        self.predictor = None  # a molvae.predictors.LatentPredictor, saved with the model

    @property
    def precision(self) -> str:
        """Arithmetic for the network at inference: fp32, bf16, fp16 (CUDA) or auto (as in training)."""
        return self._precision

    @precision.setter
    def precision(self, name: str) -> None:
        self._dtype = resolve_precision(name, self.device)
        self._precision = name

    def autocast(self):
        """The context in which the network runs at this model's inference precision."""
        return autocast(self.device, self._dtype)

    # -------------------------------------------------------------- files

    @classmethod
    def load(cls, path: str | os.PathLike | None = None, device: str = "auto", precision: str = "fp32") -> "MolVAE":
        """Load a checkpoint written by ``molvae train`` (``None``: the model shipped with molvae).

        `precision` "bf16" or "auto" runs the network in bfloat16 where the hardware has it: about
        twice as fast on such CPUs, and decodings can differ from fp32 where two tokens are nearly
        tied (see docs/speed.md)."""
        if path is None:
            if not PRETRAINED.is_file():
                raise CheckpointError(
                    "no pretrained model ships with this version of molvae yet; pass a checkpoint "
                    "written by `molvae train` (its best.pt)"
                )
            path = PRETRAINED
        payload = load_checkpoint(path)
        meta = payload["meta"]
        try:
            cfg = ModelConfig(**meta["model_config"])
            vocab = Vocab(meta["vocab"])
            constraints = meta["selfies"]["constraints"]
            model = build_model(cfg, vocab)
            state = {k: v.float() for k, v in payload["state_dict"].items()}
            head = {k[len("predictor."):]: state.pop(k) for k in list(state) if k.startswith("predictor.")}
            model.load_state_dict(state)
            predictor = None
            if "predictor" in meta:
                from molvae.predictors import LatentPredictor

                info = meta["predictor"]
                predictor = LatentPredictor(cfg.latent_dim, info["names"], info["hidden"])
                predictor.load_state_dict(head)
                predictor.metrics = info.get("metrics", {})
                predictor.eval()
        except (KeyError, TypeError, ValueError, RuntimeError) as exc:
            raise CheckpointError(f"{path}: checkpoint contents do not describe a molvae model ({exc})") from None
        vae = cls(model.to(resolve_device(device)), vocab, constraints, meta, precision)
        # a predictor fitted to the frozen model wins over the jointly trained head
        vae.predictor = predictor if predictor is not None else model.property_head
        return vae

    def save(self, path: str | os.PathLike) -> Path:
        """Write the model (no optimizer state) as a checkpoint, with its property predictor if any."""
        state = {k: v.detach().cpu() for k, v in self.model.state_dict().items()}
        meta = dict(self.meta)
        meta.pop("predictor", None)
        if self.predictor is not None and self.predictor is not self.model.property_head:
            state.update({f"predictor.{k}": v.detach().cpu() for k, v in self.predictor.state_dict().items()})
            meta["predictor"] = self.predictor.describe()
        return save_checkpoint(path, meta, state)

    @property
    def config(self) -> ModelConfig:
        return self.model.cfg

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    # -------------------------------------------------------------- molecules <-> tensors

    def prepare(self, smiles: Sequence[str], progress: bool = False) -> MoleculeSet:
        """Canonicalize and tokenize with this model's vocabulary; failures go to ``.rejects``."""
        return prepare(list(smiles), max_len=self.config.max_len, vocab=self.vocab,
                       constraints=self.constraints, progress=progress)

    def tokens_to_smiles(self, ids: torch.Tensor | np.ndarray) -> tuple[list[str], list[str | None]]:
        """(B, L) token ids -> (SELFIES strings, canonical SMILES or None where invalid)."""
        ids = ids.cpu().numpy() if isinstance(ids, torch.Tensor) else ids
        selfies = [self.vocab.decode(row) for row in ids]
        return selfies, decode_many(selfies, self.constraints)

    # -------------------------------------------------------------- verbs

    def sample(self, n: int, temperature: float = 1.0, greedy: bool = False, batch_size: int = 1024,
               seed: int | None = None, valid_only: bool = True, max_rounds: int = 20,
               workers: int | None = None, progress: bool = False) -> pd.DataFrame:
        """Decode draws from the prior into molecules.

        Columns: ``smiles`` (canonical; empty if invalid), ``valid``, ``selfies``. With
        `valid_only`, draws that decode to no molecule are replaced by new draws (up to
        `max_rounds` times) so all `n` rows are valid; either way ``df.attrs["raw_validity"]``
        is the fraction of all draws that were valid, the number to report as validity.
        `workers` processes turn SELFIES into canonical SMILES while the network decodes the next
        batch (default: one fewer than the cores, from ``PARALLEL_MIN_ROWS`` molecules up, when the
        model is on a GPU or the machine has 8 cores or more; else none).
        For millions of molecules, :meth:`sample_to_csv` writes them without holding them all.
        """
        stream = SampleStream(self, n, temperature, greedy, batch_size, seed, valid_only, max_rounds, workers, progress)
        chunks = list(stream)
        df = pd.concat(chunks, ignore_index=True) if chunks else pd.DataFrame(columns=["smiles", "valid", "selfies"])
        df.attrs["raw_validity"] = stream.raw_validity
        return df

    def sample_to_csv(self, path: str | os.PathLike, n: int, temperature: float = 1.0, greedy: bool = False,
                      batch_size: int = 1024, seed: int | None = None, valid_only: bool = True,
                      max_rounds: int = 20, workers: int | None = None, progress: bool = False,
                      properties: str | Sequence[str] | None = ()) -> dict[str, float]:
        """:meth:`sample` streamed into a CSV batch by batch (molecules are not kept;
        only a hash of each, for the uniqueness count). `properties` names RDKit properties to add
        as columns (see :mod:`molvae.properties`; ``None``: the default set, empty: none).

        Returns a summary: n, raw_validity, unique_of_valid (distinct canonical SMILES among the
        valid rows), seconds, mol_per_s.
        """
        from molvae import properties as props

        names = props.resolve(properties)
        start = time.perf_counter()
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        stream = SampleStream(self, n, temperature, greedy, batch_size, seed, valid_only, max_rounds, workers, progress)
        seen: set[int] = set()  # hashes, not strings: uniqueness of millions in little memory
        rows = valid = 0
        tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
        with open(tmp, "w", newline="") as fh:
            for i, chunk in enumerate(stream):
                if names:
                    values = props.compute(chunk.smiles.where(chunk.valid, None).tolist(), names, workers=1)
                    chunk = pd.concat([chunk.reset_index(drop=True), values.round(4)], axis=1)
                chunk.to_csv(fh, index=False, header=i == 0)
                rows += len(chunk)
                ok = chunk.smiles[chunk.valid]
                valid += len(ok)
                seen.update(hash(x) for x in ok)
            if rows == 0:
                fh.write(",".join(["smiles", "valid", "selfies", *names]) + "\n")
        os.replace(tmp, path)
        seconds = time.perf_counter() - start
        return {"n": rows, "raw_validity": round(stream.raw_validity, 4),
                "unique_of_valid": round(len(seen) / max(valid, 1), 4), "seconds": round(seconds, 2),
                "mol_per_s": round(rows / max(seconds, 1e-9), 1)}

    def encode(self, smiles: Sequence[str], return_logvar: bool = False, errors: str = "raise",
               batch_size: int = 1024, spellings: int = 0, seed: int = 0) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """Posterior means (n, latent_dim) for SMILES strings (and log-variances if asked).

        ``errors="raise"`` raises :class:`MolvaeError` naming the rows that cannot be encoded;
        ``errors="nan"`` gives those rows NaN instead. With `spellings` > 0 each mean is the average
        over the canonical SMILES and that many random spellings of the molecule (randomized
        SMILES, reproducible by `seed`): a steadier embedding, most useful for models trained with
        ``data.augment``; a spelling the model cannot read counts as the canonical one. The
        log-variances are always the canonical spelling's.
        """
        mols = self.prepare(smiles)
        if errors == "raise" and len(mols.rejects):
            shown = "; ".join(f"row {r.row} ({r.input!r}): {r.reason}" for r in mols.rejects.head(5).itertuples())
            raise MolvaeError(f"{len(mols.rejects)} molecule(s) cannot be encoded: {shown}")
        mu, logvar = self.encode_set(mols, spellings=spellings, seed=seed, batch_size=batch_size)
        mu, logvar = mols.scatter(mu, len(smiles)), mols.scatter(logvar, len(smiles))
        return (mu, logvar) if return_logvar else mu

    def encode_set(self, mols: MoleculeSet, spellings: int = 0, seed: int = 0,
                   batch_size: int = 1024) -> tuple[np.ndarray, np.ndarray]:
        """Posterior (mu, logvar) of prepared molecules, each (len(mols), latent_dim) float32, in the
        order of `mols` (``mols.scatter`` puts them back in input-row order).

        With `spellings` > 0 each mean is averaged over the canonical and that many random spellings
        of the molecule (reproducible by `seed`); the log-variances stay the canonical spelling's."""
        d = self.config.latent_dim
        mu, logvar = np.empty((len(mols), d), np.float32), np.empty((len(mols), d), np.float32)
        for idx in sequential_batches(len(mols), batch_size):
            b = mols.collate(idx)
            with self.autocast():
                m, lv = self.model.encode(b["tokens"].to(self.device), b["lengths"])
            mu[idx], logvar[idx] = m.float().cpu().numpy(), lv.float().cpu().numpy()
        if spellings > 0 and len(mols):
            mu = self._spelled_mean(mols, spellings, seed, batch_size)
        return mu, logvar

    def _spelled_mean(self, mols: MoleculeSet, spellings: int, seed: int, batch_size: int) -> np.ndarray:
        """(len(mols), D): posterior means averaged over each molecule's canonical and random spellings."""
        from molvae.chem import spell_many
        from molvae.data import spelling_matrix

        spelled = spell_many(mols.smiles, spellings, seed, self.constraints)
        tokens, lengths = spelling_matrix(mols, spelled, self.config.max_len)
        n, s, w = tokens.shape
        flat_tokens, flat_lengths = tokens.reshape(n * s, w), lengths.reshape(n * s)
        out = np.empty((n * s, self.config.latent_dim), dtype=np.float32)
        for idx in sequential_batches(n * s, batch_size):
            t = torch.from_numpy(flat_tokens[idx].astype(np.int64)).to(self.device)
            with self.autocast():
                m, _ = self.model.encode(t, torch.from_numpy(flat_lengths[idx]))
            out[idx] = m.float().cpu().numpy()
        return out.reshape(n, s, -1).mean(axis=1)

    def decode(self, z: np.ndarray | torch.Tensor, greedy: bool = True, temperature: float = 1.0,
               batch_size: int = 1024, seed: int | None = None) -> list[str | None]:
        """Latent points (n, latent_dim) -> canonical SMILES (``None`` where the decoding is invalid)."""
        z = torch.as_tensor(np.asarray(z, dtype=np.float32)).to(self.device)
        gen = torch.Generator(device=self.device)
        if seed is not None:
            gen.manual_seed(seed)
        out: list[str | None] = []
        for start in range(0, len(z), batch_size):
            with self.autocast():
                ids = self.model.generate(z[start : start + batch_size], temperature=temperature, greedy=greedy,
                                          generator=gen)
            out += self.tokens_to_smiles(ids)[1]
        return out

    def reconstruct(self, smiles: Sequence[str], greedy: bool = True, batch_size: int = 1024,
                    spellings: int = 0, seed: int = 0) -> pd.DataFrame:
        """Encode (posterior mean; averaged over `spellings` random spellings too, see :meth:`encode`)
        then decode each SMILES. One row per input, in order, with ``input, canonical,
        reconstructed, exact, reason`` (reason is set where a row was rejected)."""
        smiles = list(smiles)
        mols = self.prepare(smiles)
        mu, _ = self.encode_set(mols, spellings=spellings, seed=seed, batch_size=batch_size)
        recon: list[str | None] = [None] * len(smiles)
        if len(mols):
            for row, out in zip(mols.rows, self.decode(mu, greedy=greedy, batch_size=batch_size)):
                recon[row] = out
        canonical = [""] * len(smiles)
        for row, canon in zip(mols.rows, mols.smiles):
            canonical[row] = canon
        reasons = dict(zip(mols.rejects["row"], mols.rejects["reason"]))
        return pd.DataFrame({
            "input": smiles, "canonical": canonical, "reconstructed": [r or "" for r in recon],
            "exact": [bool(c) and c == r for c, r in zip(canonical, recon)],
            "reason": [reasons.get(i, "") for i in range(len(smiles))],
        })


def diagnose(vae: "MolVAE", smiles: Sequence[str], batch_size: int = 1024) -> tuple[dict[str, float], np.ndarray, np.ndarray]:
    """Collapse diagnostics of `vae` on molecules: (figures, KL per dimension (D,), active-unit mask
    (D,)). Figures: KL, active units and fraction, dimensions over 0.1 nats, I(x; z), exact greedy
    reconstruction, molecules used."""
    mols = vae.prepare(smiles)
    if len(mols) == 0:
        raise MolvaeError("none of the molecules can be encoded by this model; see their reasons with molvae reconstruct")
    mu, logvar = vae.encode_set(mols, batch_size=batch_size)
    figures = collapse_diagnostics(mu, logvar)
    decoded = vae.decode(mu, greedy=True, batch_size=batch_size)
    figures["recon_exact"] = float(np.mean([d == c for d, c in zip(decoded, mols.smiles)]))
    figures["molecules"] = len(mols)
    return figures, kl_per_dimension(mu, logvar), active_units(mu)


class SampleStream:
    """Prior samples as an iterator of DataFrames (one per decoded batch, in a fixed order).

    The network decodes in this process; SELFIES -> canonical SMILES runs in worker processes
    for large requests, overlapping the next batch's decoding. The draws depend only on the seed
    and batch size, never on timing or the number of workers. After iteration, ``drawn``,
    ``valid`` and ``raw_validity`` describe every draw made.
    """

    def __init__(self, vae: MolVAE, n: int, temperature: float = 1.0, greedy: bool = False, batch_size: int = 1024,
                 seed: int | None = None, valid_only: bool = True, max_rounds: int = 20,
                 workers: int | None = None, progress: bool = False):
        self.vae, self.n, self.temperature, self.greedy = vae, n, temperature, greedy
        self.batch_size, self.valid_only, self.max_rounds, self.progress = batch_size, valid_only, max_rounds, progress
        self.seed = seed if seed is not None else int(torch.randint(0, 2**31 - 1, (1,)))
        if workers is None:
            # Conversion processes pay only when the network does not need the cores itself: on a
            # GPU, or with many cores (on 2 cores one worker measured 12% slower than none).
            cores = os.cpu_count() or 1
            many = vae.device.type == "cuda" or cores >= 8
            workers = min(cores - 1, 16) if n >= PARALLEL_MIN_ROWS and many else 0
        self.workers = workers
        self.drawn = self.valid = 0

    @property
    def raw_validity(self) -> float:
        return self.valid / max(self.drawn, 1)

    def _decode_batches(self, sizes: list[int], gen: torch.Generator):
        """SELFIES strings of each batch, decoded lazily."""
        vae = self.vae
        for size in sizes:
            z = vae.model.sample_prior(size, generator=gen)
            with vae.autocast():
                ids = vae.model.generate(z, temperature=self.temperature, greedy=self.greedy, generator=gen)
            yield [vae.vocab.decode(row) for row in ids.cpu().numpy()]

    def _converted(self, sizes: list[int], gen: torch.Generator, pool):
        """(SELFIES, SMILES) per batch, in order; with a pool, a few batches convert ahead."""
        convert = partial(decode_many, constraints=self.vae.constraints)
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
        emitted = 0
        pool = mp.get_context("spawn").Pool(self.workers) if self.workers > 0 and spawn_is_safe() else None
        try:
            with tqdm(total=self.n, desc="sample", unit="mol", disable=not self.progress) as bar:
                for _ in range(self.max_rounds if self.valid_only else 1):
                    missing = self.n - emitted
                    if missing == 0:
                        break
                    sizes = [min(self.batch_size, missing - i) for i in range(0, missing, self.batch_size)]
                    for selfies, smiles in self._converted(sizes, gen, pool):
                        ok = [m is not None for m in smiles]
                        self.drawn += len(ok)
                        self.valid += sum(ok)
                        df = pd.DataFrame({"smiles": [m or "" for m in smiles], "valid": ok, "selfies": selfies})
                        if self.valid_only:
                            df = df[df.valid].reset_index(drop=True)
                        emitted += len(df)
                        bar.update(len(df))
                        yield df
        finally:
            if pool is not None:
                pool.terminate()
        if emitted < self.n:
            raise MolvaeError(f"only {emitted} of {self.n} valid molecules after {self.drawn} draws; "
                              "the model is not trained enough to sample from")


# ------------------------------------------------------------------ training


def _vae_loss_fn(config: RunConfig):
    anneal = config.anneal

    def loss_fn(model: VAE, batch: dict[str, torch.Tensor], t: float) -> dict[str, torch.Tensor]:
        beta = kl_weight(t, anneal)
        out = model(batch["tokens"], batch["lengths"], beta=beta,
                    word_dropout_rate=word_dropout_rate(t, anneal), free_bits=anneal.free_bits,
                    props=batch.get("props"), property_weight=config.train.property_weight,
                    enc_tokens=batch.get("enc_tokens"), enc_lengths=batch.get("enc_lengths"))
        out["beta"] = torch.tensor(beta)
        return out

    return loss_fn


def _vae_eval_fn(config: RunConfig):
    """Validation terms: the negative ELBO, and the objective best.pt is chosen by, recon + beta * KL
    at the final beta (what training optimizes once warm-up is over). Choosing by the ELBO instead
    (beta = 1) favours early, low-KL epochs whenever beta < 1, i.e. the less trained model."""
    beta = config.anneal.beta

    def eval_fn(model: VAE, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        out = model(batch["tokens"], batch["lengths"], beta=1.0, props=batch.get("props"))
        terms = {"objective": out["recon"] + beta * out["kl"], "nelbo": out["recon"] + out["kl"], "recon": out["recon"],
                 "kl": out["kl"], "token_acc": out["token_acc"]}
        if "prop_mse" in out:
            terms["prop_mse"] = out["prop_mse"]
        return terms

    return eval_fn


def _diagnostics_fn(val_set: MoleculeSet, out_dir: Path, n: int = 2000):
    """Per-epoch collapse diagnostics on up to `n` validation molecules: active units, mutual
    information, KL carried per dimension (appended to ``kl_per_dim.csv``), and a warning."""
    idx = np.arange(min(n, len(val_set)))

    def diagnostics(model: VAE, epoch: float) -> dict[str, float]:
        if len(idx) == 0:
            return {}
        mus, logvars, exact = [], [], 0
        for batch in sequential_batches(len(idx), 1024):
            b = val_set.collate(idx[batch])
            tokens = b["tokens"].to(next(model.parameters()).device).long()
            mu, logvar = model.encode(tokens, b["lengths"])
            mus.append(mu.float().cpu())
            logvars.append(logvar.float().cpu())
            if len(mus) == 1:  # exact greedy reconstruction of the first batch, token for token
                out = model.generate(mu, greedy=True, max_len=tokens.shape[1])
                width = min(out.shape[1], tokens.shape[1])
                same = (out[:, :width] == tokens[:, :width]).all(1) & (tokens[:, width:] == model.ids.pad).all(1)
                exact, n_exact = int(same.sum()), len(same)
        mu, logvar = torch.cat(mus), torch.cat(logvars)
        diag = collapse_diagnostics(mu, logvar)
        diag["recon_exact"] = exact / max(n_exact, 1)
        kl = kl_per_dimension(mu, logvar)
        path = out_dir / "kl_per_dim.csv"
        row = pd.DataFrame([[round(epoch, 4), *kl]], columns=["epoch", *[f"z{i}" for i in range(len(kl))]])
        row.to_csv(path, mode="a", header=not path.is_file(), index=False)
        warning = collapse_warning(diag)
        if warning:
            print(f"warning (epoch {epoch:g}): {warning}", file=sys.stderr, flush=True)
        return {k: v for k, v in diag.items() if k != "kl"}

    return diagnostics


def train(config: RunConfig, out_dir: str | os.PathLike, resume: str | os.PathLike | None = None,
          progress: bool = True) -> Path:
    """Train a model as `config` says, writing into `out_dir`; returns the path of ``best.pt``.

    `out_dir` receives ``config.toml`` (the resolved config), ``rejects.csv`` (every training row
    not used, with its reason), ``log.csv``, ``last.pt`` (resume) and ``best.pt``. With `resume`
    (a ``last.pt``), the model and vocabulary come from that checkpoint and training continues
    where it stopped, up to ``config.train.epochs``.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tc = config.train
    torch.manual_seed(tc.seed)
    if tc.threads > 0:
        torch.set_num_threads(tc.threads)
    constraints, resume_vocab, init_state = default_constraints(), None, None
    start_from = resume if resume is not None else tc.init_from
    if start_from:
        payload = load_checkpoint(start_from)
        meta = payload["meta"]
        resume_vocab, constraints = Vocab(meta["vocab"]), meta["selfies"]["constraints"]
        config = replace(config, model=ModelConfig(**meta["model_config"]))  # the weights decide the model
        if resume is None:
            init_state = {k: v.float() for k, v in payload["state_dict"].items()}

    dc = config.data
    train_path = resolve_data_path(dc.train)
    # Under torchrun, rank 0 preprocesses (filling the cache) while the others wait, then read it.
    init_distributed(tc.device)
    rank, world, _ = distributed_rank()
    rank0 = rank == 0
    if world > 1 and not rank0:
        dist.barrier()
    load = dict(column=dc.smiles_column, max_len=config.model.max_len, constraints=constraints,
                cache_dir=dc.cache_dir, workers=dc.workers or None, progress=progress and rank0,
                largest_fragment=dc.largest_fragment)
    # Without a vocabulary first: a resumed run then hits the cache entry its first session made.
    molecules = load_molecules(train_path, limit=dc.limit or None, seed=tc.seed, **load)
    if resume_vocab is not None and molecules.vocab != resume_vocab:
        molecules = load_molecules(train_path, vocab=resume_vocab, limit=dc.limit or None, seed=tc.seed, **load)
    if world > 1 and rank0:
        dist.barrier()
    if rank0:
        molecules.rejects.to_csv(out_dir / "rejects.csv", index=False)
    if dc.augment not in AUGMENT_MODES:
        raise ConfigError(f"data.augment must be one of {', '.join(AUGMENT_MODES)}, got {dc.augment!r}")
    if dc.augment != "none":
        add_spellings(molecules, dc.augment_spellings, max_len=config.model.max_len, seed=tc.seed,
                      constraints=constraints, cache_dir=dc.cache_dir, workers=dc.workers or None,
                      progress=progress and rank0)
    if dc.val:
        train_set = molecules
        val_set = load_molecules(resolve_data_path(dc.val), vocab=molecules.vocab, **load)
        if rank0:
            val_set.rejects.to_csv(out_dir / "val_rejects.csv", index=False)
    else:
        tr, va = split_indices(len(molecules), dc.val_fraction, tc.seed, dc.max_val)
        train_set, val_set = molecules.subset(tr), molecules.subset(va)
    if len(train_set) == 0:
        raise InputFileError(f"no usable training molecules in {train_path}; see {out_dir / 'rejects.csv'}")
    vocab = molecules.vocab
    head_names = [n.strip() for n in config.model.property_head.split(",") if n.strip()]
    if head_names:
        from molvae import properties as props
        from molvae.properties import molecule_properties

        props.resolve(head_names)  # unknown names: a ConfigError before any work
        for part in (train_set, val_set):
            part.props = molecule_properties(part.smiles, head_names, dc.cache_dir, dc.workers or None, progress and rank0)

    if rank0:
        (out_dir / "config.toml").write_text(config.to_toml())
    meta = {
        "model_config": asdict(config.model), "vocab": vocab.tokens,
        "selfies": {"version": SELFIES_VERSION, "constraints": dict(constraints)},
        "run_config": config.to_dict(),
        "data": {"train": str(train_path), "train_sha256": file_sha256(train_path), "n_train": len(train_set),
                 "n_val": len(val_set), "n_rejected": len(molecules.rejects)},
        "world_size": world,
        "software": {"molvae": __version__, "torch": torch.__version__, "python": platform.python_version()},
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    model = build_model(config.model, vocab)
    if model.property_head is not None and init_state is None and resume is None:
        model.property_head.y_mean.copy_(torch.from_numpy(np.nanmean(train_set.props, axis=0)))
        model.property_head.y_std.copy_(torch.from_numpy(np.nanstd(train_set.props, axis=0)).clamp(min=1e-6))
    if init_state is not None:
        model.load_state_dict(init_state)
        meta["init_from"] = {"path": str(Path(tc.init_from).resolve()), "sha256": file_sha256(Path(tc.init_from))}
    trainer = Trainer(model, _vae_loss_fn(config), _vae_eval_fn(config), tc, out_dir, meta, monitor="objective", progress=progress,
                      epoch_end_fn=_diagnostics_fn(val_set, out_dir))
    if resume is not None:
        trainer.resume(resume)
    elif rank0:
        (out_dir / "kl_per_dim.csv").unlink(missing_ok=True)  # a fresh run in an old folder

    def batches(epoch: int) -> list[np.ndarray]:
        if dc.augment == "none":
            return bucketed_batches(train_set.lengths, tc.batch_size, seed=tc.seed * 100_003 + epoch)
        # each molecule's spelling for this epoch, folded into the index (see MoleculeSet.collate_spelled);
        # batches are bucketed by the longer of the two spellings a molecule is read and written in,
        # so that random spellings do not add padding
        n_spell = train_set.spellings.shape[1]
        which = np.random.default_rng(tc.seed * 7_919 + epoch).integers(0, n_spell, size=len(train_set))
        spelled = train_set.spelling_lengths[np.arange(len(train_set)), which]
        order = bucketed_batches(np.maximum(train_set.lengths, spelled), tc.batch_size, seed=tc.seed * 100_003 + epoch)
        return [b + len(train_set) * which[b] for b in order]

    collate = train_set.collate if dc.augment == "none" else partial(train_set.collate_spelled, mode=dc.augment)

    val_order = np.argsort(val_set.lengths, kind="stable")
    val_batches = [val_order[b] for b in sequential_batches(len(val_set), 1024)]
    try:
        trainer.fit(batches, collate, val_batches, val_set.collate)
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
    return out_dir / "best.pt"

