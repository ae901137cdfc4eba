"""molvae embeddings as a scikit-learn transformer, for QSAR pipelines.

    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.linear_model import RidgeCV
    >>> from molvae.sklearn import MolVAEEmbedder
    >>> model = make_pipeline(MolVAEEmbedder(), RidgeCV()).fit(smiles_train, y_train)
    >>> model.predict(smiles_test)

Needs scikit-learn (``pip install "molvae[sklearn]"``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

try:
    from sklearn.base import BaseEstimator, TransformerMixin
    from sklearn.utils.validation import check_is_fitted
except ImportError as exc:  # pragma: no cover - the extra is missing
    from molvae.errors import MolvaeError

    raise MolvaeError('molvae.sklearn needs scikit-learn: pip install "molvae[sklearn]"') from exc

from molvae.errors import ConfigError, InvalidInput

ON_ERROR = ("nan", "raise")


def _as_smiles(X: Any) -> list[str]:
    """SMILES from a list or 1-D array of strings, a Series, or a one-column DataFrame or 2-D array."""
    if isinstance(X, pd.DataFrame):
        if X.shape[1] != 1:
            raise InvalidInput(f"MolVAEEmbedder takes one column of SMILES, got {X.shape[1]} columns")
        X = X.iloc[:, 0]
    if hasattr(X, "tocsr") or type(X).__module__.startswith("scipy.sparse"):
        raise InvalidInput("sparse input is not supported: MolVAEEmbedder takes SMILES strings")
    if isinstance(X, (str, bytes)):
        raise InvalidInput("MolVAEEmbedder takes a sequence of SMILES, not a single string; wrap it in a list")
    try:
        array = np.asarray(X, dtype=object)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"MolVAEEmbedder takes a sequence of SMILES, got {type(X).__name__}") from exc
    if array.ndim == 2 and array.shape[1] == 0:
        raise InvalidInput(f"0 feature(s) (shape={array.shape}) while a minimum of 1 is required: "
                           "MolVAEEmbedder takes one column of SMILES")
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise InvalidInput(f"MolVAEEmbedder takes a 1-D sequence of SMILES (or one column), got shape {array.shape}")
    if len(array) == 0:
        raise InvalidInput("MolVAEEmbedder got no molecules (0 rows)")
    if any(isinstance(v, complex) for v in array):
        raise InvalidInput("Complex data not supported: MolVAEEmbedder takes SMILES strings")
    bad = [i for i, v in enumerate(array) if not isinstance(v, str)]
    if bad:
        raise InvalidInput(f"MolVAEEmbedder takes SMILES strings; row {bad[0]} holds {array[bad[0]]!r} "
                          f"({len(bad)} non-string rows)")
    return list(array)


class MolVAEEmbedder(TransformerMixin, BaseEstimator):
    """SMILES -> posterior means of a molvae model, shape (n, latent_dim).

    Parameters
    ----------
    model : path of a checkpoint, a loaded :class:`molvae.api.MolVAE`, or None for the shipped model.
    spellings : average each embedding over this many random SMILES spellings too (0: canonical only).
    standardize : standardize molecules with RDKit first (largest fragment, neutral, no stereo).
    on_error : ``"nan"`` gives a molecule the model cannot read a row of NaN (impute or drop it
        downstream); ``"raise"`` raises :class:`molvae.errors.MolvaeError` naming the rows.
    device : where the network runs (``"cpu"``, ``"cuda"``, ``"auto"``).
    seed : seed of the random spellings.

    Fitting loads the model (it learns nothing from the data): ``fit`` then ``transform`` on new
    molecules is the same as ``fit_transform`` on them. Input is SMILES (a list, a Series, or one
    column of a DataFrame); anything else raises :class:`molvae.errors.InvalidInput` (a ValueError).
    """

    def __init__(self, model: str | os.PathLike | Any | None = None, spellings: int = 0, standardize: bool = False,
                 on_error: str = "nan", device: str = "cpu", seed: int = 0):
        self.model = model
        self.spellings = spellings
        self.standardize = standardize
        self.on_error = on_error
        self.device = device
        self.seed = seed

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.requires_fit = True
        tags.target_tags.required = False
        tags.non_deterministic = False
        return tags

    def fit(self, X: Sequence[str], y: Any = None) -> "MolVAEEmbedder":
        """Check that X holds SMILES and load the model (nothing is learned: the embedding is fixed)."""
        from molvae.api import MolVAE

        _as_smiles(X)
        if self.on_error not in ON_ERROR:
            raise ConfigError(f"on_error must be one of {', '.join(ON_ERROR)}, got {self.on_error!r}")
        if not isinstance(self.spellings, (int, np.integer)) or self.spellings < 0:
            raise ConfigError(f"spellings must be a whole number >= 0, got {self.spellings!r}")
        if isinstance(self.model, MolVAE):
            vae = self.model
        else:
            vae = MolVAE.load(self.model, device=self.device)
        self.vae_ = vae
        self.n_features_out_ = vae.config.latent_dim
        self.n_features_in_ = 1  # one column: the SMILES
        return self

    def transform(self, X: Sequence[str]) -> np.ndarray:
        """(n, latent_dim) float32 posterior means; NaN rows for molecules the model cannot read
        (with ``on_error="nan"``)."""
        check_is_fitted(self, "vae_")
        smiles = _as_smiles(X)
        vae = self.vae_
        saved = vae.standardize
        vae.standardize = bool(self.standardize)
        try:
            return vae.encode(smiles, errors="raise" if self.on_error == "raise" else "nan",
                              spellings=int(self.spellings), seed=self.seed)
        finally:
            vae.standardize = saved

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """``z_0`` ... ``z_{D-1}``."""
        check_is_fitted(self, "vae_")
        return np.asarray([f"z_{i}" for i in range(self.n_features_out_)], dtype=object)
