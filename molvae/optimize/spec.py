"""Spec files: a run described in TOML (``[objective]``, ``[constraints]``, ``[search]``; see
docs/optimize.md), read into an :class:`Objective` and a :class:`SearchConfig`, and written back."""

from __future__ import annotations

import dataclasses
import json
import numbers
import os
import tomllib
from pathlib import Path
from typing import Any, Sequence

from molvae.errors import ConfigError, spelled
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


def spec_from_options(spec: str | os.PathLike | None = None, *, maximize: str | Sequence[str] | None = (),
                      minimize: str | Sequence[str] | None = (), similarity_min: float | None = None,
                      **search: Any) -> tuple[Objective, SearchConfig]:
    """Objective and search settings from command-line style options: the spec file `spec` (or none),
    with properties to `maximize` / `minimize` replacing its terms, `similarity_min` setting its
    constraint, and `search` settings (method, budget, seed, batch_size, start, start_molecules,
    start_count, sigma, or a method's own such as climb_radius) laid over its ``[search]`` table.
    Options that are None or empty are left out, so unset flags can be passed as they are."""
    maximize, minimize = _names(maximize), _names(minimize)
    if spec is None and not maximize and not minimize:
        raise ConfigError(f"give a spec file, or {spelled('objective') or 'properties to maximize or minimize'}")
    tables = read_spec(spec) if spec is not None else {}
    if maximize or minimize:
        reference = {k: v for k, v in tables.get("objective", {}).items() if k == "reference"}
        tables["objective"] = {**reference, **{goal: names for goal, names in (("maximize", maximize),
                                                                               ("minimize", minimize)) if names}}
    if similarity_min is not None:
        tables["constraints"] = {**tables.get("constraints", {}), "similarity_min": similarity_min}
    tables["search"] = {**tables.get("search", {}), **{k: v for k, v in search.items() if v is not None}}
    return spec_objects(tables)


def _names(names: str | Sequence[str] | None) -> list[str]:
    return [names] if isinstance(names, str) else list(names or [])


def spec_dict(objective: Objective, search: SearchConfig) -> dict[str, Any]:
    """Every setting of a run as a spec's tables (what :func:`spec_toml` writes; unset values left
    out), with the chosen method's own settings flat in ``[search]``."""
    shared = {key: getattr(search, key) for key in SHARED_KEYS}
    if shared["start_molecules"] is not None and not isinstance(shared["start_molecules"], str):
        shared["start_molecules"] = list(shared["start_molecules"])  # a Series or array of SMILES, say
    settings = {**shared, **dataclasses.asdict(search.method_config)}
    return {"objective": objective.as_dict(), "constraints": objective.constraints.as_dict(),
            "search": {k: v for k, v in settings.items() if v is not None}}


def spec_toml(objective: Objective, search: SearchConfig, header: Sequence[str] = ()) -> str:
    """The TOML spec of a run (:func:`spec_dict`), which :func:`load_spec` reads back into equal
    settings; `header` lines come first, as comments."""
    lines = [f"# {line}" for line in header]
    for section, table in spec_dict(objective, search).items():
        lines += ["", f"[{section}]"] + [f"{key} = {_toml(value)}" for key, value in table.items()]
    return "\n".join(lines).lstrip("\n") + "\n"


def _toml(value: Any) -> str:
    """One TOML value: the numbers, strings, lists and tables of a spec (a long list one item a line)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        return repr(float(value))  # repr round-trips; nan and inf are TOML too
    if isinstance(value, str):  # a JSON string is a TOML basic string, but for DEL, which TOML escapes
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        items = [_toml(v) for v in value]
        if len(items) > 3 or any(isinstance(v, dict) for v in value):
            return "[\n" + "".join(f"  {item},\n" for item in items) + "]"
        return "[" + ", ".join(items) + "]"
    raise TypeError(f"cannot write {value!r} ({type(value).__name__}) to a TOML spec")
