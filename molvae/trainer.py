"""A generic training loop: optimizer, progress bar, per-epoch log, checkpoints and resume.

The loop knows the model only through two functions it is given: ``loss_fn(model, batch, t)``
returning a dict of scalar tensors with a ``"loss"`` entry (``t`` is progress in epochs), and
``eval_fn(model, batch)`` returning a dict of scalar tensors for validation. It does not know
what a SELFIES is.

Batches for epoch ``e`` come from ``batches(e)``, a list of index arrays that must be the same
whenever it is called with the same ``e`` (seeded): that is what makes mid-epoch resume exact.

Speed: mixed precision (bf16 autocast on CPUs with native bf16; bf16 or fp16 with loss scaling on
GPUs when asked), optional ``torch.compile``, batches that stay on the CPU until the
step needs them, and no host-device synchronisation per step on a GPU (metrics are summed on
the device and read every few steps).

Scale: under ``torchrun`` (``WORLD_SIZE`` > 1) the model is wrapped in DistributedDataParallel
(NCCL on GPUs, gloo on CPUs); each rank takes every WORLD_SIZE-th batch of the same seeded epoch,
so one optimizer step sees WORLD_SIZE x batch_size molecules; rank 0 alone logs, evaluates and
writes checkpoints, and every rank resumes from the same ``last.pt``.
"""

from __future__ import annotations

import csv
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from tqdm.auto import tqdm

from molvae.checkpoint import load_checkpoint, save_checkpoint
from molvae.device import autocast, distributed_rank, init_distributed, resolve_precision
from molvae.errors import CheckpointError, ConfigError, TrainingDiverged

Batch = dict[str, torch.Tensor]
LOG_EVERY = 50  # steps between the scalars written to TensorBoard


@dataclass
class TrainConfig:
    """Optimization and bookkeeping. Saved in every checkpoint."""

    epochs: int = field(default=10, metadata={"help": "number of passes over the training set"})
    batch_size: int = field(default=256, metadata={"help": "molecules per optimizer step"})
    lr: float = field(default=1e-3, metadata={"help": "AdamW learning rate (the peak, with lr_schedule cosine)"})
    lr_schedule: str = field(default="constant", metadata={"help": (
        "constant, or cosine: a linear warm-up over lr_warmup_epochs, then a cosine decay to lr x lr_final at the "
        "end of the run's epochs (changing epochs on resume stretches the decay from that point on)")})
    lr_warmup_epochs: float = field(default=0.0, metadata={"help": (
        "epochs of linear learning-rate warm-up from zero (cosine only; a fine-tune's fresh optimizer wants a "
        "little)")})
    lr_final: float = field(default=0.1, metadata={"help": "cosine: the last learning rate as a fraction of lr"})
    weight_decay: float = field(default=1e-4, metadata={"help": "AdamW weight decay"})
    grad_clip: float = field(default=5.0, metadata={"help": "clip the gradient norm to this (0 = off)"})
    seed: int = field(default=0, metadata={"help": "random seed: the same seed repeats the run"})
    device: str = field(default="auto", metadata={"help": "auto, cpu, cuda or cuda:N"})
    threads: int = field(default=0, metadata={"help": "CPU threads for torch (0 = torch's default)"})
    checkpoint_minutes: float = field(default=5.0, metadata={"help": "write a resume checkpoint at least this often"})
    precision: str = field(default="auto", metadata={"help": (
        "auto, fp32, bf16 or fp16 (CUDA only, with loss scaling): auto is bf16 on CPUs with native bf16 "
        "(AVX512-BF16/AMX), where it is about 1.7x faster, and fp32 elsewhere (GPUs included)")})
    compile: bool = field(default=False, metadata={"help": "torch.compile the training step"})
    property_weight: float = field(default=1.0, metadata={"help": (
        "weight of the property head's loss (mean squared error on standardized properties), if the model has one")})
    tensorboard: bool = field(default=False, metadata={"help": (
        "also write TensorBoard event files to OUT/tensorboard: scalars per step and per epoch, the KL per latent "
        "dimension per epoch (needs the tensorboard extra: pip install \"molvae[tensorboard]\")")})
    init_from: str | None = field(default=None, metadata={"help": (
        "fine-tune: start from this checkpoint's weights, vocabulary and model sizes (training state, "
        "schedule and optimizer start fresh; molecules with tokens outside its vocabulary are rejected)")})
    grow: str = field(default="", metadata={"help": (
        "with init_from: grow the model first, keeping what it computes, e.g. latent_dim=128,decoder_hidden=512,"
        "decoder_layers=3 (new latent dimensions start unused, new decoder units unread, a new top layer as a "
        "near-identity; see molvae.grow)")})
    time_limit_minutes: float = field(default=0.0, metadata={"help": (
        "stop after this many minutes of training in this session, validating and saving as at an "
        "epoch's end; the run resumes mid-epoch from last.pt (0 = no limit)")})
    snapshot_epochs: float = field(default=0.0, metadata={"help": (
        "also keep the weights every this many epochs as OUT/snapshots/stepN.pt (weights only: 8.4 MB each at "
        "the default sizes), "
        "e.g. to score a learning curve later (0 = off)")})
    stop_at_step: int = field(default=0, metadata={"help": (
        "stop once the run has made this many optimizer steps in all (resumes included), validating and saving "
        "as at an epoch's end: a checkpoint at an exact point of a run, e.g. to reproduce a release (0 = none)")})


def learning_rate(cfg: TrainConfig, t: float) -> float:
    """The learning rate at progress `t` (epochs since the run started) under ``cfg.lr_schedule``."""
    if cfg.lr_schedule == "constant":
        return cfg.lr
    if t < cfg.lr_warmup_epochs:
        return cfg.lr * t / cfg.lr_warmup_epochs
    span = max(cfg.epochs - cfg.lr_warmup_epochs, 1e-9)
    done = min(max((t - cfg.lr_warmup_epochs) / span, 0.0), 1.0)
    return cfg.lr * (cfg.lr_final + (1 - cfg.lr_final) * 0.5 * (1 + math.cos(math.pi * done)))


def check_train_config(cfg: TrainConfig) -> None:
    """A :class:`ConfigError` for a learning-rate schedule or snapshot interval that cannot run."""
    if cfg.lr_schedule not in ("constant", "cosine"):
        raise ConfigError(f"lr_schedule must be constant or cosine, got {cfg.lr_schedule!r}")
    if cfg.lr_warmup_epochs < 0 or not 0 <= cfg.lr_final <= 1:
        raise ConfigError(f"lr_warmup_epochs must be >= 0 and lr_final in [0, 1], got {cfg.lr_warmup_epochs} "
                          f"and {cfg.lr_final}")
    if cfg.snapshot_epochs < 0:
        raise ConfigError(f"snapshot_epochs must be >= 0, got {cfg.snapshot_epochs}")


class _Means:
    """Running means of scalar metrics, weighted by batch size. Sums stay on the metrics' device
    (adding does not wait for the GPU); reading them does."""

    def __init__(self, sums: dict[str, float] | None = None, n: int = 0):
        self.sums: dict[str, Any] = dict(sums or {})
        self.n = n

    def add(self, values: dict[str, torch.Tensor], n: int) -> None:
        for k, v in values.items():
            if v.dim() == 0:
                self.sums[k] = self.sums.get(k, 0.0) + v.detach().float() * n
        self.n += n

    def plain_sums(self) -> dict[str, float]:
        return {k: float(v) for k, v in self.sums.items()}

    def means(self) -> dict[str, float]:
        return {k: v / max(self.n, 1) for k, v in self.plain_sums().items()}

    def all_reduce(self, device: torch.device) -> None:
        """Sum over the ranks of the process group (same keys on every rank)."""
        keys = sorted(self.sums)
        t = torch.tensor([float(self.n)] + [float(self.sums[k]) for k in keys], dtype=torch.float64, device=device)
        dist.all_reduce(t)
        self.n = int(t[0])
        self.sums = dict(zip(keys, t[1:].tolist()))


class Trainer:
    """Trains `model` and writes ``last.pt`` (resume), ``best.pt`` (lowest validation
    `monitor`) and ``log.csv`` into `out_dir`. `meta` is plain data stored in every checkpoint
    (what the model is: config, vocabulary, ...)."""

    def __init__(
        self,
        model: torch.nn.Module,
        loss_fn: Callable[[torch.nn.Module, Batch, float], dict[str, torch.Tensor]],
        eval_fn: Callable[[torch.nn.Module, Batch], dict[str, torch.Tensor]],
        config: TrainConfig,
        out_dir: str | Path,
        meta: dict,
        monitor: str = "loss",
        progress: bool = True,
        epoch_end_fn: Callable[[torch.nn.Module, float], dict[str, float]] | None = None,
        writer: Any = None,
    ):
        self.cfg, self.out_dir, self.meta = config, Path(out_dir), meta
        self.epoch_end_fn = epoch_end_fn  # extra validation figures (rank 0, eval mode), e.g. diagnostics
        self.rank, self.world, _ = distributed_rank()
        # a TensorBoard SummaryWriter (or anything with add_scalar/flush/close): scalars every
        # LOG_EVERY steps under step/ and each log.csv row under epoch/, on rank 0
        self.writer = writer if self.rank == 0 else None
        self.device = init_distributed(config.device)
        self.precision = resolve_precision(config.precision, self.device)
        self.model = model.to(self.device)
        # What the step calls: the model itself, or its DDP / compiled wrapper (same weights).
        self.step_model: torch.nn.Module = self.model
        if self.world > 1:
            torch.manual_seed(config.seed * 1009 + self.rank)  # same weights (DDP broadcasts), own noise
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.step_model = torch.nn.parallel.DistributedDataParallel(self.model, device_ids=ids)
        if config.compile:
            self.step_model = torch.compile(self.step_model, dynamic=True)  # batches vary in length
        check_train_config(config)
        self.loss_fn, self.eval_fn, self.monitor = loss_fn, eval_fn, monitor
        self.progress = progress and self.rank == 0
        self.optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.precision == torch.float16)
        self.epoch, self.batch_in_epoch, self.step = 0, 0, 0
        self.best = math.inf
        self.history: list[dict[str, float]] = []
        self.partial = _Means()
        self.elapsed = 0.0  # training seconds over all sessions of this run
        self.rank_molecules = 0  # molecules this process trained on in this session
        self._tick = time.monotonic()

    # -------------------------------------------------------------- state

    def _training_state(self) -> dict[str, Any]:
        state = {
            "optimizer": self.optimizer.state_dict(), "epoch": self.epoch, "batch_in_epoch": self.batch_in_epoch,
            "step": self.step, "best": self.best, "history": self.history, "elapsed": self.elapsed,
            "partial_sums": self.partial.plain_sums(), "partial_n": self.partial.n, "rng_cpu": torch.get_rng_state(),
            "world_size": self.world, "scaler": self.scaler.state_dict(),
        }
        if torch.cuda.is_available():
            state["rng_cuda"] = torch.cuda.get_rng_state_all()
        return state

    def _account_time(self) -> None:
        now = time.monotonic()
        self.elapsed += now - self._tick
        self._tick = now

    def save(self, name: str, with_training: bool = True, **extra: Any) -> Path:
        """Write a checkpoint (rank 0 only: the weights are the same on every rank); `extra` goes into its meta."""
        self._account_time()
        path = self.out_dir / name
        if self.rank != 0:
            return path
        state_dict = {k: v.detach().cpu() for k, v in self.model.state_dict().items()}
        meta = dict(self.meta, epoch=self.epoch, step=self.step, history=self.history, elapsed_s=round(self.elapsed, 1),
                    **extra)
        return save_checkpoint(path, meta, state_dict, self._training_state() if with_training else None)

    def resume(self, path: str | Path) -> None:
        """Restore weights, optimizer, progress and RNG from a ``last.pt``."""
        payload = load_checkpoint(path)
        t = payload.get("training")
        if not t:
            raise CheckpointError(f"{path} has no training state to resume from (use a last.pt, not a best.pt)")
        if t.get("world_size", 1) != self.world and t["batch_in_epoch"]:
            raise CheckpointError(
                f"{path} stopped mid-epoch in a run of {t.get('world_size', 1)} process(es); resume it with the "
                f"same number of processes (this run has {self.world}), or from an end-of-epoch checkpoint")
        self.model.load_state_dict(payload["state_dict"])
        self.optimizer.load_state_dict(t["optimizer"])
        if "scaler" in t:
            self.scaler.load_state_dict(t["scaler"])
        self.epoch, self.batch_in_epoch, self.step = t["epoch"], t["batch_in_epoch"], t["step"]
        self.best, self.history, self.elapsed = t["best"], list(t["history"]), t.get("elapsed", 0.0)
        # Only rank 0's share of an interrupted epoch was saved; the others start their share afresh.
        self.partial = _Means(t["partial_sums"], t["partial_n"]) if self.rank == 0 else _Means()
        torch.set_rng_state(t["rng_cpu"])
        if "rng_cuda" in t and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(t["rng_cuda"])
        if self.world > 1:
            torch.manual_seed(self.cfg.seed * 1009 + self.rank + 7919 * self.step)

    # -------------------------------------------------------------- loop

    def fit(
        self,
        batches: Callable[[int], Sequence[np.ndarray]],
        collate: Callable[[np.ndarray], Batch],
        val_batches: Sequence[np.ndarray],
        val_collate: Callable[[np.ndarray], Batch] | None = None,
    ) -> list[dict[str, float]]:
        """Train until ``config.epochs``; returns the per-epoch history. `val_collate` defaults
        to `collate` (when validation batches index the same data)."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self._tick = time.monotonic()
        try:
            self._fit(batches, collate, val_batches, val_collate or collate)
        except KeyboardInterrupt:
            # Progress up to the last finished step is kept; the run resumes from here.
            path = self.save("last.pt")
            if self.rank == 0:
                tqdm.write(f"interrupted: progress saved in {path}; continue with --resume {path}")
            raise
        finally:
            if self.writer is not None:
                self.writer.close()
        if self.world > 1:
            print(f"rank {self.rank}/{self.world}: trained on {self.rank_molecules} molecules, "
                  f"{self.step} steps", file=sys.stderr, flush=True)
        return self.history

    def _shard(self, epoch_batches: Sequence[np.ndarray]) -> Sequence[np.ndarray]:
        """This rank's batches: every WORLD_SIZE-th, the same count on every rank (DDP steps together)."""
        if self.world == 1:
            return epoch_batches
        per_rank = len(epoch_batches) // self.world
        return list(epoch_batches[self.rank :: self.world])[:per_rank]

    def _out_of_time(self, session_start: float) -> bool:
        """The time limit, decided together by all ranks (a rank must not stop alone)."""
        limit = self.cfg.time_limit_minutes
        if limit <= 0:
            return False
        late = time.monotonic() - session_start > 60 * limit
        if self.world == 1:
            return late
        if self.step % 20:
            return False
        flag = torch.tensor([float(late)], device=self.device)
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        return bool(flag.item())

    def _at_step_limit(self) -> bool:
        return 0 < self.cfg.stop_at_step <= self.step

    def _fit(self, batches, collate, val_batches, val_collate) -> None:
        last_save = session_start = time.monotonic()
        if 0 < self.cfg.stop_at_step < self.step:
            raise ConfigError(f"the run resumed is at step {self.step}, past stop_at_step = {self.cfg.stop_at_step}: "
                              "it cannot go back; resume with --stop-at-step 0 (no limit) or a later step")
        if self._at_step_limit():
            return self._stopped_early()
        while self.epoch < self.cfg.epochs:
            epoch_batches = self._shard(batches(self.epoch))
            n_batches = len(epoch_batches)
            bar = tqdm(total=n_batches, initial=self.batch_in_epoch, desc=f"epoch {self.epoch + 1}/{self.cfg.epochs}",
                       unit="batch", disable=not self.progress, dynamic_ncols=True)
            self.model.train()
            epoch_start, start_mols = time.monotonic(), self.partial.n
            data_s = 0.0
            while self.batch_in_epoch < n_batches:
                tick = time.perf_counter()
                batch = self._to_device(collate(epoch_batches[self.batch_in_epoch]))
                data_s += time.perf_counter() - tick
                self._train_step(batch, self.epoch + self.batch_in_epoch / n_batches)
                self.batch_in_epoch += 1
                self._maybe_snapshot(n_batches)
                if self.writer is not None and self.step % LOG_EVERY == 0:
                    self._log_step()
                bar.update(1)
                if bar.n % 10 == 0 or self.batch_in_epoch == n_batches:
                    bar.set_postfix({k: f"{v:.3g}" for k, v in self.partial.means().items()}, refresh=False)
                if time.monotonic() - last_save > 60 * self.cfg.checkpoint_minutes:
                    self.save("last.pt")
                    last_save = time.monotonic()
                if self.batch_in_epoch < n_batches and (self._at_step_limit() or self._out_of_time(session_start)):
                    bar.close()
                    self._record(val_batches, val_collate, time.monotonic() - epoch_start, self.partial.n - start_mols,
                                 data_s, self.epoch + self.batch_in_epoch / n_batches)
                    self.save("last.pt")
                    return self._stopped_early()
            bar.close()
            seconds = time.monotonic() - epoch_start
            self._record(val_batches, val_collate, seconds, self.partial.n - start_mols, data_s, self.epoch + 1)
            self.epoch, self.batch_in_epoch, self.partial = self.epoch + 1, 0, _Means()
            self.save("last.pt")
            if self.world > 1:
                dist.barrier()  # the others wait while rank 0 validates and writes
            if self.epoch < self.cfg.epochs and (self._at_step_limit() or self._out_of_time(session_start)):
                return self._stopped_early()
            last_save = time.monotonic()

    def _maybe_snapshot(self, n_batches: int) -> None:
        """Keep the weights as snapshots/stepN.pt each time progress crosses a multiple of snapshot_epochs."""
        every = self.cfg.snapshot_epochs
        if every <= 0:
            return
        progress = self.epoch + self.batch_in_epoch / n_batches
        if math.floor(progress / every + 1e-9) > math.floor((progress - 1 / n_batches) / every + 1e-9):
            self.save(f"snapshots/step{self.step}.pt", with_training=False, progress=round(progress, 6),
                      lr=self.optimizer.param_groups[0]["lr"])

    def _stopped_early(self) -> None:
        if self.progress:
            last = self.out_dir / "last.pt"
            if self._at_step_limit():
                tqdm.write(f"step {self.step} reached (stop_at_step); continue with --resume {last} "
                           "--stop-at-step 0 (no limit) or a later step")
            else:
                tqdm.write(f"time limit of {self.cfg.time_limit_minutes:g} min reached; resume from {last}")

    def _train_step(self, batch: Batch, t: float) -> None:
        """One optimizer step on `batch` at progress `t` (epochs)."""
        for group in self.optimizer.param_groups:
            group["lr"] = learning_rate(self.cfg, t)
        with autocast(self.device, self.precision):
            out = self.loss_fn(self.step_model, batch, t)
        loss = out["loss"]
        # One process checks its loss before the update; under DDP a rank must not stop alone, so
        # the check is on the gradient norm, which the all-reduce makes the same on every rank.
        # On a GPU the check waits for the device, so it is made every 10th step there.
        check = self.device.type != "cuda" or self.step % 10 == 0
        if self.world == 1 and check and not self.scaler.is_enabled() and not bool(torch.isfinite(loss)):
            self._diverged(loss)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.unscale_(self.optimizer)
        norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.grad_clip if self.cfg.grad_clip > 0 else math.inf)
        if self.world > 1 and not bool(torch.isfinite(norm)):
            self._diverged(loss)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.step += 1
        self.partial.add(out, len(batch["lengths"]))
        self.rank_molecules += len(batch["lengths"])

    def _log_step(self) -> None:
        """The epoch's running means and the throughput since the last call, as step/ scalars."""
        now, n = time.monotonic(), self.rank_molecules
        last_time, last_n = getattr(self, "_last_log", (self._tick, 0))
        for key, value in self.partial.means().items():
            self.writer.add_scalar(f"step/{key}", value, self.step)
        if now > last_time and n > last_n:
            self.writer.add_scalar("step/molecules_per_s", (n - last_n) / (now - last_time), self.step)
        self._last_log = (now, n)

    def _diverged(self, loss: torch.Tensor) -> None:
        last = self.out_dir / "last.pt"
        kept = (f"; the last good checkpoint, {last}, is kept: change a setting and continue with --resume {last}"
                if last.is_file() else "")
        raise TrainingDiverged(
            f"non-finite loss or gradient (loss {loss.detach().item()}) at epoch {self.epoch + 1}, step {self.step}: "
            "lower --lr, set --grad-clip, use --precision fp32, or check the data" + kept
        )

    def _record(self, val_batches, collate, seconds: float, n_mols: int, data_s: float, epoch: float) -> None:
        """Log row for training up to `epoch` (fractional when a time limit ends it early):
        validation, log.csv and best.pt on rank 0."""
        self._account_time()
        partial = _Means(dict(self.partial.sums), self.partial.n)  # a resumed epoch goes on from the rank's own
        if self.world > 1:
            partial.all_reduce(self.device)
            n_mols *= self.world  # every rank ran the same number of batches
        row = {"epoch": round(epoch, 4), "step": self.step, "elapsed_s": round(self.elapsed, 1),
               "train_mol_per_s": round(n_mols / max(seconds, 1e-9), 1),
               "data_wait_fraction": round(data_s / max(seconds, 1e-9), 4),
               "lr": self.optimizer.param_groups[0]["lr"]}
        row.update({f"train_{k}": v for k, v in partial.means().items()})
        if self.rank == 0:
            row.update({f"val_{k}": v for k, v in self.evaluate(val_batches, collate).items()})
            if self.epoch_end_fn is not None:
                self.model.eval()
                with torch.no_grad(), autocast(self.device, self.precision):
                    row.update({f"val_{k}": v for k, v in self.epoch_end_fn(self.model, epoch).items()})
                self.model.train()
        self.history.append(row)
        if self.writer is not None:
            for key, value in row.items():
                if isinstance(value, (int, float)) and key not in ("step",):
                    self.writer.add_scalar(f"epoch/{key}", value, self.step)
            self.writer.flush()
        if self.rank == 0:
            self._write_log()
            if self.progress:
                shown = {k: (f"{v:.4g}" if isinstance(v, float) else v) for k, v in row.items()}
                tqdm.write("  ".join(f"{k}={v}" for k, v in shown.items()))
            # Without validation data, the best model is the one with the lowest training loss.
            val = row.get(f"val_{self.monitor}", row.get("train_loss", math.inf))
            if val < self.best:
                self.best = val
                self.save("best.pt", with_training=False)

    @torch.no_grad()
    def evaluate(self, val_batches: Sequence[np.ndarray], collate) -> dict[str, float]:
        """Mean of ``eval_fn`` over the validation batches (model in eval mode)."""
        if not len(val_batches):
            return {}
        self.model.eval()
        means = _Means()
        for idx in val_batches:
            batch = self._to_device(collate(idx))
            with autocast(self.device, self.precision):
                means.add(self.eval_fn(self.model, batch), len(batch["lengths"]))
        self.model.train()
        return means.means()

    def _to_device(self, batch: Batch) -> Batch:
        # Lengths stay on the CPU: packing sequences reads them there, and moving them back would
        # make every step wait for the GPU.
        return {k: v if k == "lengths" else v.to(self.device, non_blocking=True) for k, v in batch.items()}

    def _write_log(self) -> None:
        keys = list(dict.fromkeys(k for row in self.history for k in row))
        with open(self.out_dir / "log.csv", "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=keys)
            writer.writeheader()
            writer.writerows(self.history)
