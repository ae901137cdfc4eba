"""The latent-space tools (molvae.space) and their verbs, on the tiny model."""

import importlib.util

import numpy as np
import pandas as pd
import pytest

from molvae import space
from molvae.cli import main
from molvae.errors import ConfigError, MolvaeError
from molvae.io import read_table

ASPIRIN = "CC(=O)Oc1ccccc1C(=O)O"
CAFFEINE = "Cn1cnc2c1c(=O)n(C)c(=O)n2C"
BAD = ["C1CC", "", "[U]", "C" * 120]  # unparsable, empty, unknown token, too long


@pytest.fixture(scope="module")
def train_smiles(moses_300):
    return pd.read_csv(moses_300).iloc[:, 0].tolist()


# ----------------------------------------------------------------------------- encode


@pytest.mark.parametrize("name", ["emb.csv", "emb.csv.gz", "emb.npy", "emb.sdf"])
def test_encode_to_file_accounts_for_every_row(tiny_model, train_smiles, tmp_path, name):
    smiles = train_smiles[:20] + BAD
    out = tmp_path / name
    summary = space.encode_to_file(tiny_model, smiles, out, chunk=7, progress=False)
    rejects = pd.read_csv(space.rejects_path(out))
    assert summary["encoded"] + summary["rejected"] == len(smiles) == 24
    assert sorted(rejects.row) == [20, 21, 22, 23]
    expected = tiny_model.encode(smiles, errors="nan")
    if name.endswith(".npy"):
        arr = np.load(out)
        assert arr.shape == (24, tiny_model.config.latent_dim)
        np.testing.assert_allclose(arr[:20], expected[:20], rtol=1e-5, atol=1e-6)
        assert np.isnan(arr[20:]).all()
    else:
        df = read_table(out) if name.endswith(".sdf") else pd.read_csv(out)
        assert df.row.astype(int).tolist() == list(range(20))
        np.testing.assert_allclose(df.filter(like="z_").astype(float).to_numpy(), expected[:20], rtol=1e-4, atol=1e-5)


def test_encode_logvar_and_format_errors(tiny_model, tmp_path):
    out = tmp_path / "e.csv"
    space.encode_to_file(tiny_model, [ASPIRIN], out, logvar=True, progress=False)
    d = tiny_model.config.latent_dim
    assert list(pd.read_csv(out).columns[:5]) == ["row", "input", "smiles", "in_domain", "domain_note"]
    assert pd.read_csv(out).shape[1] == 5 + 2 * d
    with pytest.raises(ConfigError, match="cannot tell the output format"):
        space.encode_to_file(tiny_model, [ASPIRIN], tmp_path / "e.xlsx", progress=False)
    if importlib.util.find_spec("pyarrow") is None:
        with pytest.raises(ConfigError, match="pyarrow"):
            space.encode_to_file(tiny_model, [ASPIRIN], tmp_path / "e.parquet", progress=False)
    assert not list(tmp_path.glob(".*tmp*"))  # no temporary file left behind


# ----------------------------------------------------------------------------- interpolate


def test_slerp_ends_and_norm():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=8), rng.normal(size=8)
    b *= np.linalg.norm(a) / np.linalg.norm(b)
    path = space.slerp(a, b, np.linspace(0, 1, 5))
    np.testing.assert_allclose(path[0], a)
    np.testing.assert_allclose(path[-1], b)
    np.testing.assert_allclose(np.linalg.norm(path, axis=1), np.linalg.norm(a))  # a straight line would dip
    np.testing.assert_allclose(space.slerp(a, 2 * a, np.array([0.5]))[0], 1.5 * a)  # parallel: linear


def test_interpolate(tiny_model):
    df = space.interpolate(tiny_model, ASPIRIN, CAFFEINE, steps=6, method="both")
    assert len(df) == 14 and set(df.method) == {"linear", "slerp"}
    for _, part in df.groupby("method"):
        assert part.t.tolist() == pytest.approx(np.linspace(0, 1, 7), abs=1e-6)
        assert part.valid.all()  # SELFIES always decode to a molecule
        seen = set()
        for smi, new in zip(part.smiles, part.new):
            if smi in seen:
                assert not new  # a repeat is never new
            seen.add(smi)
    assert df[["sim_start", "sim_end"]].stack().between(0, 1).all()
    with pytest.raises(MolvaeError, match="row 1"):
        space.interpolate(tiny_model, ASPIRIN, "C1CC")
    with pytest.raises(ConfigError):
        space.interpolate(tiny_model, ASPIRIN, CAFFEINE, method="cubic")


# ----------------------------------------------------------------------------- explore


def test_explore(tiny_model):
    df = space.explore(tiny_model, ASPIRIN, n=40, radius=3.0, seed=1)
    assert df.smiles.is_unique and df["count"].sum() <= 40
    assert df.similarity.is_monotonic_decreasing
    assert {"qed", "logp", "sa", "mw", "distance", "is_start"} <= set(df.columns)
    again = space.explore(tiny_model, ASPIRIN, n=40, radius=3.0, seed=1)
    pd.testing.assert_frame_equal(df, again)
    still = space.explore(tiny_model, ASPIRIN, n=10, radius=0.0, properties="none")
    assert len(still) == 1 and still["count"][0] == 10 and still.distance[0] == 0


# ----------------------------------------------------------------------------- score


def test_score_bounds_and_rejects(tiny_model, train_smiles):
    smiles = train_smiles[:40] + BAD
    one = space.score(tiny_model, smiles, k=1, seed=0)
    many = space.score(tiny_model, smiles, k=64, seed=0)
    ok = many.reason == ""
    assert ok.sum() == 40 and (many.reason[~ok] != "").all() and many.nll[~ok].isna().all()
    # IWAE: the k-sample bound tightens with k and lies under the ELBO (both in expectation)
    assert many.nll[ok].mean() <= one.nll[ok].mean() + 0.05
    assert many.nll[ok].mean() <= many.neg_elbo[ok].mean() + 0.05
    assert (many.recon_nll[ok] >= 0).all()
    assert (many.nll_per_token[ok] * many.tokens[ok]).round(4).tolist() == many.nll[ok].round(4).tolist()
    pd.testing.assert_frame_equal(many, space.score(tiny_model, smiles, k=64, seed=0))


def test_auroc():
    assert space.auroc([3, 4], [1, 2]) == 1.0
    assert space.auroc([1, 2], [3, 4]) == 0.0
    assert space.auroc([1, 1], [1, 1]) == 0.5
    assert space.auroc([2, np.nan], [1]) == 1.0
    with pytest.raises(MolvaeError):
        space.auroc([], [1])


# ----------------------------------------------------------------------------- verbs


def test_verbs(tiny_run, tmp_path, moses_300, capsys):
    model = ["-m", str(tiny_run / "best.pt"), "--device", "cpu"]
    bad = tmp_path / "mixed.csv"
    pd.DataFrame({"smiles": pd.read_csv(moses_300).iloc[:10, 0].tolist() + BAD}).to_csv(bad, index=False)

    assert main(["encode", str(bad), *model, "-o", str(tmp_path / "e.npy"), "-q"]) == 0
    assert "10 of 14 rows encoded; 4 rejected" in capsys.readouterr().out
    assert (tmp_path / "e.npy.meta.json").is_file()

    assert main(["score", str(bad), *model, "-o", str(tmp_path / "s.csv"), "-k", "4", "-q"]) == 0
    scores = pd.read_csv(tmp_path / "s.csv", keep_default_na=False)
    assert len(scores) == 14 and (scores.reason != "").sum() == 4

    assert main(["interpolate", ASPIRIN, CAFFEINE, *model, "--steps", "4", "-o", str(tmp_path / "i.csv")]) == 0
    assert len(pd.read_csv(tmp_path / "i.csv")) == 5 and (tmp_path / "i.png").stat().st_size > 1000

    assert main(["explore", ASPIRIN, *model, "-n", "20", "-o", str(tmp_path / "x.csv")]) == 0
    assert (tmp_path / "x.png").is_file() and len(pd.read_csv(tmp_path / "x.csv")) >= 1

    assert main(["map", str(bad), *model, "-o", str(tmp_path / "m.png")]) == 0
    coords = pd.read_csv(tmp_path / "m.csv")
    assert len(coords) == 10 and {"x", "y", "qed"} <= set(coords.columns)
    assert (tmp_path / "m.png").stat().st_size > 1000

    assert main(["encode", str(bad), *model, "-o", str(tmp_path / "e.txt")]) == 2
    assert "cannot tell the output format" in capsys.readouterr().err
    assert main(["interpolate", "C1CC", CAFFEINE, *model]) == 2
    assert "row 0" in capsys.readouterr().err


def test_plots(tmp_path):
    from molvae.plots import latent_map, molecule_grid, property_distributions

    rng = np.random.default_rng(0)
    assert latent_map(rng.normal(size=(50, 8)), tmp_path / "m.png", values=rng.random(50), label="qed").stat().st_size > 1000
    frames = {"a": pd.DataFrame({"qed": rng.random(100)}), "b": pd.DataFrame({"qed": rng.random(80)})}
    assert property_distributions(frames, ["qed"], tmp_path / "p.png").stat().st_size > 1000
    assert molecule_grid([ASPIRIN, "not a smiles", CAFFEINE], tmp_path / "g.png", legends=["a", "b", "c"]).stat().st_size > 1000
    if importlib.util.find_spec("umap") is None:
        with pytest.raises(ConfigError, match="umap-learn"):
            latent_map(rng.normal(size=(5, 3)), tmp_path / "u.png", method="umap")


def test_one_smiles_string_is_one_molecule(tiny_model, tmp_path):
    assert len(space.score(tiny_model, ASPIRIN, k=2)) == 1
    summary = space.encode_to_file(tiny_model, ASPIRIN, tmp_path / "e.csv", progress=False)
    assert summary["rows"] == summary["encoded"] == 1
    table, mu = space.latent_coordinates(tiny_model, ASPIRIN, color="none")
    assert table.input.tolist() == [ASPIRIN] and mu.shape == (1, tiny_model.config.latent_dim)
