"""The run configuration: four dataclasses (data, model, anneal, train), read from TOML,
overridden by CLI flags, printed and saved with every run.

A TOML run file looks like::

    [data]
    train = "moses:train"
    limit = 50000

    [model]
    latent_dim = 64

    [train]
    epochs = 5
"""

from __future__ import annotations

import dataclasses
import json
import math
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from molvae.annealing import AnnealConfig
from molvae.errors import ConfigError
from molvae.model import ModelConfig
from molvae.device import PRECISIONS
from molvae.trainer import TrainConfig


@dataclass
class DataConfig:
    """Where the molecules come from and how they are preprocessed."""

    train: str = field(default="moses:train", metadata={"help": "training SMILES file, or moses:train / moses:test / moses:test_scaffolds"})
    smiles_column: str | None = field(default=None, metadata={"help": "name of the SMILES column (default: detect)"})
    limit: int = field(default=0, metadata={"help": "use a random subset of this many training rows (0 = all)"})
    val: str | None = field(default=None, metadata={"help": "validation SMILES file (default: split off the training file)"})
    val_fraction: float = field(default=0.05, metadata={"help": "fraction of training molecules held out for validation"})
    max_val: int = field(default=10_000, metadata={"help": "at most this many validation molecules"})
    cache_dir: str | None = field(default=None, metadata={"help": "preprocessing cache (default: $MOLVAE_CACHE or ~/.cache/molvae; '' = off)"})
    workers: int = field(default=0, metadata={"help": "preprocessing processes (0 = all cores)"})
    largest_fragment: bool = field(default=False, metadata={"help": (
        "keep the largest fragment of salts and mixtures (e.g. CCN.Cl -> CCN) instead of rejecting them")})
    standardize: bool = field(default=False, metadata={"help": (
        "standardize each molecule with RDKit first: largest fragment, charges neutralized, stereo and isotopes "
        "removed (what a MOSES-like vocabulary can read)")})
    augment: str = field(default="none", metadata={"help": (
        "randomized-SMILES augmentation: each epoch every molecule is read in one of its spellings (random atom "
        "orders, or the canonical one) by the encoder only (input), the decoder only (target), or both; none = off")})
    augment_spellings: int = field(default=4, metadata={"help": "random spellings precomputed (and cached) per molecule"})


SECTIONS: dict[str, type] = {"data": DataConfig, "model": ModelConfig, "anneal": AnnealConfig, "train": TrainConfig}


@dataclass
class RunConfig:
    """Everything that defines a training run."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    anneal: AnnealConfig = field(default_factory=AnnealConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def __post_init__(self):
        positive = ["model.embed_dim", "model.encoder_hidden", "model.encoder_layers", "model.latent_dim",
                    "model.decoder_hidden", "model.decoder_layers", "model.max_len", "train.epochs",
                    "train.batch_size", "train.lr"]
        non_negative = ["data.limit", "data.max_val", "data.workers", "anneal.beta", "anneal.beta_start",
                        "anneal.free_bits", "train.weight_decay", "train.grad_clip", "train.threads",
                        "train.stop_at_step"]
        for key in positive + non_negative:
            section, name = key.split(".")
            value = getattr(getattr(self, section), name)
            if value < 0 or (key in positive and value == 0):
                raise ConfigError(f"{key} must be {'above' if key in positive else 'at least'} 0, got {value}")
        for key in ("data.val_fraction", "anneal.word_dropout", "model.dropout"):
            section, name = key.split(".")
            value = getattr(getattr(self, section), name)
            if not 0 <= value < 1:
                raise ConfigError(f"{key} must be in [0, 1), got {value}")
        if self.train.precision not in PRECISIONS:
            raise ConfigError(f"train.precision must be one of {', '.join(PRECISIONS)}, got {self.train.precision!r}")

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """Plain nested dict (what checkpoints and config.toml hold)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "RunConfig":
        """Build from a nested dict; unknown sections or keys are a :class:`ConfigError`."""
        unknown = set(d) - set(SECTIONS)
        if unknown:
            raise ConfigError(f"unknown config section(s) {sorted(unknown)}; sections are {list(SECTIONS)}")
        return cls(**{name: section_from_dict(kind, d.get(name, {}), name) for name, kind in SECTIONS.items()})

    def to_toml(self) -> str:
        """The config as a TOML document (None values are left out, as TOML has no null)."""
        lines = []
        for name, values in self.to_dict().items():
            lines.append(f"[{name}]")
            lines += [f"{k} = {_toml_value(v)}" for k, v in values.items() if v is not None]
            lines.append("")
        return "\n".join(lines)


def section_from_dict(kind: type, values: dict[str, Any], name: str) -> Any:
    """One config section from a dict, with types checked against the dataclass defaults."""
    if not isinstance(values, dict):
        raise ConfigError(f"[{name}] must be a table of settings")
    fields = {f.name: f for f in dataclasses.fields(kind)}
    unknown = set(values) - set(fields)
    if unknown:
        raise ConfigError(f"unknown setting(s) in [{name}]: {sorted(unknown)}; known: {sorted(fields)}")
    checked = {k: coerce(f"{name}.{k}", fields[k], v) for k, v in values.items()}
    return kind(**checked)


def coerce(key: str, f: dataclasses.Field, value: Any) -> Any:
    """Convert `value` (from TOML or a CLI string) to the type of field `f`, or raise ConfigError."""
    default = f.default
    if value is None:
        return None
    kind = type(default) if default is not None else str
    try:
        if kind is bool:
            if isinstance(value, str):
                if value.lower() in ("1", "true", "yes", "on"):
                    return True
                if value.lower() in ("0", "false", "no", "off"):
                    return False
                raise ValueError(value)
            return bool(value)
        if kind is int:
            if isinstance(value, float) and not value.is_integer():
                raise ValueError(value)
            return int(value)
        if kind is float:
            number = float(value)
            if not math.isfinite(number):
                raise ConfigError(f"{key} must be a finite number, got {value!r}")
            return number
        return str(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{key} must be {kind.__name__}, got {value!r}") from None


# What a resumed run may change: how long and on what it runs, not what it learns from or how.
RESUMABLE = frozenset({"train.epochs", "train.time_limit_minutes", "train.stop_at_step", "train.checkpoint_minutes",
                       "train.threads", "train.device", "train.precision", "train.compile", "train.tensorboard",
                       "train.snapshot_epochs",
                       "data.workers", "data.cache_dir"})


def read_toml(path: str | Path) -> dict[str, dict[str, Any]]:
    """The tables of a TOML run file, or a :class:`ConfigError` saying why it cannot be read."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        return tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None


def load_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> RunConfig:
    """Defaults, then the TOML file at `path`, then `overrides` ({"section.key": value})."""
    data: dict[str, dict[str, Any]] = read_toml(path) if path is not None else {}
    for dotted, value in (overrides or {}).items():
        section, _, key = dotted.partition(".")
        data.setdefault(section, {})[key] = value
    return RunConfig.from_dict(data)


def resumed_config(saved: dict[str, Any], path: str | Path | None = None,
                   overrides: dict[str, Any] | None = None) -> RunConfig:
    """The configuration a resumed run continues with: the `saved` one (a checkpoint's run config),
    with the settings of the TOML file at `path` and the `overrides` that a resumed run may change
    (:data:`RESUMABLE`: epochs, time limit, threads, device, ...). Any other setting given with a
    value other than the saved one is a :class:`ConfigError` naming it: a run cannot change its data,
    model or schedule half way."""
    config = RunConfig.from_dict(saved)
    requested = {f"{section}.{key}": value for section, table in (read_toml(path) if path else {}).items()
                 for key, value in (table.items() if isinstance(table, dict) else ())}
    requested.update(overrides or {})
    changed: dict[str, dict[str, Any]] = {}
    for dotted, value in requested.items():
        section, _, key = dotted.partition(".")
        if section not in SECTIONS or key not in {f.name for f in dataclasses.fields(SECTIONS[section])}:
            raise ConfigError(f"unknown setting {dotted!r}")
        field_ = next(f for f in dataclasses.fields(SECTIONS[section]) if f.name == key)
        wanted, current = coerce(dotted, field_, value), getattr(getattr(config, section), key)
        if wanted == current:
            continue
        if dotted not in RESUMABLE:
            raise ConfigError(f"{dotted} is {current!r} in the run being resumed, not {wanted!r}: a resumed run keeps "
                              f"its settings (it may change {', '.join(sorted(RESUMABLE))}); start a new run to change it")
        changed.setdefault(section, {})[key] = wanted
    return RunConfig.from_dict({section: {**values, **changed.get(section, {})}
                                for section, values in config.to_dict().items()})


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    return json.dumps(str(v))  # a JSON string literal is a valid TOML basic string
