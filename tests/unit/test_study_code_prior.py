"""scripts/studies/study_code_prior.py: the codes of each row and the Markdown table of docs/quality.md."""

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def study(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "scripts"))  # the script imports harness.py, in scripts/
    spec = importlib.util.spec_from_file_location("study_code_prior", ROOT / "scripts" / "studies" / "study_code_prior.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_codes_of_each_row(study):
    rng = np.random.default_rng(0)
    mu = np.array([[4.0, 0.0], [0.0, 4.0]], np.float32)
    sigma = np.array([[0.1, 0.2], [0.3, 0.4]], np.float32)
    wide = study.codes("bank_w2", 20_000, mu, sigma, rng)
    first = wide[:, 0] > 2
    np.testing.assert_allclose(wide[first].std(0), 2 * sigma[0], rtol=0.05)
    np.testing.assert_allclose(wide[~first].mean(0), mu[1], atol=0.05)
    normal = study.codes("normal", 20_000, mu, sigma, rng)
    np.testing.assert_allclose(normal.std(0), [1, 1], rtol=0.05)
    between = study.codes("slerp", 2_000, mu, sigma, rng)
    # on the arc between the two means (equal norms): the norm is kept, and t in [0.25, 0.75]
    np.testing.assert_allclose(np.linalg.norm(between[(between > 0).all(1)], axis=1), 4.0, rtol=1e-4)
    angle = np.degrees(np.arctan2(between[:, 1], between[:, 0]))
    parallel = (between <= 0).any(1)  # the same mean twice: the mean itself
    assert ((angle[~parallel] >= 22.5 - 1e-3) & (angle[~parallel] <= 67.5 + 1e-3)).all()


def test_markdown_orders_each_models_rows_by_width(study):
    row = {"FCD/Test": 1.0, "Filters": 0.9, "SNN/Test": 0.5, "Scaf/Test": 0.8, "Novelty": 0.9, "unique@10k": 1.0,
           "mean_sa": 3.0}
    table = pd.DataFrame([{"model": "a", "source": s, **row} for s in ("bank_w1.5", "slerp", "normal", "bank_w1")]
                         + [{"model": "b", "source": "bank_w0.8", **row}])
    lines = study.markdown(table).splitlines()
    assert [line.split(" | ")[1] for line in lines[2:]] == [
        "N(0, I)", "bank, W = 1", "bank, W = 1.5", "slerp between two bank means", "bank, W = 0.8"]
    assert lines[2].startswith("| a |") and lines[-1].startswith("| b |")
    assert lines[2].endswith("|  |  |  |  |")  # no relaxed columns measured: empty cells, not NaN
