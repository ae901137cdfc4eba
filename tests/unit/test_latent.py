"""Collapse diagnostics on posteriors whose answers are known in closed form."""

import math

import numpy as np
import pytest

from molvae.latent import active_units, collapse_diagnostics, collapse_warning, kl_per_dimension, mutual_information

RNG = np.random.default_rng(0)


def test_kl_per_dimension_closed_form():
    mu = np.array([[1.0, 0.0], [-1.0, 0.0]])
    logvar = np.array([[0.0, math.log(0.25)], [0.0, math.log(0.25)]])
    # dim 0: 0.5 * mu^2 = 0.5; dim 1: 0.5 * (0.25 - 1 - log 0.25)
    np.testing.assert_allclose(kl_per_dimension(mu, logvar), [0.5, 0.5 * (0.25 - 1 - math.log(0.25))])


def test_active_units_counts_dimensions_whose_means_vary():
    mu = np.zeros((500, 4))
    mu[:, 0] = RNG.normal(size=500)          # informative
    mu[:, 1] = 0.05 * RNG.normal(size=500)   # variance 0.0025 < 0.01
    mu[:, 2] = 0.3 * RNG.normal(size=500)    # variance 0.09
    assert active_units(mu).tolist() == [True, False, True, False]


def test_mutual_information_of_a_collapsed_posterior_is_zero():
    # q(z|x) = N(0, I) for every x: z says nothing about x
    mu, logvar = np.zeros((400, 8)), np.zeros((400, 8))
    assert mutual_information(mu, logvar) == pytest.approx(0.0, abs=1e-9)
    diag = collapse_diagnostics(mu, logvar)
    assert diag["active_units"] == 0 and "posterior collapse" in collapse_warning(diag)


def test_mutual_information_of_sharp_distinct_posteriors_reaches_log_n():
    # well separated, nearly deterministic posteriors: z identifies x, I = log N
    n = 300
    mu = RNG.normal(scale=10.0, size=(n, 4))
    logvar = np.full((n, 4), math.log(1e-4))
    assert mutual_information(mu, logvar) == pytest.approx(math.log(n), abs=0.15)
    diag = collapse_diagnostics(mu, logvar)
    assert diag["active_fraction"] == 1.0 and collapse_warning(diag) is None


def test_mutual_information_of_a_gaussian_channel():
    # x ~ N(0, 1) per dim, q(z|x) = N(x, s^2): I per dim -> 0.5 log(1 + 1/s^2) as N grows
    n, d, s = 2000, 2, 0.5
    mu = RNG.normal(size=(n, d))
    logvar = np.full((n, d), 2 * math.log(s))
    expected = d * 0.5 * math.log(1 + 1 / s**2)
    assert mutual_information(mu, logvar, samples=2) == pytest.approx(expected, rel=0.1)


def test_a_handful_of_molecules_is_called_tiny_not_collapsed():
    # one molecule: no spread of posterior means, so "0 active units" says nothing about collapse
    diag = collapse_diagnostics(np.zeros((1, 8)), np.zeros((1, 8)))
    assert diag["molecules"] == 1
    warning = collapse_warning(diag)
    assert warning.startswith("only 1 validation molecule: too few to tell") and "posterior collapse:" not in warning
    assert "train.init_from" in warning  # the Python spelling outside the command line
