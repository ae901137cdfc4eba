"""scripts/studies/campaign.py: the learning curve's projection, its ring count and its figure."""

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def campaign(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "scripts"))
    spec = importlib.util.spec_from_file_location("campaign", ROOT / "scripts" / "studies" / "campaign.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_projection_recovers_a_power_law(campaign):
    epochs = np.array([0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0])
    fcd = 0.4 + 2.0 * (epochs + 1) ** -0.8
    a, b, c = campaign.projection(epochs, fcd)
    assert a == pytest.approx(0.4, abs=0.02) and b == pytest.approx(2.0, abs=0.05) and c == pytest.approx(0.8, abs=0.06)
    assert campaign.projection(epochs[:4], fcd[:4]) is None  # three rows after the start: too few to fit


def test_large_ring_fraction_counts_rings_of_eight_or_more(campaign):
    assert campaign.large_ring_fraction(["C1CCCCCCC1", "c1ccccc1", "C1CCCCCC1", "CCO"]) == 0.25


def test_the_figure_is_drawn_from_the_table(campaign, tmp_path):
    table = pd.DataFrame({"epoch": [0, 0.5, 1.0, 1.5, 2.0], "FCD/Test": [2.1, 1.9, 1.7, 1.6, 1.5],
                          "Filters": [0.87, 0.88, 0.89, 0.9, 0.9], "n": 10_000, "width": 0.7,
                          "Novelty": [0.86, 0.86, 0.85, 0.85, 0.84]})
    campaign.plot(table, tmp_path / "c.png")
    assert (tmp_path / "c.png").stat().st_size > 10_000
