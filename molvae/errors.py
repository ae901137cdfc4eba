"""Named exceptions for mistakes a user can make. The CLI prints their message, not a traceback."""


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
