import math

import pytest

from molvae.annealing import AnnealConfig, cyclical, kl_weight, linear, logistic, word_dropout_rate
from molvae.errors import ConfigError


def test_constant():
    cfg = AnnealConfig(schedule="constant", beta=0.3)
    assert [kl_weight(t, cfg) for t in (0, 0.5, 7)] == [0.3, 0.3, 0.3]


def test_linear_values():
    assert linear(0.0, 1.0, 0.0, 2.0) == 0.0
    assert linear(0.5, 1.0, 0.0, 2.0) == pytest.approx(0.25)
    assert linear(1.0, 1.0, 0.2, 2.0) == pytest.approx(0.6)
    assert linear(5.0, 1.0, 0.0, 2.0) == 1.0
    assert linear(3.0, 0.7, 0.0, 0.0) == 0.7


def test_logistic_values():
    assert logistic(1.0, 1.0, 0.0, 2.0) == pytest.approx(0.5)  # midpoint at warmup / 2
    assert logistic(0.0, 1.0, 0.0, 2.0) == pytest.approx(1 / (1 + math.exp(5)))
    assert logistic(2.0, 1.0, 0.0, 2.0) == pytest.approx(1 / (1 + math.exp(-5)))
    values = [logistic(t / 10, 0.5, 0.0, 1.0) for t in range(11)]
    assert values == sorted(values) and values[-1] < 0.5


def test_cyclical_values():
    # period 2, rising for the first half of each cycle, then flat
    assert cyclical(0.0, 1.0, 0.0, 2.0) == 0.0
    assert cyclical(0.5, 1.0, 0.0, 2.0) == pytest.approx(0.5)
    assert cyclical(1.0, 1.0, 0.0, 2.0) == pytest.approx(1.0)
    assert cyclical(1.9, 1.0, 0.0, 2.0) == pytest.approx(1.0)
    assert cyclical(2.0, 1.0, 0.0, 2.0) == pytest.approx(0.0)  # next cycle restarts
    assert cyclical(2.5, 1.0, 0.0, 2.0) == pytest.approx(0.5)
    cfg = AnnealConfig(schedule="cyclical", beta=0.8, cycle_epochs=1.0, cycle_ratio=0.25)
    assert kl_weight(1.125, cfg) == pytest.approx(0.4)


def test_dispatch_and_word_dropout():
    cfg = AnnealConfig(schedule="linear", beta=1.0, warmup_epochs=4.0, word_dropout=0.3)
    assert kl_weight(1.0, cfg) == pytest.approx(0.25)
    assert word_dropout_rate(3.0, cfg) == 0.3


def test_unknown_schedule_is_a_config_error():
    with pytest.raises(ConfigError, match="cyclical"):
        AnnealConfig(schedule="cosine")
