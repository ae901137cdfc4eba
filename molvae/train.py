"""A generic training loop: optimizer, progress bar, per-epoch log, checkpoints and resume.

The loop knows the model only through two functions it is given: ``loss_fn(model, batch, t)``
returning a dict of scalar tensors with a ``"loss"`` entry (``t`` is progress in epochs), and
``eval_fn(model, batch)`` returning a dict of scalar tensors for validation. It does not know
what a SELFIES is.

Batches for epoch ``e`` come from ``batches(e)``, a list of index arrays that must be the same
whenever it is called with the same ``e`` (seeded): that is what makes mid-epoch resume exact.
"""

from __future__ import annotations

import csv
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from molvae.checkpoint import load_checkpoint, save_checkpoint
from molvae.errors import CheckpointError, TrainingDiverged

Batch = dict[str, torch.Tensor]


@dataclass
class TrainConfig:
    """Optimization and bookkeeping. Saved in every checkpoint."""

    epochs: int = field(default=10, metadata={"help": "number of passes over the training set"})
    batch_size: int = field(default=256, metadata={"help": "molecules per optimizer step"})
    lr: float = field(default=1e-3, metadata={"help": "AdamW learning rate"})
    weight_decay: float = field(default=1e-4, metadata={"help": "AdamW weight decay"})
    grad_clip: float = field(default=5.0, metadata={"help": "clip the gradient norm to this (0 = off)"})
    seed: int = field(default=0, metadata={"help": "random seed: the same seed repeats the run"})
    device: str = field(default="auto", metadata={"help": "auto, cpu, cuda or cuda:N"})
    threads: int = field(default=0, metadata={"help": "CPU threads for torch (0 = torch's default)"})
    checkpoint_minutes: float = field(default=5.0, metadata={"help": "write a resume checkpoint at least this often"})


def resolve_device(name: str) -> torch.device:
    """'auto' -> CUDA when present, else CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


class _Means:
    """Running means of scalar metrics, weighted by batch size."""

    def __init__(self, sums: dict[str, float] | None = None, n: int = 0):
        self.sums, self.n = dict(sums or {}), n

    def add(self, values: dict[str, torch.Tensor], n: int) -> None:
        for k, v in values.items():
            if v.dim() == 0:
                self.sums[k] = self.sums.get(k, 0.0) + float(v) * n
        self.n += n

    def means(self) -> dict[str, float]:
        return {k: v / max(self.n, 1) for k, v in self.sums.items()}


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
    ):
        self.cfg, self.out_dir, self.meta = config, Path(out_dir), meta
        self.device = resolve_device(config.device)
        self.model = model.to(self.device)
        self.loss_fn, self.eval_fn, self.monitor, self.progress = loss_fn, eval_fn, monitor, progress
        self.optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        self.epoch, self.batch_in_epoch, self.step = 0, 0, 0
        self.best = math.inf
        self.history: list[dict[str, float]] = []
        self.partial = _Means()
        self.elapsed = 0.0  # training seconds over all sessions of this run
        self._tick = time.monotonic()

    # -------------------------------------------------------------- state

    def _training_state(self) -> dict[str, Any]:
        state = {
            "optimizer": self.optimizer.state_dict(), "epoch": self.epoch, "batch_in_epoch": self.batch_in_epoch,
            "step": self.step, "best": self.best, "history": self.history, "elapsed": self.elapsed,
            "partial_sums": self.partial.sums, "partial_n": self.partial.n, "rng_cpu": torch.get_rng_state(),
        }
        if torch.cuda.is_available():
            state["rng_cuda"] = torch.cuda.get_rng_state_all()
        return state

    def _account_time(self) -> None:
        now = time.monotonic()
        self.elapsed += now - self._tick
        self._tick = now

    def save(self, name: str, with_training: bool = True) -> Path:
        self._account_time()
        state_dict = {k: v.detach().cpu() for k, v in self.model.state_dict().items()}
        meta = dict(self.meta, epoch=self.epoch, step=self.step, history=self.history)
        return save_checkpoint(self.out_dir / name, meta, state_dict, self._training_state() if with_training else None)

    def resume(self, path: str | Path) -> None:
        """Restore weights, optimizer, progress and RNG from a ``last.pt``."""
        payload = load_checkpoint(path)
        t = payload.get("training")
        if not t:
            raise CheckpointError(f"{path} has no training state to resume from (use a last.pt, not a best.pt)")
        self.model.load_state_dict(payload["state_dict"])
        self.optimizer.load_state_dict(t["optimizer"])
        self.epoch, self.batch_in_epoch, self.step = t["epoch"], t["batch_in_epoch"], t["step"]
        self.best, self.history, self.elapsed = t["best"], list(t["history"]), t.get("elapsed", 0.0)
        self.partial = _Means(t["partial_sums"], t["partial_n"])
        torch.set_rng_state(t["rng_cpu"])
        if "rng_cuda" in t and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(t["rng_cuda"])

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
            tqdm.write(f"interrupted: progress saved in {path}; continue with --resume {path}")
            raise
        return self.history

    def _fit(self, batches, collate, val_batches, val_collate) -> None:
        last_save = time.monotonic()
        while self.epoch < self.cfg.epochs:
            epoch_batches = batches(self.epoch)
            n_batches = len(epoch_batches)
            bar = tqdm(total=n_batches, initial=self.batch_in_epoch, desc=f"epoch {self.epoch + 1}/{self.cfg.epochs}",
                       unit="batch", disable=not self.progress, dynamic_ncols=True)
            self.model.train()
            epoch_start, start_mols = time.monotonic(), self.partial.n
            while self.batch_in_epoch < n_batches:
                batch = self._to_device(collate(epoch_batches[self.batch_in_epoch]))
                t = self.epoch + self.batch_in_epoch / n_batches
                out = self.loss_fn(self.model, batch, t)
                loss = out["loss"]
                if not torch.isfinite(loss):
                    raise TrainingDiverged(
                        f"non-finite loss ({loss.detach().item()}) at epoch {self.epoch + 1}, step {self.step}: "
                        "lower --lr, set --grad-clip, or check the data"
                    )
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if self.cfg.grad_clip > 0:
                    torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.grad_clip)
                self.optimizer.step()
                self.step += 1
                self.batch_in_epoch += 1
                self.partial.add({k: v.detach() for k, v in out.items()}, len(batch["lengths"]))
                bar.update(1)
                if bar.n % 10 == 0 or self.batch_in_epoch == n_batches:
                    bar.set_postfix({k: f"{v:.3g}" for k, v in self.partial.means().items()}, refresh=False)
                if time.monotonic() - last_save > 60 * self.cfg.checkpoint_minutes:
                    self.save("last.pt")
                    last_save = time.monotonic()
            bar.close()
            seconds = time.monotonic() - epoch_start
            self._end_epoch(val_batches, val_collate, (self.partial.n - start_mols) / max(seconds, 1e-9))
            last_save = time.monotonic()

    def _end_epoch(self, val_batches, collate, mol_per_s: float) -> None:
        self._account_time()
        row = {"epoch": self.epoch + 1, "step": self.step, "elapsed_s": round(self.elapsed, 1),
               "train_mol_per_s": round(mol_per_s, 1)}
        row.update({f"train_{k}": v for k, v in self.partial.means().items()})
        row.update({f"val_{k}": v for k, v in self.evaluate(val_batches, collate).items()})
        self.history.append(row)
        self.epoch, self.batch_in_epoch, self.partial = self.epoch + 1, 0, _Means()
        self._write_log()
        if self.progress:
            shown = {k: (f"{v:.4g}" if isinstance(v, float) else v) for k, v in row.items()}
            tqdm.write("  ".join(f"{k}={v}" for k, v in shown.items()))
        # Without validation data, the best model is the one with the lowest training loss.
        val = row.get(f"val_{self.monitor}", row.get("train_loss", math.inf))
        if val < self.best:
            self.best = val
            self.save("best.pt", with_training=False)
        self.save("last.pt")

    @torch.no_grad()
    def evaluate(self, val_batches: Sequence[np.ndarray], collate) -> dict[str, float]:
        """Mean of ``eval_fn`` over the validation batches (model in eval mode)."""
        if not len(val_batches):
            return {}
        self.model.eval()
        means = _Means()
        for idx in val_batches:
            batch = self._to_device(collate(idx))
            means.add(self.eval_fn(self.model, batch), len(batch["lengths"]))
        self.model.train()
        return means.means()

    def _to_device(self, batch: Batch) -> Batch:
        return {k: v.to(self.device, non_blocking=True) for k, v in batch.items()}

    def _write_log(self) -> None:
        keys = list(dict.fromkeys(k for row in self.history for k in row))
        with open(self.out_dir / "log.csv", "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=keys)
            writer.writeheader()
            writer.writerows(self.history)
