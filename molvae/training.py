"""The VAE training recipe over :mod:`molvae.trainer`'s generic loop.

:func:`train` reads and preprocesses the data (once, cached), builds the model (or continues one:
``resume`` a run, or ``init_from`` another model's weights), and hands the loop three functions:
the loss (reconstruction + annealed KL with free bits and word dropout, and the property head's
error when there is one), the validation terms (best.pt is chosen by recon + beta * KL at the final
beta) and the per-epoch collapse diagnostics. Under torchrun, rank 0 preprocesses while the others
wait for its cache.
"""

from __future__ import annotations

import os
import platform
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.distributed as dist

from molvae.version import __version__
from molvae.annealing import kl_weight, word_dropout_rate
from molvae.cache import file_sha256
from molvae.chem import SELFIES_VERSION, default_constraints
from molvae.checkpoint import load_checkpoint
from molvae.config import RunConfig
from molvae.data import AUGMENT_MODES, load_molecules, MoleculeSet, sequential_batches, split_indices
from molvae.spellings import add_spellings
from molvae.device import distributed_rank, init_distributed
from molvae.errors import ConfigError, InputFileError
from molvae.io import resolve_data_path
from molvae.latent import active_units, collapse_diagnostics, collapse_warning, kl_per_dimension
from molvae.model import VAE, ModelConfig, build_model
from molvae.grow import grow_weights, grown_config, parse_growth
from molvae.prior import STATE_PREFIX as PRIOR_PREFIX
from molvae.trainer import Trainer
from molvae.vocab import Vocab

ATTACHMENTS = (PRIOR_PREFIX, "predictor.")  # checkpoint entries stored beside the network's weights


def vae_loss_fn(config: RunConfig):
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


def vae_eval_fn(config: RunConfig):
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


def diagnostics_fn(val_set: MoleculeSet, out_dir: Path, n: int = 2000, writer=None):
    """Per-epoch collapse diagnostics on up to `n` validation molecules: active units, mutual
    information, KL carried per dimension (appended to ``kl_per_dim.csv``, and drawn to TensorBoard
    when a `writer` is given), and a warning."""
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
        if writer is not None:
            from molvae.plots import kl_per_dimension_figure

            writer.add_figure("epoch/kl_per_dimension", kl_per_dimension_figure(kl, active_units(mu)), round(epoch))
        warning = collapse_warning(diag)
        if warning:
            print(f"warning (epoch {epoch:g}): {warning}", file=sys.stderr, flush=True)
        return {k: v for k, v in diag.items() if k != "kl"}

    return diagnostics


def train(config: RunConfig, out_dir: str | os.PathLike, resume: str | os.PathLike | None = None,
          progress: bool = True, overwrite: bool = False) -> Path:
    """Train a model as `config` says, writing into `out_dir`; returns the path of ``best.pt``.

    `out_dir` receives ``config.toml`` (the resolved config), ``rejects.csv`` (every training row
    not used, with its reason), ``log.csv``, ``last.pt`` (resume) and ``best.pt``. With `resume`
    (a ``last.pt``), the model and vocabulary come from that checkpoint and training continues
    where it stopped, up to ``config.train.epochs`` (:func:`molvae.config.resumed_config` gives the
    run's own settings). A folder that already holds a run is refused unless it is the one resumed,
    or `overwrite` says to replace it; two runs never write to one folder at the same time.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if distributed_rank()[0] == 0:
        lock_run_folder(out_dir)  # held until this process ends
        check_run_folder(out_dir, resume, overwrite)
    tc = config.train
    torch.manual_seed(tc.seed)
    if tc.threads > 0:
        torch.set_num_threads(tc.threads)
    start = StartingPoint.of(config, resume)
    config = start.config
    init_distributed(tc.device)
    rank, world, _ = distributed_rank()
    rank0 = rank == 0
    train_set, val_set, n_rejected = training_sets(config, start, out_dir, rank0, world, progress)
    if rank0:
        (out_dir / "config.toml").write_text(config.to_toml())
    meta = run_metadata(config, start, train_set, val_set, n_rejected, world)
    model = build_model(config.model, train_set.vocab)
    if start.weights is not None:
        model.load_state_dict(start.weights)
    elif model.property_head is not None and resume is None:
        model.property_head.y_mean.copy_(torch.from_numpy(np.nanmean(train_set.props, axis=0)))
        model.property_head.y_std.copy_(torch.from_numpy(np.nanstd(train_set.props, axis=0)).clamp(min=1e-6))
    writer = tensorboard_writer(out_dir) if tc.tensorboard and rank0 else None
    trainer = Trainer(model, vae_loss_fn(config), vae_eval_fn(config), tc, out_dir, meta, monitor="objective",
                      progress=progress, epoch_end_fn=diagnostics_fn(val_set, out_dir, writer=writer), writer=writer)
    if resume is not None:
        trainer.resume(resume)
    augment = config.data.augment
    val_order = np.argsort(val_set.lengths, kind="stable")
    val_batches = [val_order[b] for b in sequential_batches(len(val_set), 1024)]
    try:
        trainer.fit(lambda epoch: train_set.epoch_batches(epoch, tc.batch_size, tc.seed, augment),
                    lambda idx: train_set.collate_epoch(idx, augment), val_batches, val_set.collate)
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
    return out_dir / "best.pt"


def tensorboard_writer(out_dir: Path):
    """A TensorBoard writer for ``OUT/tensorboard``, or a ConfigError saying how to install it."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise ConfigError('train.tensorboard needs the tensorboard package: pip install "molvae[tensorboard]"') from None
    return SummaryWriter(log_dir=str(out_dir / "tensorboard"))


RUN_FILES = ("config.toml", "log.csv", "last.pt", "best.pt", "kl_per_dim.csv", "rejects.csv", "val_rejects.csv")
_LOCKS: dict[Path, object] = {}  # open lock files of the run folders this process trains in


def lock_run_folder(out_dir: Path) -> object:
    """An exclusive lock on `out_dir` for as long as this process lives, or a :class:`ConfigError`
    when another process holds it (two runs writing one folder would interleave their files)."""
    key = out_dir.resolve()
    if key in _LOCKS:
        return _LOCKS[key]
    try:
        import fcntl
    except ImportError:  # no advisory locks (Windows): the folder check below still applies
        return None
    handle = open(out_dir / ".molvae.lock", "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.seek(0)
        owner = handle.read().strip()
        handle.close()
        raise ConfigError(f"another molvae train is writing to {out_dir}" + (f" (process {owner})" if owner else "")
                          + "; wait for it to end or choose another folder with -o") from None
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    _LOCKS[key] = handle
    return handle


def check_run_folder(out_dir: Path, resume: str | os.PathLike | None, overwrite: bool) -> None:
    """Refuse to start a run in a folder that holds another one, unless it is the run resumed or
    `overwrite` asks for a fresh start (then the old run's files are removed)."""
    present = [name for name in RUN_FILES if (out_dir / name).exists()]
    if not present:
        return
    if resume is not None and Path(resume).resolve().parent == out_dir.resolve():
        return
    if overwrite:
        for name in present:
            (out_dir / name).unlink()
        return
    how = (f"the run resumed from {resume} continues in its own folder, {Path(resume).parent}" if resume is not None
           else f"continue it with --resume {out_dir / 'last.pt'}")
    raise ConfigError(f"{out_dir} already holds a run ({', '.join(present)}): {how}, "
                      "or pass --overwrite to replace it")


@dataclass
class StartingPoint:
    """What a run starts from: a fresh model, a run to resume, or another model's weights
    (``train.init_from``). A checkpoint decides the model's shape, vocabulary and SELFIES constraints."""

    config: RunConfig
    constraints: dict[str, int]
    vocab: Vocab | None = None
    weights: dict[str, torch.Tensor] | None = None  # set for init_from only; a resume restores its own
    source: Path | None = None

    @classmethod
    def of(cls, config: RunConfig, resume: str | os.PathLike | None) -> "StartingPoint":
        source = resume if resume is not None else config.train.init_from
        if config.train.grow and not config.train.init_from and resume is None:
            raise ConfigError("train.grow needs train.init_from: the model to grow")
        if not source:
            return cls(config, default_constraints())
        payload = load_checkpoint(source)
        meta = payload["meta"]
        config = replace(config, model=ModelConfig(**meta["model_config"]))  # the weights decide the model
        # the network's weights only: a code bank (``prior.*``) or a fitted predictor (``predictor.*``)
        # stored with the model describes the old network's latent space, not the one about to train
        weights = None if resume is not None else {k: v.float() for k, v in payload["state_dict"].items()
                                                   if not k.startswith(ATTACHMENTS)}
        if weights is not None and config.train.grow:  # at the start only: a resumed run's checkpoint is grown
            grown = grown_config(config.model, parse_growth(config.train.grow))
            weights = grow_weights(weights, config.model, grown, torch.Generator().manual_seed(config.train.seed))
            config = replace(config, model=grown)
        return cls(config, meta["selfies"]["constraints"], Vocab(meta["vocab"]), weights, Path(source))


def training_sets(config: RunConfig, start: StartingPoint, out_dir: Path, rank0: bool, world: int,
                  progress: bool) -> tuple[MoleculeSet, MoleculeSet, int]:
    """(train, validation, rows rejected) as `config` says: preprocessed (cached), spellings added
    for augmentation, property values added for a property head. Rejects go to ``rejects.csv``."""
    dc, tc = config.data, config.train
    if dc.augment not in AUGMENT_MODES:
        raise ConfigError(f"data.augment must be one of {', '.join(AUGMENT_MODES)}, got {dc.augment!r}")
    head_names = config.model.property_names
    if head_names:
        from molvae.properties import molecule_properties, resolve

        resolve(head_names)  # unknown names: a ConfigError before any work
    train_path = resolve_data_path(dc.train)
    progress = progress and rank0
    # Under torchrun, rank 0 preprocesses (filling the cache) while the others wait, then read it.
    if world > 1 and not rank0:
        dist.barrier()
    load = dict(column=dc.smiles_column, max_len=config.model.max_len, constraints=start.constraints,
                cache_dir=dc.cache_dir, workers=dc.workers or None, progress=progress,
                largest_fragment=dc.largest_fragment, standardize=dc.standardize)
    # Without a vocabulary first: a resumed run then hits the cache entry its first session made.
    molecules = load_molecules(train_path, limit=dc.limit or None, seed=tc.seed, **load)
    if start.vocab is not None and molecules.vocab != start.vocab:
        molecules = load_molecules(train_path, vocab=start.vocab, limit=dc.limit or None, seed=tc.seed, **load)
    if world > 1 and rank0:
        dist.barrier()
    if rank0:
        molecules.rejects.to_csv(out_dir / "rejects.csv", index=False)
    if dc.augment != "none":
        add_spellings(molecules, dc.augment_spellings, max_len=config.model.max_len, seed=tc.seed,
                      constraints=start.constraints, cache_dir=dc.cache_dir, workers=dc.workers or None,
                      progress=progress)
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
    for part in (train_set, val_set) if head_names else ():
        part.props = molecule_properties(part.smiles, head_names, dc.cache_dir, dc.workers or None, progress)
    return train_set, val_set, len(molecules.rejects)


def run_metadata(config: RunConfig, start: StartingPoint, train_set: MoleculeSet, val_set: MoleculeSet,
                 n_rejected: int, world: int) -> dict:
    """What every checkpoint of the run says about what made it."""
    train_path = resolve_data_path(config.data.train)
    meta = {
        "model_config": asdict(config.model), "vocab": train_set.vocab.tokens,
        "selfies": {"version": SELFIES_VERSION, "constraints": dict(start.constraints)},
        "run_config": config.to_dict(),
        "data": {"train": str(train_path), "train_sha256": file_sha256(train_path), "n_train": len(train_set),
                 "n_val": len(val_set), "n_rejected": n_rejected},
        "world_size": world,
        "software": {"molvae": __version__, "torch": torch.__version__, "python": platform.python_version()},
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    if start.weights is not None:
        meta["init_from"] = {"path": str(start.source.resolve()), "sha256": file_sha256(start.source)}
    return meta
