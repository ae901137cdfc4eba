"""KL-weight (beta) schedules, free bits and word dropout: pure functions of training progress.

Progress `t` is measured in epochs (a float: 2.5 is half-way through the third epoch), so a
schedule means the same thing on a small file and on all of MOSES.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from molvae.errors import ConfigError

SCHEDULES = ("constant", "linear", "logistic", "cyclical")


@dataclass
class AnnealConfig:
    """How the KL term and the decoder's inputs are weakened while training."""

    schedule: str = field(default="logistic", metadata={"help": f"KL weight schedule: {', '.join(SCHEDULES)}"})
    beta: float = field(default=0.15, metadata={"help": "final (maximum) KL weight"})
    beta_start: float = field(default=0.0, metadata={"help": "KL weight at the start of warm-up / of each cycle"})
    warmup_epochs: float = field(default=1.0, metadata={"help": "linear/logistic: epochs to reach the final KL weight"})
    cycle_epochs: float = field(default=1.0, metadata={"help": "cyclical: length of one cycle in epochs"})
    cycle_ratio: float = field(default=0.5, metadata={"help": "cyclical: fraction of a cycle spent increasing the weight"})
    free_bits: float = field(default=0.1, metadata={"help": "minimum KL per latent dimension in nats (0 = off)"})
    word_dropout: float = field(default=0.2, metadata={"help": "rate at which decoder inputs become <unk>"})

    def __post_init__(self):
        if self.schedule not in SCHEDULES:
            raise ConfigError(f"unknown KL schedule {self.schedule!r}; choose one of {', '.join(SCHEDULES)}")


def constant(t: float, beta: float) -> float:
    """beta at every step."""
    return beta


def linear(t: float, beta: float, start: float, warmup: float) -> float:
    """From `start` at t=0 rising linearly to `beta` at t=`warmup`, then flat."""
    if warmup <= 0:
        return beta
    return start + (beta - start) * min(max(t / warmup, 0.0), 1.0)


def logistic(t: float, beta: float, start: float, warmup: float, steepness: float = 10.0) -> float:
    """A sigmoid from `start` to `beta`, centred at t = warmup / 2 (Bowman et al. 2016)."""
    if warmup <= 0:
        return beta
    s = 1.0 / (1.0 + math.exp(-steepness * (t / warmup - 0.5)))
    return start + (beta - start) * s


def cyclical(t: float, beta: float, start: float, period: float, ratio: float = 0.5) -> float:
    """Fu et al. 2019: in each cycle of `period` epochs, rise linearly over the first `ratio`
    of it from `start` to `beta`, then hold `beta` for the rest."""
    if period <= 0:
        return beta
    phase = (t % period) / period
    return start + (beta - start) * min(phase / ratio, 1.0) if ratio > 0 else beta


def kl_weight(t: float, cfg: AnnealConfig) -> float:
    """The KL weight at training progress `t` (epochs) under `cfg`."""
    if cfg.schedule == "constant":
        return constant(t, cfg.beta)
    if cfg.schedule == "linear":
        return linear(t, cfg.beta, cfg.beta_start, cfg.warmup_epochs)
    if cfg.schedule == "logistic":
        return logistic(t, cfg.beta, cfg.beta_start, cfg.warmup_epochs)
    return cyclical(t, cfg.beta, cfg.beta_start, cfg.cycle_epochs, cfg.cycle_ratio)


def word_dropout_rate(t: float, cfg: AnnealConfig) -> float:
    """The word-dropout rate at progress `t` (constant for now; a function so it can be scheduled)."""
    return cfg.word_dropout
