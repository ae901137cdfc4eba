"""Scores from outside molvae: a user's Python function (SMILES -> float), named ``module:function``,
and the PMO / GuacaMol task definitions of TDC (``tdc:NAME``, from the optional PyTDC package).

A scorer is used as an objective term like an RDKit property (``Term("tdc:celecoxib_rediscovery")``,
``Term(my_function)``, ``--oracle mypkg.scores:activity``); the oracle hands it canonical SMILES, one
molecule per call, and counts the calls."""

from __future__ import annotations

import importlib
import math
import os
import sys
from functools import lru_cache
from typing import Callable

from molvae.errors import ConfigError

Scorer = Callable[[str], float]

TDC_PREFIX = "tdc:"

# The 15 PMO tasks that need nothing but RDKit (Gao et al. 2022), as TDC names them.
PMO_TASKS = ("qed", "celecoxib_rediscovery", "troglitazone_rediscovery", "thiothixene_rediscovery",
             "albuterol_similarity", "isomers_c7h8n2o2", "isomers_c9h10n2o2pf2cl", "median1", "osimertinib_mpo",
             "fexofenadine_mpo", "ranolazine_mpo", "amlodipine_mpo", "sitagliptin_mpo", "zaleplon_mpo", "deco_hop")

# PMO ran PyTDC 0.3.6, whose isomer scoring counted the atoms of the SMILES *string* read as a formula
# (fixed in 0.3.7). TDC keeps those definitions under these names; the published isomer, zaleplon and
# sitagliptin figures are under them. Module-level functions of tdc.chem_utils.oracle.oracle.
PMO2022_SCORING = {"isomers_c7h8n2o2": "isomers_c7h8n2o2_prev",
                   "isomers_c9h10n2o2pf2cl": "isomers_c9h10n2o2pf2cl_prev",
                   "zaleplon_mpo": "zaleplon_mpo_prev", "sitagliptin_mpo": "sitagliptin_mpo_prev"}

TDC_MISSING = ("needs PyTDC, which holds the PMO/GuacaMol task definitions: pip install -e \".[bench]\" "
               "(PyTDC pins RDKit < 2024.3 and NumPy < 2, so use an environment of its own; see docs/optimize.md)")


def is_scorer_name(name: str) -> bool:
    """Whether a term's property names a scorer (``module:function`` or ``tdc:NAME``) rather than an RDKit property."""
    return ":" in name


def scorer_name(function: Callable) -> str:
    """How a spec file names `function`: ``module:qualname`` when it can be imported back, else its bare
    name (a spec holding that cannot be re-run without the function)."""
    module, qualname = getattr(function, "__module__", None), getattr(function, "__qualname__", None)
    if module and qualname and module != "__main__" and "<" not in qualname:
        return f"{module}:{qualname}"
    return getattr(function, "__name__", None) or type(function).__name__


def resolve(name: str) -> Scorer:
    """The function a scorer name stands for; :class:`ConfigError` saying what is wrong otherwise."""
    if name.lower().startswith(TDC_PREFIX):
        return tdc_scorer(name[len(TDC_PREFIX):])
    return _imported(name)


@lru_cache(maxsize=None)
def _imported(name: str) -> Scorer:
    module_name, _, attr = name.partition(":")
    if not module_name or not attr:
        raise ConfigError(f"scorer {name!r}: write it as module:function (for example mypkg.scores:activity)")
    try:
        module = _import_here(module_name)
    except ImportError as exc:
        raise ConfigError(f"scorer {name!r}: cannot import module {module_name!r} ({exc}); "
                          "is it installed, or in the folder you run from?") from None
    function = module
    for part in attr.split("."):
        function = getattr(function, part, None)
        if function is None:
            raise ConfigError(f"scorer {name!r}: module {module_name!r} has no {attr!r}")
    if not callable(function):
        raise ConfigError(f"scorer {name!r}: {attr!r} is a {type(function).__name__}, not a function")
    return function


def _import_here(module_name: str):
    """Import a module, also from the folder molvae runs in (a console script's path does not have it)."""
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError:
        here = os.getcwd()
        if here in sys.path:
            raise
        sys.path.append(here)
        return importlib.import_module(module_name)


@lru_cache(maxsize=None)
def tdc_scorer(task: str, scoring: str = "current") -> Scorer:
    """TDC's oracle for `task` (case-insensitive, as TDC names it: ``celecoxib_rediscovery``).
    `scoring` "pmo2022" picks the definitions PMO's published figures used where they differ
    (:data:`PMO2022_SCORING`); "current" is TDC's corrected scoring."""
    if scoring not in ("current", "pmo2022"):
        raise ConfigError(f"TDC scoring must be 'current' or 'pmo2022', got {scoring!r}")
    task = task.strip().lower()
    try:
        from tdc import Oracle
        from tdc.chem_utils.oracle import oracle as definitions
    except ImportError as exc:
        raise ConfigError(f"tdc:{task} {TDC_MISSING} [{exc}]") from None
    if scoring == "pmo2022" and task in PMO2022_SCORING:
        return getattr(definitions, PMO2022_SCORING[task])
    try:
        return Oracle(name=task)
    except Exception as exc:  # TDC raises bare ValueErrors/AttributeErrors for names it does not know
        raise ConfigError(f"tdc:{task}: TDC has no such oracle ({exc}); the PMO tasks are: {', '.join(PMO_TASKS)}") from None


def call(function: Scorer, name: str, smiles: str) -> tuple[float, str]:
    """(score, problem) of one molecule: a scorer that raises or returns something that is no finite
    number gives NaN and the reason, so the oracle records the molecule as infeasible, not lost."""
    try:
        value = function(smiles)
    except Exception as exc:  # the user's code: any failure is a fact about this molecule
        return math.nan, f"scorer {name} failed: {type(exc).__name__}: {exc}"[:300]
    try:
        value = float(value)
    except (TypeError, ValueError):
        return math.nan, f"scorer {name} returned {type(value).__name__}, not a number"
    if not math.isfinite(value):
        return math.nan, f"scorer {name} returned {value}"
    return value, ""
