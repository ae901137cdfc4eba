"""Spec files: a run described in TOML (``[objective]``, ``[constraints]``, ``[search]``; see
docs/optimize.md), read into an :class:`Objective` and a :class:`SearchConfig`."""

from __future__ import annotations

import dataclasses
import os
import tomllib
from pathlib import Path
from typing import Any

from molvae.errors import ConfigError
from molvae.optimize.objective import Objective
from molvae.optimize.search import METHODS, SearchConfig

SECTIONS = ("objective", "constraints", "search")
SHARED_KEYS = [f.name for f in dataclasses.fields(SearchConfig) if f.name not in METHODS]
# a method's settings may stand flat in [search]: each name belongs to one method
METHOD_OF_KEY = {f.name: method for method, kind in METHODS.items() for f in dataclasses.fields(kind)}
assert len(METHOD_OF_KEY) == sum(len(dataclasses.fields(kind)) for kind in METHODS.values()), "a setting name is shared"


def read_spec(path: str | os.PathLike) -> dict[str, Any]:
    """The tables of a TOML spec file, as a dict; :class:`ConfigError` if it cannot be read."""
    try:
        return tomllib.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read the spec {path}: {exc}") from None


def load_spec(path: str | os.PathLike) -> tuple[Objective, SearchConfig]:
    """Objective and search settings from a TOML spec (see docs/optimize.md)."""
    return spec_objects(read_spec(path))


def spec_objects(spec: dict[str, Any]) -> tuple[Objective, SearchConfig]:
    """Objective and search settings from a spec's tables; :class:`ConfigError` naming what is wrong."""
    unknown = set(spec) - set(SECTIONS)
    if unknown:
        raise ConfigError(f"unknown section(s) in the spec: {', '.join(sorted(unknown))}; "
                          "use [objective], [constraints], [search]")
    for section in SECTIONS:
        if not isinstance(spec.get(section, {}), dict):
            raise ConfigError(f"[{section}] must be a table of settings, got {spec[section]!r}")
    search = search_config(spec.get("search", {}))
    objective = Objective.from_dict(spec)
    objective.measured_to(search.start)  # similarity needs something to be measured to
    return objective, search


def search_config(table: dict[str, Any]) -> SearchConfig:
    """A :class:`SearchConfig` from a ``[search]`` table: the shared settings, and each method's own
    either flat (``climb_radius = 0.5``) or in a table of the method's name (``[search.gradient]``).
    Settings of methods other than the chosen one are kept, unused, so ``--method`` can switch."""
    shared: dict[str, Any] = {}
    own: dict[str, dict[str, Any]] = {method: {} for method in METHODS}
    for key, value in table.items():
        if key in SHARED_KEYS:
            shared[key] = value
        elif key in METHODS and isinstance(value, dict):
            own[key].update(value)
        elif key in METHOD_OF_KEY:
            own[METHOD_OF_KEY[key]][key] = value
        else:
            raise ConfigError(f"[search]: unknown key {key!r}; known: {', '.join(SHARED_KEYS + list(METHOD_OF_KEY))}")
    try:
        return SearchConfig(**shared, **{method: METHODS[method](**own[method]) for method in METHODS})
    except TypeError as exc:  # a method table with a key it lacks, or a value of the wrong type
        raise ConfigError(f"[search]: {exc}") from None
