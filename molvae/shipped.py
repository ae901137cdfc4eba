"""The models that ship inside the package, by name, and which one each kind of work uses.

No single shipped model is best at everything (docs/model_card.md): the sampling models were
trained with a stronger KL weight and without word dropout, which brings their samples closer to
the data and costs exact reconstruction, which the latent tools (encode, reconstruct, interpolate,
explore, score, map, fit-predictor, diagnose) need. Optimization goes with a sampling model: CMA-ES
finds better molecules with molvae-moses-v0.4 than with the latent tools' model on the
GuacaMol-style benchmark tasks (docs/optimize.md, "Which shipped model to optimize with"), and it
stays the optimizers' default until its successor, molvae-moses-v0.9 (the sampling default), is
measured there. So `molvae sample`, `molvae optimize` and the latent tools each have a default,
and ``-m NAME`` (or ``MolVAE.load(NAME)``) picks any shipped model for any verb.

    >>> resolve_model(None, use="sample").name       # the file `molvae sample` loads
    'molvae-moses-v0.9.pt'
    >>> resolve_model("molvae-moses-v0.2.1", use="sample").name
    'molvae-moses-v0.2.1.pt'
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from molvae.errors import CheckpointError

PRETRAINED_DIR = Path(__file__).resolve().parent / "pretrained"

USES = ("sample", "optimize", "latent")


@dataclass(frozen=True)
class ShippedModel:
    """One model file in ``molvae/pretrained``: its release name and what it is for."""

    name: str
    summary: str

    @property
    def path(self) -> Path:
        return PRETRAINED_DIR / f"{self.name}.pt"


SHIPPED = (
    ShippedModel("molvae-moses-v0.9", "samples closest to MOSES, the sampling default "
                                      "(v0.4 trained on for 11.5 epochs + code bank decoded at temperature 0.5)"),
    ShippedModel("molvae-moses-v0.4", "the optimizers' default until v0.9 is measured there "
                                      "(v0.3 trained on without word dropout + code bank)"),
    ShippedModel("molvae-moses-v0.2.1", "best reconstruction, for the latent tools (v0.2 + code bank)"),
)

# which shipped model each kind of work loads when no model is named
DEFAULTS = {"sample": "molvae-moses-v0.9", "optimize": "molvae-moses-v0.4", "latent": "molvae-moses-v0.2.1"}


def shipped_model(name: str) -> ShippedModel:
    """The shipped model called `name` (a release name such as ``molvae-moses-v0.4``)."""
    for model in SHIPPED:
        if model.name == name:
            return model
    raise CheckpointError(f"no shipped model is called {name!r}; shipped: {', '.join(m.name for m in SHIPPED)}")


def default_model(use: str) -> ShippedModel:
    """The shipped model that `use` (one of :data:`USES`) loads by default."""
    if use not in DEFAULTS:
        raise ValueError(f"use must be one of {USES}, got {use!r}")
    return shipped_model(DEFAULTS[use])


def resolve_model(model: str | os.PathLike | None, use: str = "latent") -> Path:
    """The checkpoint file `model` names: ``None`` is the default for `use`, a shipped model's name
    is its file, anything else is a path to a checkpoint (written by ``molvae train``)."""
    if model is None:
        path = default_model(use).path
    elif isinstance(model, str) and model in {m.name for m in SHIPPED}:
        path = shipped_model(model).path
    else:
        path = Path(model)
        if not path.exists():
            raise CheckpointError(f"checkpoint not found: {model} (nor is it a shipped model's name: "
                                  f"{', '.join(m.name for m in SHIPPED)})")
        return path  # load_checkpoint says what is wrong with a file that is not a checkpoint
    if not path.is_file():
        raise CheckpointError(f"{path}: the shipped model file is missing from this installation of molvae; "
                              "reinstall it, or pass a checkpoint written by `molvae train` (its best.pt)")
    return path


def shipped_name(path: str | os.PathLike | None) -> str | None:
    """The release name of the shipped model whose file is `path`, else None (a file of the user's,
    or one derived from a shipped model, e.g. by ``molvae fit-prior``)."""
    if path is None:
        return None
    where = Path(path).resolve()
    return next((m.name for m in SHIPPED if m.path.resolve() == where), None)


def defaults_of(name: str) -> list[str]:
    """The kinds of work for which the shipped model `name` is the default (may be empty)."""
    return [use for use, default in DEFAULTS.items() if default == name]
