"""The Python API: :class:`MolVAE` (load, sample, encode, decode, reconstruct) and :func:`train`
(from :mod:`molvae.training`).

This is the layer that joins the chemistry (SMILES, SELFIES, vocabulary) to the network; the CLI
and notebooks use only what is here.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from molvae.checkpoint import load_checkpoint, save_checkpoint
from molvae.chem import as_smiles_list, decode_many
from molvae.data import MoleculeSet, prepare, sequential_batches
from molvae.device import autocast, resolve_device, resolve_precision
from molvae.domain import Domain
from molvae.errors import CheckpointError, InvalidInput, MolvaeError, hint
from molvae.io import MoleculeWriter
from molvae.model import VAE, LatentPredictor, ModelConfig, build_model
from molvae.prior import CodeBank, prior_label
from molvae.sampling import SampleStream
from molvae.shipped import DEFAULTS, default_model, resolve_model, shipped_name
from molvae.training import train  # noqa: F401  (public here: ``from molvae.api import MolVAE, train``)
from molvae.vocab import Vocab

# the shipped model the latent tools load by default (molvae.shipped has every shipped model)
PRETRAINED = default_model("latent").path


class MolVAE:
    """A trained model with its vocabulary and SELFIES constraints: SMILES in, SMILES out.

    >>> vae = MolVAE.load()                  # the shipped model for encoding (molvae-moses-v0.2.1)
    >>> z = vae.encode(["CCO", "c1ccccc1"])  # (2, latent_dim) posterior means
    >>> vae.decode(z)                        # two canonical SMILES (None where a decoding is invalid)
    >>> MolVAE.load(use="sample").sample(100)  # DataFrame: smiles, valid, selfies (as `molvae sample`)

    Methods that take molecules take one SMILES string as one molecule and a list (array, Series)
    as many; the result always has one row per molecule: ``encode("CCO")`` is ``(1, latent_dim)``,
    as ``encode(["CCO"])`` is.
    """

    def __init__(self, model: VAE, vocab: Vocab, constraints: dict[str, int], meta: dict[str, Any] | None = None,
                 precision: str = "fp32"):
        self.model, self.vocab, self.constraints = model.eval(), vocab, dict(constraints)
        self.meta = meta or {}
        self.path: Path | None = None  # the checkpoint file it was loaded from
        self.precision = precision
        self.predictor = None  # a molvae.predictors.LatentPredictor, saved with the model
        self.prior = None  # a molvae.prior.CodeBank (from `molvae fit-prior`), saved with the model; None: N(0, I)
        # how input molecules are cleaned before encoding (every method that reads SMILES uses :meth:`prepare`)
        self.largest_fragment = False  # salts and mixtures: keep the largest fragment instead of rejecting
        self.standardize = False  # RDKit standardization (see molvae.chem.standardize)
        # the kind of work (molvae.shipped.USES) whose shipped default this is, when it was loaded without a name
        self.default_for: str | None = None

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

    def __repr__(self) -> str:
        cfg = self.config
        where = shipped_name(self.path) or (str(self.path) if self.path is not None else "not saved")
        prior = (f"code bank of {len(self.prior):,} (width {self.prior.width:g}, temperature {self.prior.temperature:g})"
                 if self.prior is not None else "N(0, I)")
        cleaning = [name for name in ("standardize", "largest_fragment") if getattr(self, name)]
        return (f"MolVAE({where}: latent {cfg.latent_dim}, encoder {cfg.encoder_hidden}, decoder {cfg.decoder_layers} x "
                f"{cfg.decoder_hidden}, vocabulary {len(self.vocab)} tokens, max_len {cfg.max_len}, prior {prior}"
                + (f", predictor of {', '.join(self.predictor.names)}" if getattr(self.predictor, "names", None) else "")
                + (f", {' and '.join(cleaning)}" if cleaning else "")
                + f"; {self.device}, {self.precision})")

    @classmethod
    def load(cls, path: str | os.PathLike | None = None, device: str = "auto", precision: str = "fp32",
             use: str = "latent", standardize: bool = False, largest_fragment: bool = False) -> "MolVAE":
        """Load a checkpoint written by ``molvae train``, or a model shipped with molvae by its name
        (``"molvae-moses-v0.9"``; see molvae.shipped). ``None`` loads the shipped default for `use`,
        the model the ``molvae`` verbs of that kind load: "latent" (encode, reconstruct, explore,
        interpolate, score, map: the model that reconstructs best, molvae-moses-v0.2.1), "sample"
        (``molvae sample``: the model whose samples are closest to the training data,
        molvae-moses-v0.9) or "optimize" (``molvae optimize``: molvae-moses-v0.4). So
        ``MolVAE.load(use="sample").sample(n)`` gives what ``molvae sample -n N`` gives; sampling
        from ``MolVAE.load()`` warns that it is not that model.

        `standardize` and `largest_fragment` set how input molecules are cleaned (the attributes of
        the same names; see :meth:`prepare`). `precision` "bf16" or "auto" runs the network in
        bfloat16 where the hardware has it: about twice as fast on such CPUs, and decodings can
        differ from fp32 where two tokens are nearly tied (see docs/speed.md)."""
        named = path
        path = resolve_model(path, use)
        payload = load_checkpoint(path)
        meta = payload["meta"]
        try:
            cfg = ModelConfig(**meta["model_config"])
            vocab = Vocab(meta["vocab"])
            constraints = meta["selfies"]["constraints"]
            model = build_model(cfg, vocab)
            state = {k: v.float() for k, v in payload["state_dict"].items()}
            head = {k[len("predictor."):]: state.pop(k) for k in list(state) if k.startswith("predictor.")}
            bank = CodeBank.from_checkpoint(state, meta["prior"]) if "prior" in meta else None
            model.load_state_dict(state)
            predictor = None
            if "predictor" in meta:
                info = meta["predictor"]
                predictor = LatentPredictor(cfg.latent_dim, info["names"], info["hidden"])
                predictor.load_state_dict(head)
                predictor.metrics = info.get("metrics", {})
                predictor.eval()
        except (KeyError, TypeError, ValueError, RuntimeError, MolvaeError) as exc:
            raise CheckpointError(f"{path}: checkpoint contents do not describe a molvae model ({exc})") from None
        vae = cls(model.to(resolve_device(device)), vocab, constraints, meta, precision)
        vae.prior = bank.to(vae.device) if bank is not None else None
        vae.path = Path(path)
        vae.default_for = use if named is None else None
        vae.standardize, vae.largest_fragment = bool(standardize), bool(largest_fragment)
        # a predictor fitted to the frozen model wins over the jointly trained head
        vae.predictor = predictor if predictor is not None else model.property_head
        return vae

    def save(self, path: str | os.PathLike) -> Path:
        """Write the model (no optimizer state) as a checkpoint, with its property predictor and
        code bank if any."""
        state = {k: v.detach().cpu() for k, v in self.model.state_dict().items()}
        meta = dict(self.meta)
        meta.pop("predictor", None)
        meta.pop("prior", None)
        if self.prior is not None:
            state.update(self.prior.state_dict())
            meta["prior"] = self.prior.describe()
        if self.predictor is not None and self.predictor is not self.model.property_head:
            state.update({f"predictor.{k}": v.detach().cpu() for k, v in self.predictor.state_dict().items()})
            meta["predictor"] = self.predictor.describe()
        return save_checkpoint(path, meta, state)

    @property
    def config(self) -> ModelConfig:
        return self.model.cfg

    @property
    def domain(self) -> Domain:
        """Which molecules this model reads well (:class:`molvae.domain.Domain`): what its vocabulary,
        ``max_len`` and any recorded property ranges say its training molecules held."""
        return Domain.of_model(self.vocab.tokens, self.config.max_len, self.meta)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    # -------------------------------------------------------------- molecules <-> tensors

    def prepare(self, smiles: str | Sequence[str], progress: bool = False) -> MoleculeSet:
        """Canonicalize and tokenize with this model's vocabulary (after standardizing or keeping the
        largest fragment, as :attr:`standardize` and :attr:`largest_fragment` say); failures go to
        ``.rejects`` with their reason. One string is one molecule."""
        return prepare(as_smiles_list(smiles), max_len=self.config.max_len, vocab=self.vocab, constraints=self.constraints,
                       progress=progress, largest_fragment=self.largest_fragment, standardize=self.standardize)

    def tokens_to_smiles(self, ids: torch.Tensor | np.ndarray) -> tuple[list[str], list[str | None]]:
        """(B, L) token ids -> (SELFIES strings, canonical SMILES or None where invalid)."""
        ids = ids.cpu().numpy() if isinstance(ids, torch.Tensor) else ids
        selfies = [self.vocab.decode(row) for row in ids]
        return selfies, decode_many(selfies, self.constraints)

    # -------------------------------------------------------------- verbs

    def sample(self, n: int, temperature: float | None = None, greedy: bool = False, batch_size: int = 1024,
               seed: int | None = None, valid_only: bool = True, max_rounds: int = 20,
               workers: int | None = None, progress: bool = False, relax: int = 0, prior: str = "auto",
               prior_width: float | None = None, screen: bool = True, max_ring: int | str | None = "auto") -> pd.DataFrame:
        """Decode draws from the prior into molecules.

        Columns: ``smiles`` (canonical; empty if invalid), ``valid``, ``selfies``. With
        `valid_only`, draws that decode to no molecule are replaced by new draws (up to
        `max_rounds` times) so all `n` rows are valid; either way ``df.attrs["raw_validity"]``
        is the fraction of all draws that were valid, the number to report as validity.
        `workers` processes turn SELFIES into canonical SMILES while the network decodes the next
        batch (default: one fewer than the cores, from ``PARALLEL_MIN_ROWS`` molecules up, when the
        model is on a GPU or the machine has 8 cores or more; else none). `relax` > 0 decodes under
        SELFIES constraints relaxed by that many bonds and discards the slips RDKit refuses (see
        :class:`molvae.sampling.SampleStream`). `prior` says where the latent codes come from: "auto" (the
        model's code bank from ``molvae fit-prior`` when it has one, else N(0, I)), "normal" or "bank"
        (see :mod:`molvae.prior`); `prior_width` overrides the bank's stored width and `temperature` its
        stored decoding temperature (None: the bank's, from ``molvae fit-prior --temperature``; 1 for
        codes from N(0, I); ``df.attrs["temperature"]`` says which was used). `screen` replaces
        decoding slips (radicals, molecules the model cannot read back) like invalid draws;
        ``df.attrs["redrawn"]`` is the fraction of draws not emitted and ``df.attrs["slips"]`` counts
        the slips by reason (:class:`molvae.sampling.SampleStream`). The screen also replaces molecules
        with a ring of more than `max_ring` atoms: "auto" is the largest ring of the training molecules
        where the checkpoint records it (``molvae fit-prior`` does), None or "none" sets no limit. For millions of
        molecules, :meth:`sample_to_csv` writes them without holding them all.
        """
        self._warn_if_not_the_sampling_model()
        stream = SampleStream(self, n, temperature, greedy, batch_size, seed, valid_only, max_rounds, workers, progress,
                              relax, prior, prior_width, screen, max_ring)
        chunks = list(stream)
        df = pd.concat(chunks, ignore_index=True) if chunks else pd.DataFrame(columns=["smiles", "valid", "selfies"])
        df.attrs["raw_validity"] = stream.raw_validity
        df.attrs["redrawn"] = stream.redrawn
        df.attrs["slips"] = dict(stream.slips)
        df.attrs["prior"] = stream.codes
        df.attrs["temperature"] = stream.temperature
        return df

    def sample_to_csv(self, path: str | os.PathLike, n: int, temperature: float | None = None, greedy: bool = False,
                      batch_size: int = 1024, seed: int | None = None, valid_only: bool = True,
                      max_rounds: int = 20, workers: int | None = None, progress: bool = False,
                      properties: str | Sequence[str] | None = (), relax: int = 0, prior: str = "auto",
                      prior_width: float | None = None, screen: bool = True, max_ring: int | str | None = "auto") -> dict[str, float]:
        """:meth:`sample` streamed into a file batch by batch (molecules are not kept;
        only a hash of each, for the uniqueness count): CSV, TSV or SDF as `path`'s extension says
        (:class:`molvae.io.MoleculeWriter`). `properties` names RDKit properties to add as columns
        (see :mod:`molvae.properties`; ``None``: the default set, empty: none).

        Returns a summary: n, raw_validity, redrawn (the fraction of draws not emitted), slips (screened
        decoding slips by reason), unique_of_valid (distinct canonical SMILES among the valid rows),
        seconds, mol_per_s, prior (where the codes came from: "normal", or "bank" at its width), temperature
        (the decoding temperature used), max_ring (the ring limit screened with, or None).
        """
        from molvae import properties as props

        names = props.resolve(properties)
        self._warn_if_not_the_sampling_model()
        start = time.perf_counter()
        stream = SampleStream(self, n, temperature, greedy, batch_size, seed, valid_only, max_rounds, workers, progress,
                              relax, prior, prior_width, screen, max_ring)
        seen: set[int] = set()  # hashes, not strings: uniqueness of millions in little memory
        rows = valid = 0
        with MoleculeWriter(path, "smiles", columns=["smiles", "valid", "selfies", *names]) as out:
            for chunk in stream:
                if names:
                    values = props.compute(chunk.smiles.where(chunk.valid, None).tolist(), names, workers=1)
                    chunk = pd.concat([chunk.reset_index(drop=True), values.round(4)], axis=1)
                out.write(chunk)
                rows += len(chunk)
                ok = chunk.smiles[chunk.valid]
                valid += len(ok)
                seen.update(hash(x) for x in ok)
        seconds = time.perf_counter() - start
        return {"n": rows, "raw_validity": round(stream.raw_validity, 4), "redrawn": round(stream.redrawn, 5),
                "slips": dict(stream.slips.most_common()),
                "unique_of_valid": round(len(seen) / max(valid, 1), 4), "seconds": round(seconds, 2),
                "mol_per_s": round(rows / max(seconds, 1e-9), 1), "prior": prior_label(stream.codes),
                "temperature": stream.temperature, "max_ring": stream.max_ring}

    def _warn_if_not_the_sampling_model(self) -> None:
        """Sampling from the shipped model that ``MolVAE.load()`` gives by default (for the latent
        tools) is not what ``molvae sample`` does: say so, and how to get that model."""
        if self.default_for is None or DEFAULTS[self.default_for] == DEFAULTS["sample"]:
            return
        mine, theirs = DEFAULTS[self.default_for], DEFAULTS["sample"]
        warnings.warn(f"sampling from {mine}, the shipped model MolVAE.load() gives for encoding and reconstruction; "
                      f"`molvae sample` samples from {theirs}, whose samples are closer to the training data: "
                      f'load it with MolVAE.load(use="sample"), or name a model (MolVAE.load("{mine}")) to sample '
                      "from it without this warning", UserWarning, stacklevel=3)

    def encode(self, smiles: str | Sequence[str], return_logvar: bool = False, errors: str = "raise",
               batch_size: int = 1024, spellings: int = 0, seed: int = 0) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """Posterior means (n, latent_dim) for SMILES strings (and log-variances if asked); one string
        is one molecule, so ``encode("CCO")`` is (1, latent_dim).

        ``errors="raise"`` raises :class:`MolvaeError` naming the rows that cannot be encoded;
        ``errors="nan"`` gives those rows NaN instead. With `spellings` > 0 each mean is the average
        over the canonical SMILES and that many random spellings of the molecule (randomized
        SMILES, reproducible by `seed`): a steadier embedding, most useful for models trained with
        ``data.augment``; a spelling the model cannot read counts as the canonical one. The
        log-variances are always the canonical spelling's.
        """
        if errors not in ("raise", "nan"):
            raise InvalidInput(f'errors must be "raise" or "nan", got {errors!r}')
        smiles = as_smiles_list(smiles)
        mols = self.prepare(smiles)
        if errors == "raise" and len(mols.rejects):
            shown = "; ".join(f"row {r.row} ({r.input!r}): {r.reason}" for r in mols.rejects.head(5).itertuples())
            raise MolvaeError(f"{len(mols.rejects)} molecule(s) cannot be encoded: {shown}"
                              + hint("errors", " ({} gives them rows of NaN instead)"))
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
        from molvae.spellings import spelling_matrix

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
        """Latent points (n, latent_dim) -> canonical SMILES (``None`` where the decoding is invalid).
        One point (latent_dim,) is a batch of one: a list of one SMILES comes back."""
        z = np.asarray(z.detach().cpu() if isinstance(z, torch.Tensor) else z, dtype=np.float32)
        if z.ndim == 1:
            z = z[None, :]
        if z.ndim != 2 or z.shape[1] != self.config.latent_dim:
            raise InvalidInput(f"decode takes latent points of shape (n, {self.config.latent_dim}), got {z.shape}")
        z = torch.from_numpy(z).to(self.device)
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

    def reconstruct(self, smiles: str | Sequence[str], greedy: bool = True, batch_size: int = 1024,
                    spellings: int = 0, seed: int = 0, progress: bool = False) -> pd.DataFrame:
        """Encode (posterior mean; averaged over `spellings` random spellings too, see :meth:`encode`)
        then decode each SMILES. One row per input, in order (one string is one molecule: one row),
        with ``input, canonical, reconstructed, exact, reason`` (reason is set where a row was
        rejected; canonical is the molecule encoded, standardized with :attr:`standardize`),
        ``in_domain`` and ``domain_note`` (whether the molecule is like the training molecules, and
        why not: see :attr:`domain`). `progress`: a progress bar while the molecules are read."""
        smiles = as_smiles_list(smiles)
        mols = self.prepare(smiles, progress=progress)
        mu, _ = self.encode_set(mols, spellings=spellings, seed=seed, batch_size=batch_size)
        recon: list[str | None] = [None] * len(smiles)
        if len(mols):
            for row, out in zip(mols.rows, self.decode(mu, greedy=greedy, batch_size=batch_size)):
                recon[row] = out
        canonical = [""] * len(smiles)
        for row, canon in zip(mols.rows, mols.smiles):
            canonical[row] = canon
        reasons = dict(zip(mols.rejects["row"], mols.rejects["reason"]))
        table = pd.DataFrame({
            "input": smiles, "canonical": canonical, "reconstructed": [r or "" for r in recon],
            "exact": [bool(c) and c == r for c, r in zip(canonical, recon)],
            "reason": [reasons.get(i, "") for i in range(len(smiles))],
        })
        return pd.concat([table, self.domain.mark(smiles, mols)], axis=1)


# ------------------------------------------------------------------ training


__all__ = ["MolVAE", "PRETRAINED", "train"]
