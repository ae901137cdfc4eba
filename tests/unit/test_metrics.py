"""Each MOSES metric on small cases that can be checked by hand."""

import numpy as np
import pytest
from rdkit import Chem, DataStructs
from rdkit.Chem import AllChem

from molvae import metrics as M
from molvae.data import canonical_set


def mol(s):
    return Chem.MolFromSmiles(s)


def fps(smiles):
    return M.features(smiles).fps


def test_tanimoto_matches_rdkit():
    smiles = ["CCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1", "CCN(CC)CC", "O=C(O)c1ccccc1"]
    got = M.aggregate_tanimoto(fps(smiles[:2]), fps(smiles), "mean", block=2)
    bitvects = [AllChem.GetMorganFingerprintAsBitVect(mol(s), 2, nBits=1024) for s in smiles]
    for i in range(2):
        assert got[i] == pytest.approx(np.mean(DataStructs.BulkTanimotoSimilarity(bitvects[i], bitvects)))


def test_snn_and_intdiv_by_hand():
    a, b = "CCO", "c1ccccc1"
    t = DataStructs.TanimotoSimilarity(*(AllChem.GetMorganFingerprintAsBitVect(mol(s), 2, nBits=1024) for s in (a, b)))
    assert M.aggregate_tanimoto(fps([a, b]), fps([a]), "max").tolist() == pytest.approx([1.0, t])
    # IntDiv of {a, b}: 1 - mean_i mean_j T(i, j) with self-pairs = 1 - (1 + t) / 2
    assert 1 - M.aggregate_tanimoto(fps([a, b]), fps([a, b]), "mean").mean() == pytest.approx(1 - (1 + t) / 2)
    p2 = M.aggregate_tanimoto(fps([a, b]), fps([a, b]), "mean", p=2)
    assert p2.tolist() == pytest.approx([np.sqrt((1 + t * t) / 2)] * 2)
    assert M.aggregate_tanimoto(fps([a, a]), fps([a, a]), "mean").tolist() == [1.0, 1.0]


def test_empty_fingerprints_count_as_identical():
    empty = np.zeros((1, M.FP_BITS // 8), np.uint8)
    assert M.aggregate_tanimoto(empty, empty, "max").tolist() == [1.0]


@pytest.mark.parametrize("agg, p", [("max", 1), ("mean", 1), ("mean", 2)])
def test_sparse_similarity_search_equals_every_pair_by_hand(agg, p):
    # sparse random fingerprints with empty rows on both sides, in blocks smaller than either set
    rng = np.random.default_rng(0)
    bits = (rng.random((23, M.FP_BITS)) < 0.04).astype(np.uint8)
    bits[[3, 17]] = 0
    gen, ref = np.packbits(bits[:9], axis=1), np.packbits(bits[5:], axis=1)
    g, r = bits[:9].astype(float), bits[5:].astype(float)
    both = g @ r.T
    union = g.sum(1)[:, None] + r.sum(1)[None, :] - both
    sim = np.where(union == 0, 1.0, both / np.maximum(union, 1))
    want = sim.max(1) if agg == "max" else (sim**p).mean(1) ** (1 / p)
    assert M.aggregate_tanimoto(gen, ref, agg, p, block=4) == pytest.approx(want, abs=1e-6)


def test_cosine_similarity():
    assert M.cosine_similarity({"a": 1, "b": 1}, {"a": 2, "b": 2}) == pytest.approx(1.0)
    assert M.cosine_similarity({"a": 1}, {"b": 3}) == 0.0
    assert M.cosine_similarity({"a": 1, "b": 1}, {"a": 1}) == pytest.approx(1 / np.sqrt(2))
    assert np.isnan(M.cosine_similarity({}, {"a": 1}))


def test_fragments_and_scaffolds():
    m = mol("CCOc1ccc(C(=O)NCc2ccccc2)cc1")
    assert sorted(M.brics_fragments(m)) == sorted(
        ["[1*]C([6*])=O", "[16*]c1ccc([16*])cc1", "[16*]c1ccccc1", "[3*]O[3*]", "[4*]CC", "[4*]C[8*]", "[5*]N[5*]"])
    assert M.scaffold(m) == "O=C(NCc1ccccc1)c1ccccc1"
    assert M.scaffold(mol("CCc1ccccc1")) is None  # one ring: below MOSES' two-ring minimum
    assert M.scaffold(mol("CCCC")) is None


@pytest.mark.parametrize("smiles, ok", [
    ("c1ccccc1", True),
    ("CC(=O)Nc1ccc(O)cc1", True),
    ("C[N+](C)(C)C", False),      # charged
    ("CCP(C)C", False),           # phosphorus is not an allowed atom
    ("C1CCCCCCC1", False),        # eight-membered ring
    ("CC1=CC(=O)C=CC1=O", False),  # quinone: an MCF/PAINS hit
    ("CN1c2ccccc2Sc2ccccc21", False),
])
def test_filters(smiles, ok):
    assert M.passes_filters(mol(smiles)) is ok


def test_identical_sets_score_perfectly():
    smiles = ["CCOc1ccc(C(=O)NCc2ccccc2)cc1", "CC(=O)Nc1ccc(O)cc1", "O=C(O)c1ccccc1", "c1ccc2ccccc2c1",
              "CN1CCC(c2ccccc2)CC1", "CCN(CC)C(=O)c1cccnc1"]
    ref = M.reference_stats(smiles, "same", progress=False)
    out = M.evaluate(smiles, {"Ref": ref}, train=set(), progress=False)
    assert out["valid"] == 1 and out["unique@1k"] == 1
    assert out["SNN/Ref"] == pytest.approx(1.0)
    assert out["Frag/Ref"] == pytest.approx(1.0) and out["Scaf/Ref"] == pytest.approx(1.0)
    assert abs(out["FCD/Ref"]) < 1e-3
    for name in M.PROPERTIES:
        assert out[name] == pytest.approx(0.0, abs=1e-9)
    assert out["Novelty"] == 1.0


def test_duplicates_invalid_rows_and_novelty():
    ref = M.reference_stats(["c1ccccc1", "CCO", "CCN"], "r", progress=False)
    samples = ["CCO", "OCC", "C(O)C", "not a smiles", "", None, "c1ccccc1", "C1CC"]
    with pytest.warns(UserWarning, match=r"only 4 valid molecules: unique@10 uses all"):
        out = M.evaluate(samples, {"Ref": ref}, train={"CCO"}, ks=(2, 4, 10), progress=False)
    assert out["valid"] == pytest.approx(4 / 8)
    assert out["unique@2"] == pytest.approx(1 / 2)   # CCO twice
    assert out["unique@4"] == pytest.approx(2 / 4)   # three CCO + benzene
    assert out["unique@10"] == pytest.approx(2 / 4)  # fewer than 10 valid: all of them
    assert out["Novelty"] == pytest.approx(1 / 2)    # of {CCO, benzene}, benzene is new
    assert out["IntDiv"] == pytest.approx(1 - M.aggregate_tanimoto(
        fps(["CCO"] * 3 + ["c1ccccc1"]), fps(["CCO"] * 3 + ["c1ccccc1"]), "mean").mean())


def test_nothing_valid_gives_validity_zero_and_no_crash():
    ref = M.reference_stats(["c1ccccc1", "CCO"], "r", progress=False)
    out = M.evaluate(["", "xx"], {"Ref": ref}, progress=False)
    assert out["valid"] == 0 and np.isnan(out["unique@1k"]) and "FCD/Ref" not in out


def test_reference_round_trip(tmp_path):
    ref = M.reference_stats(["CCOc1ccc(C(=O)NCc2ccccc2)cc1", "CCO", "c1ccc2ccccc2c1"], "x", progress=False)
    ref.save(tmp_path / "ref.npz")
    again = M.Reference.load(tmp_path / "ref.npz")
    assert again.name == "x" and again.info["n"] == 3
    np.testing.assert_array_equal(again.features.fps, ref.features.fps)
    np.testing.assert_allclose(again.fcd_sigma, ref.fcd_sigma)
    assert again.features.fragments == ref.features.fragments and again.features.scaffolds == ref.features.scaffolds
    for k in M.PROPERTIES:
        np.testing.assert_array_equal(again.features.properties[k], ref.features.properties[k])
    # the shipped statistics are float32 (a smaller wheel) and come back as float64
    ref.save(tmp_path / "small.npz", dtype=np.float32)
    small = M.Reference.load(tmp_path / "small.npz")
    assert small.fcd_sigma.dtype == np.float64
    np.testing.assert_allclose(small.fcd_sigma, ref.fcd_sigma, rtol=1e-6, atol=1e-7)


def test_canonical_set_is_cached(tmp_path, monkeypatch):
    p = tmp_path / "train.csv"
    p.write_text("smiles\nOCC\nCCO\nxx\nc1ccccc1\n")
    assert canonical_set(p, cache_dir=tmp_path / "c", progress=False) == {"CCO", "c1ccccc1"}
    from molvae import data
    monkeypatch.setattr(data, "canonicalize", lambda *a, **k: pytest.fail("not cached"))
    assert canonical_set(p, cache_dir=tmp_path / "c", progress=False) == {"CCO", "c1ccccc1"}


def test_streamed_chemnet_moments_match_fcd_torch():
    import warnings

    from fcd_torch import FCD

    smiles = ["CCO", "c1ccccc1", "CC(=O)Nc1ccc(O)cc1", "CCN(CC)CC", "O=C(O)c1ccccc1", "CC(C)Cc1ccc(C)cc1"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        acts = FCD(device="cpu", n_jobs=1).get_predictions(smiles)  # fcd_torch's own path
    mu, sigma = M.chemnet_stats(smiles, batch_size=4)  # two batches
    np.testing.assert_allclose(mu, acts.mean(0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(sigma, np.cov(acts.T), rtol=1e-4, atol=1e-6)


def test_frechet_distance_matches_fcd_torch_and_closed_forms():
    import warnings

    from fcd_torch.utils import calculate_frechet_distance

    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(6, 6)), rng.normal(size=(6, 6))
    s1, s2 = a @ a.T + np.eye(6), b @ b.T + np.eye(6)
    mu1, mu2 = rng.normal(size=6), rng.normal(size=6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = calculate_frechet_distance(mu1, s1, mu2, s2)
    assert M.frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-9)
    assert M.frechet_distance(mu1, s1, mu1, s1) == pytest.approx(0.0, abs=1e-8)
    # identity covariances: only the means differ
    assert M.frechet_distance(np.zeros(3), np.eye(3), np.ones(3), np.eye(3)) == pytest.approx(3.0)


def test_one_smiles_string_is_one_molecule():
    from molvae.data import canonicalize

    assert canonicalize("OCC") == ["CCO"]
    assert M.features("CCO").fps.shape[0] == 1
    result = M.evaluate("CCO", {}, train="CCO", ks=(1,), progress=False)
    assert result["valid"] == 1.0 and result["unique@1"] == 1.0 and result["Novelty"] == 0.0
