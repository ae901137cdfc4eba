"""molvae: a SELFIES GRU variational autoencoder for molecules.

    >>> from molvae import MolVAE, properties
    >>> vae = MolVAE.load()                      # the shipped model for encoding (molvae-moses-v0.2.1)
    >>> z = vae.encode(["CCO", "c1ccccc1O"])     # (2, 64) posterior means
    >>> MolVAE.load(use="sample").sample(10)     # molecules from the sampling model, as `molvae sample`
    >>> properties.compute("CCO", ["qed", "mw"])  # one SMILES string is one molecule: one row

Models: :class:`MolVAE` (load, sample, encode, decode, reconstruct), :func:`train`,
:func:`load_config` and :class:`RunConfig` (a training run's settings). Molecules:
:func:`read_smiles` (CSV/SMI/SDF files), :func:`canonical_smiles`, :func:`standardize`. Tools, one
module each: :mod:`molvae.properties` (RDKit properties), :mod:`molvae.space` (embeddings,
interpolation, neighbourhoods, anomaly scores, maps), :mod:`molvae.metrics` (the MOSES metrics),
:mod:`molvae.optimize` (latent-space optimization), :mod:`molvae.plots`, :mod:`molvae.shipped` (the
shipped models). Errors a user can cause are :class:`MolvaeError` and its subclasses.

Everything but the errors loads on first use, so that ``import molvae`` and ``molvae.chem`` (used by
preprocessing worker processes) import without torch.
"""

from molvae.errors import (CheckpointError, ConfigError, InputFileError, InvalidInput, InvalidSmiles, MoleculeRejected,
                           MolvaeError, TrainingDiverged)
from molvae.version import __version__

# public name -> the module that defines it (imported when the name is first used)
_LAZY = {
    "MolVAE": "molvae.api", "train": "molvae.api",
    "load_config": "molvae.config", "RunConfig": "molvae.config",
    "read_smiles": "molvae.io", "canonical_smiles": "molvae.chem", "standardize": "molvae.chem",
}
_MODULES = ("properties", "space", "metrics", "optimize", "plots", "shipped")

__all__ = ["MolVAE", "train", "load_config", "RunConfig", "read_smiles", "canonical_smiles", "standardize",
           *_MODULES, "MolvaeError", "InvalidSmiles", "InvalidInput", "InputFileError", "ConfigError",
           "CheckpointError", "MoleculeRejected", "TrainingDiverged", "__version__"]


def __getattr__(name):
    import importlib

    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    if name in _MODULES:
        return importlib.import_module(f"molvae.{name}")
    raise AttributeError(f"module 'molvae' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
