"""molvae: a SELFIES GRU variational autoencoder for molecules.

``from molvae import MolVAE, train, load_config``. Heavy modules load on first use, so that
``molvae.chem`` (used by preprocessing worker processes) imports without torch.
"""

from molvae.version import __version__

__all__ = ["MolVAE", "train", "load_config", "RunConfig"]


def __getattr__(name):
    if name in ("MolVAE", "train"):
        from molvae import api

        return getattr(api, name)
    if name in ("load_config", "RunConfig"):
        from molvae import config

        return getattr(config, name)
    raise AttributeError(f"module 'molvae' has no attribute {name!r}")
