"""molvae.sklearn.MolVAEEmbedder: scikit-learn's own checks (the subset that applies to a transformer
of SMILES) and the same contracts tested on SMILES."""

import pickle

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("sklearn")

from sklearn.base import clone  # noqa: E402
from sklearn.linear_model import Ridge  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.utils.estimator_checks import check_estimator  # noqa: E402

from molvae.errors import InvalidInput, MolvaeError  # noqa: E402
from molvae.sklearn import MolVAEEmbedder  # noqa: E402

# scikit-learn's checks that feed the estimator random numeric arrays and then test a property of
# the result. Numbers are not SMILES, so the embedder refuses them (InvalidInput); each property is
# tested on SMILES below instead (the test named after the check).
NUMERIC_DATA_CHECKS = {
    "check_dict_unchanged": "numeric X; see test_transform_changes_nothing",
    "check_dont_overwrite_parameters": "numeric X; see test_fit_sets_only_trailing_underscore_attributes",
    "check_dtype_object": "numeric X of dtype object; see test_inputs_of_every_shape",
    "check_estimators_dtypes": "numeric X; output dtype checked in test_inputs_of_every_shape",
    "check_estimators_fit_returns_self": "numeric X; see test_fit_returns_self_and_is_idempotent",
    "check_estimators_nan_inf": "numeric X with NaN/inf: refused as non-SMILES, with a message naming the row",
    "check_estimators_overwrite_params": "numeric X; see test_fit_sets_only_trailing_underscore_attributes",
    "check_estimators_pickle": "numeric X; see test_pickle_and_clone",
    "check_f_contiguous_array_estimator": "memory layout of numeric arrays does not apply to strings",
    "check_fit2d_1feature": "numeric X; one SMILES column is the only accepted 2-D shape (test_inputs_of_every_shape)",
    "check_fit2d_1sample": "numeric X; one molecule is fine (test_inputs_of_every_shape)",
    "check_fit2d_predict1d": "numeric X; 1-D is this estimator's natural input",
    "check_fit_check_is_fitted": "numeric X; see test_unfitted_and_fitted",
    "check_fit_idempotent": "numeric X; see test_fit_returns_self_and_is_idempotent",
    "check_fit_score_takes_y": "numeric X; fit(X, y) accepted in test_pipeline_fits_and_predicts",
    "check_methods_sample_order_invariance": "numeric X; see test_order_and_subset_invariance",
    "check_methods_subset_invariance": "numeric X; see test_order_and_subset_invariance",
    "check_n_features_in": "numeric X; n_features_in_ = 1 checked in test_unfitted_and_fitted",
    "check_n_features_in_after_fitting": "numeric X; see test_unfitted_and_fitted",
    "check_pipeline_consistency": "numeric X; see test_pipeline_fits_and_predicts",
    "check_positive_only_tag_during_fit": "numeric X",
    "check_readonly_memmap_input": "numeric memmaps do not apply to strings",
    "check_transformer_data_not_an_array": "numeric X as a list; lists of SMILES in test_inputs_of_every_shape",
    "check_transformer_general": "numeric X; fit_transform == fit + transform in test_fit_returns_self_and_is_idempotent",
    "check_transformer_preserve_dtypes": "numeric X; the output is float32 (test_inputs_of_every_shape)",
}

SMILES = ["CCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1", "CCN(CC)CC", "O=C(O)c1ccccc1", "CCOC(=O)C", "CC(C)O", "c1ccncc1"]


@pytest.fixture(scope="module")
def embedder(tiny_run):
    return MolVAEEmbedder(model=str(tiny_run / "best.pt"))


def test_scikit_learns_checks_that_apply(tiny_run):
    results = check_estimator(MolVAEEmbedder(model=str(tiny_run / "best.pt")), on_fail=None,
                              expected_failed_checks=NUMERIC_DATA_CHECKS)
    failed = sorted({r["check_name"] for r in results if r["status"] == "failed"})
    passed = {r["check_name"] for r in results if r["status"] == "passed"}
    assert failed == [], f"unexpected failures: {failed}"
    assert {"check_estimator_cloneable", "check_get_params_invariance", "check_set_params",
            "check_no_attributes_set_in_init", "check_estimators_unfitted", "check_complex_data",
            "check_estimator_sparse_array", "check_estimators_empty_data_messages"} <= passed


def test_inputs_of_every_shape(embedder):
    fitted = clone(embedder).fit(SMILES)
    z = fitted.transform(SMILES)
    assert z.shape == (len(SMILES), fitted.n_features_out_) and z.dtype == np.float32
    for same in (pd.Series(SMILES), pd.DataFrame({"smiles": SMILES}), np.array(SMILES, dtype=object)[:, None],
                 tuple(SMILES)):
        np.testing.assert_array_equal(fitted.transform(same), z)
    assert fitted.transform(SMILES[:1]).shape == (1, fitted.n_features_out_)
    for bad in ("CCO", np.zeros((3, 2)), [1.0, 2.0], pd.DataFrame({"a": SMILES, "b": SMILES}), []):
        with pytest.raises(InvalidInput):
            fitted.transform(bad)


def test_unreadable_molecules_are_nan_rows_or_an_error(embedder):
    z = clone(embedder).fit(SMILES).transform(["CCO", "not a smiles", "c1ccccc1O"])
    assert np.isnan(z[1]).all() and np.isfinite(z[[0, 2]]).all()
    strict = clone(embedder).set_params(on_error="raise").fit(SMILES)
    with pytest.raises(MolvaeError, match="row 1"):
        strict.transform(["CCO", "not a smiles"])


def test_unfitted_and_fitted(embedder):
    from sklearn.exceptions import NotFittedError

    fresh = clone(embedder)
    with pytest.raises(NotFittedError):
        fresh.transform(SMILES)
    fresh.fit(SMILES)
    assert fresh.n_features_in_ == 1
    names = fresh.get_feature_names_out()
    assert names.tolist() == [f"z_{i}" for i in range(fresh.n_features_out_)]


def test_fit_returns_self_and_is_idempotent(embedder):
    est = clone(embedder)
    assert est.fit(SMILES) is est
    once = est.transform(SMILES)
    np.testing.assert_array_equal(est.fit(SMILES[:3]).transform(SMILES), once)
    np.testing.assert_array_equal(clone(embedder).fit_transform(SMILES), once)


def test_fit_sets_only_trailing_underscore_attributes(embedder):
    est = clone(embedder)
    before = dict(est.get_params())
    est.fit(SMILES)
    assert est.get_params() == before
    new = set(vars(est)) - set(before)
    assert new and all(name.endswith("_") for name in new)


def test_transform_changes_nothing(embedder):
    est = clone(embedder).fit(SMILES)
    state = dict(vars(est))
    est.transform(SMILES)
    assert vars(est) == state


def test_order_and_subset_invariance(embedder):
    est = clone(embedder).fit(SMILES)
    z = est.transform(SMILES)
    order = np.random.default_rng(0).permutation(len(SMILES))
    np.testing.assert_allclose(est.transform([SMILES[i] for i in order]), z[order], atol=1e-6)
    np.testing.assert_allclose(est.transform(SMILES[2:5]), z[2:5], atol=1e-6)


def test_pickle_and_clone(embedder):
    est = clone(embedder).fit(SMILES)
    again = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(again.transform(SMILES), est.transform(SMILES))
    assert clone(est).get_params() == est.get_params()


def test_pipeline_fits_and_predicts(embedder):
    y = np.arange(len(SMILES), dtype=float)
    model = make_pipeline(clone(embedder), Ridge(alpha=1.0)).fit(SMILES, y)
    assert model.predict(SMILES[:3]).shape == (3,)


def test_standardize_and_spellings_are_parameters(embedder):
    charged = ["CC[NH3+]"]
    assert np.isnan(clone(embedder).fit(SMILES).transform(charged)).all()
    assert np.isfinite(clone(embedder).set_params(standardize=True).fit(SMILES).transform(charged)).all()
    spelled = clone(embedder).set_params(spellings=3).fit(SMILES).transform(SMILES)
    assert spelled.shape == (len(SMILES), clone(embedder).fit(SMILES).n_features_out_)
