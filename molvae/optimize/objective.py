"""What a search optimizes: property terms (:class:`Term`), hard :class:`Constraints`, and the
:class:`Objective` that turns a molecule into one score.

A term's score works on floats (the oracle's RDKit values) and on torch tensors (a latent property
predictor's outputs, for the gradient search), so the goals are written once."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable, TypeVar

import torch
from rdkit import Chem, DataStructs

from molvae import properties as props
from molvae.chem import canonical_smiles, quiet_rdkit
from molvae.errors import ConfigError
from molvae.optimize import scorers

GOALS = ("maximize", "minimize", "window", "target")

Value = TypeVar("Value", float, torch.Tensor)


def positive_part(x: Value) -> Value:
    """max(x, 0) of a float, or elementwise of a tensor (differentiable, as ``torch.relu``)."""
    return torch.relu(x) if isinstance(x, torch.Tensor) else max(x, 0.0)


@dataclass
class Term:
    """One property's contribution: ``weight * f(value)`` with f set by `goal`.

    maximize: value; minimize: -value; window: 0 inside [low, high], minus the distance outside;
    target: -|value - target|.

    `property` is an RDKit property (:data:`molvae.properties.REGISTRY`), ``similarity``, or a scorer:
    a Python function taking SMILES to a float, or its name as ``module:function``, or a TDC task as
    ``tdc:NAME`` (see :mod:`molvae.optimize.scorers`). A function given directly is named
    ``module:qualname`` where it can be imported back (so a spec file can name it)."""

    property: str | Callable[[str], float]
    goal: str = "maximize"
    weight: float = 1.0
    low: float | None = None
    high: float | None = None
    target: float | None = None
    function: Callable[[str], float] | None = field(default=None, repr=False, compare=False)

    def __post_init__(self):
        if callable(self.property):
            self.function, self.property = self.property, scorers.scorer_name(self.property)
        if not isinstance(self.property, str) or not self.property:
            raise ConfigError(f"objective term: property must be a name or a function, got {self.property!r}")
        if self.goal not in GOALS:
            raise ConfigError(f"objective term {self.property!r}: goal must be one of {', '.join(GOALS)}, got {self.goal!r}")
        if self.function is None and scorers.is_scorer_name(self.property):
            self.function = scorers.resolve(self.property)
        if self.function is None and self.property not in props.REGISTRY and self.property != "similarity":
            raise ConfigError(f"objective term: unknown property {self.property!r}; known: similarity, "
                              f"{', '.join(props.REGISTRY)}, or a scorer as module:function or tdc:NAME")
        if self.goal == "window" and (self.low is None or self.high is None or self.low > self.high):
            raise ConfigError(f"objective term {self.property!r}: a window needs low <= high")
        if self.goal == "target" and self.target is None:
            raise ConfigError(f"objective term {self.property!r}: goal 'target' needs target = VALUE")

    def score(self, value: Value) -> Value:
        """The term's score of one value (a float) or of many (a tensor, elementwise, differentiable)."""
        if self.goal == "maximize":
            s = value
        elif self.goal == "minimize":
            s = -value
        elif self.goal == "window":  # low <= high, so at most one of the two parts is positive
            s = -(positive_part(self.low - value) + positive_part(value - self.high))
        else:
            s = -abs(value - self.target)
        return self.weight * s


# what a spec's term table may hold: every field but the function (a spec names a scorer instead)
SPEC_TERM_KEYS = tuple(f.name for f in dataclasses.fields(Term) if f.name != "function")


@dataclass
class Constraints:
    """Hard constraints; a molecule that breaks one is infeasible (recorded, never returned as best)."""

    similarity_min: float | None = None   # Tanimoto (Morgan r=2, 2048 bits) to the reference (by default the start)
    sa_max: float | None = None
    mw_min: float | None = None
    mw_max: float | None = None
    max_heavy_atoms: int | None = None
    smarts_required: list[str] = field(default_factory=list)
    smarts_forbidden: list[str] = field(default_factory=list)

    def __post_init__(self):
        self._required = [smarts_pattern(s) for s in self.smarts_required]
        self._forbidden = [smarts_pattern(s) for s in self.smarts_forbidden]

    def violation(self, mol: Chem.Mol, values: dict[str, float]) -> str:
        """'' if every constraint holds, else the first one broken, in words."""
        if self.similarity_min is not None and values["similarity"] < self.similarity_min:
            return f"similarity {values['similarity']:.3f} < {self.similarity_min}"
        if self.sa_max is not None and values["sa"] > self.sa_max:
            return f"SA {values['sa']:.2f} > {self.sa_max}"
        if self.mw_min is not None and values["mw"] < self.mw_min:
            return f"MW {values['mw']:.1f} < {self.mw_min}"
        if self.mw_max is not None and values["mw"] > self.mw_max:
            return f"MW {values['mw']:.1f} > {self.mw_max}"
        if self.max_heavy_atoms is not None and mol.GetNumHeavyAtoms() > self.max_heavy_atoms:
            return f"{mol.GetNumHeavyAtoms()} heavy atoms > {self.max_heavy_atoms}"
        for text, patt in zip(self.smarts_required, self._required):
            if not mol.HasSubstructMatch(patt):
                return f"lacks required {text}"
        for text, patt in zip(self.smarts_forbidden, self._forbidden):
            if mol.HasSubstructMatch(patt):
                return f"has forbidden {text}"
        return ""

    def as_dict(self) -> dict[str, Any]:
        """The constraints that are set, as in a spec's ``[constraints]`` table."""
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}


def smarts_pattern(text: str) -> Chem.Mol:
    """The query molecule of a SMARTS; :class:`ConfigError` naming it if it does not parse."""
    patt = Chem.MolFromSmarts(text)
    if patt is None:
        raise ConfigError(f"not a valid SMARTS pattern: {text!r}")
    return patt


def checked_smiles(smiles: str, what: str) -> str:
    """`smiles` canonicalized; :class:`ConfigError` naming it (as `what`) if RDKit cannot parse it."""
    with quiet_rdkit():
        canon = canonical_smiles(smiles)
    if canon is None:
        raise ConfigError(f"{what}: not a valid SMILES: {smiles!r}")
    return canon


@dataclass
class Objective:
    """Weighted sum of terms under constraints. Similarity (term or constraint) is measured to
    `reference`; a search binds it to its start molecule when none is given (:meth:`measured_to`)."""

    terms: list[Term]
    constraints: Constraints = field(default_factory=Constraints)
    reference: str | None = None

    def __post_init__(self):
        if not self.terms:
            raise ConfigError("the objective needs at least one term")
        ref = checked_smiles(self.reference, "objective reference") if self.reference else None
        self._reference_fp = props.fingerprint(ref) if ref else None
        names = {t.property for t in self.terms if t.function is None} | {"qed", "logp", "sa", "mw"}
        self._names = sorted(n for n in names if n != "similarity")
        self._scorers = {t.property: t.function for t in self.terms if t.function is not None}

    @property
    def scorer_names(self) -> list[str]:
        """The terms computed by scorers (functions from outside molvae), not by RDKit."""
        return list(self._scorers)

    @property
    def uses_similarity(self) -> bool:
        """Whether a term or constraint needs a molecule to measure similarity to."""
        return self.constraints.similarity_min is not None or any(t.property == "similarity" for t in self.terms)

    def check_reference(self) -> None:
        """:class:`ConfigError` when similarity is asked for but there is nothing to measure it to."""
        if self.uses_similarity and not self.reference:
            raise ConfigError("a similarity term or constraint needs a start molecule (or a reference)")

    def measured_to(self, start: str | None) -> "Objective":
        """This objective with similarity measured to `start` (the search's start molecule) unless it
        names a reference of its own; checked (:meth:`check_reference`)."""
        objective = self if self.reference or not start else dataclasses.replace(self, reference=start)
        objective.check_reference()
        return objective

    @classmethod
    def from_dict(cls, spec: dict[str, Any]) -> "Objective":
        """From the ``[objective]`` and ``[constraints]`` tables of a spec file."""
        obj = dict(spec.get("objective", {}))
        unknown = set(obj) - {"terms", "maximize", "minimize", "reference"}
        if unknown:
            raise ConfigError(f"[objective]: unknown key(s) {', '.join(sorted(unknown))}; "
                              "use terms, maximize, minimize, reference")
        terms = [_term(t) for t in obj.get("terms", [])]
        for goal in ("maximize", "minimize"):
            names = obj.get(goal, [])
            terms += [Term(property=name, goal=goal) for name in ([names] if isinstance(names, str) else names)]
        try:
            constraints = Constraints(**spec.get("constraints", {}))
        except TypeError as exc:
            raise ConfigError(f"[constraints]: {exc}") from None
        return cls(terms, constraints, obj.get("reference"))

    def as_dict(self) -> dict[str, Any]:
        """The ``[objective]`` table of a spec: every term with its settings, and the reference if set."""
        terms = [{k: getattr(t, k) for k in SPEC_TERM_KEYS if getattr(t, k) is not None} for t in self.terms]
        return {"terms": terms, **({"reference": self.reference} if self.reference else {})}

    def evaluate(self, mol: Chem.Mol, smiles: str | None = None) -> tuple[float, str, dict[str, float]]:
        """(score, violation ('' when feasible), property values) for a parsed molecule. Scorers are
        given `smiles` (canonical; computed from `mol` when not given); one that fails or returns no
        finite number makes the molecule infeasible, with the reason as its violation."""
        values = {n: float(props.REGISTRY[n](mol)) for n in self._names}
        if self._reference_fp is not None:
            values["similarity"] = DataStructs.TanimotoSimilarity(self._reference_fp, props.fingerprint(mol))
        problems = []
        if self._scorers:
            smiles = smiles or Chem.MolToSmiles(mol)
            for name, function in self._scorers.items():
                values[name], problem = scorers.call(function, name, smiles)
                if problem:
                    problems.append(problem)
        if problems:
            return float("nan"), problems[0], values
        score = sum(t.score(values[t.property]) for t in self.terms)
        return score, self.constraints.violation(mol, values), values


def _term(table: Any) -> Term:
    if not isinstance(table, dict) or "property" not in table:
        raise ConfigError(f"[objective] terms: each term is a table with a property, got {table!r}")
    unknown = set(table) - set(SPEC_TERM_KEYS)
    if unknown:
        raise ConfigError(f"[objective] term {table['property']!r}: unknown key(s) {', '.join(sorted(unknown))}; "
                          f"use {', '.join(SPEC_TERM_KEYS)}")
    try:
        return Term(**table)
    except TypeError as exc:
        raise ConfigError(f"[objective] term {table['property']!r}: {exc}") from None
