"""Named exceptions for mistakes a user can make, and how their hints name a setting. The CLI prints
their message, not a traceback."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from contextvars import ContextVar


class MolvaeError(Exception):
    """Base class for errors caused by input or configuration; the message says what to do."""


class MoleculeRejected(MolvaeError):
    """One molecule cannot be used; the message is the reason written to the rejects file."""


class InvalidSmiles(MolvaeError, ValueError):
    """A SMILES given by the user (a start molecule, a reference) does not parse."""


class InvalidInput(MolvaeError, ValueError):
    """Data of the wrong kind or shape passed to the API (numbers where SMILES are expected, ...)."""


class InputFileError(MolvaeError):
    """An input file is missing, unreadable, or has no usable SMILES column."""


class ConfigError(MolvaeError):
    """A configuration value or file is invalid."""


class CheckpointError(MolvaeError):
    """A checkpoint file is missing, corrupt, or of an unsupported format."""


class TrainingDiverged(MolvaeError):
    """The loss became NaN or infinite."""


# ----------------------------------------------------------------------------- hints

# A message that tells the user to change a setting names it as the caller spells it: as a Python
# keyword argument by default; the command line names its verb's flag instead (:func:`spelled_as`),
# and leaves the hint out where the verb has no such flag.
PYTHON_SPELLING = {
    "standardize": "standardize=True",
    "largest_fragment": "largest_fragment=True",
    "smiles_column": "column=NAME",
    "errors": 'errors="nan"',
    "prior": 'prior="normal"',
    "objective": "maximize=NAME or minimize=NAME",
    "overwrite": "overwrite=True",
    "init_from": "train.init_from = a checkpoint, e.g. a shipped model's file",
}
_SPELLING: ContextVar[Mapping[str, str] | None] = ContextVar("molvae_spelling", default=None)


def spelled(setting: str) -> str | None:
    """How the caller names `setting` (a key of :data:`PYTHON_SPELLING`): the Python spelling, or
    inside :func:`spelled_as` the caller's own; ``None`` when the caller has no such setting."""
    own = _SPELLING.get()
    return PYTHON_SPELLING[setting] if own is None else own.get(setting)


def hint(setting: str, text: str) -> str:
    """`text` with ``{}`` replaced by the caller's spelling of `setting`, or "" when the caller has none:
    ``hint("standardize", "; {} makes it readable")``."""
    how = spelled(setting)
    return text.format(how) if how else ""


@contextlib.contextmanager
def spelled_as(spelling: Mapping[str, str]) -> Iterator[None]:
    """Inside the block, hints name settings as `spelling` says (setting -> e.g. a command-line flag);
    a setting it lacks gets no hint. The command line sets this around each verb."""
    token = _SPELLING.set(dict(spelling))
    try:
        yield
    finally:
        _SPELLING.reset(token)
