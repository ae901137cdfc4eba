"""Randomized-SMILES augmentation: spellings, their cache, augmented batches and training, averaged encodings."""

import numpy as np
import pandas as pd
import pytest

import molvae.chem
from molvae.chem import canonical_smiles, decode_many, random_spellings, spell_many
from molvae.data import load_molecules
from molvae.spellings import add_spellings

from conftest import tiny_config


@pytest.fixture(scope="module")
def molecules(moses_300):
    return load_molecules(moses_300, max_len=80, cache_dir="", workers=1, progress=False)


def test_random_spellings_are_the_same_molecule(molecules):
    for smiles in molecules.smiles[:50]:
        spelled = random_spellings(smiles, 5, seed=3)
        assert len(spelled) == 5 and len(set(spelled)) > 1
        assert {canonical_smiles(s) for s in spelled} == {smiles}
        assert random_spellings(smiles, 5, seed=3) == spelled  # reproducible
        # and through SELFIES: each spelling's tokens decode to the same canonical molecule
        assert set(decode_many(["".join(t) for t in spell_many([smiles], 5, seed=3)[0]])) == {smiles}


def test_spellings_are_cached_and_reused(molecules, tmp_path, monkeypatch):
    first = add_spellings(molecules.subset(np.arange(40)), 3, max_len=80, cache_dir=tmp_path, workers=1, progress=False)
    assert first.spellings.shape[:2] == (40, 4) and len(list(tmp_path.glob("spellings-*.npz"))) == 1
    # slot 0 is the canonical spelling
    width = molecules.tokens.shape[1]
    np.testing.assert_array_equal(first.spellings[:, 0, :width], molecules.tokens[:40])

    def boom(*args, **kwargs):
        raise AssertionError("spellings recomputed instead of read from the cache")

    monkeypatch.setattr(molvae.chem, "spell_many", boom)
    again = add_spellings(molecules.subset(np.arange(40)), 3, max_len=80, cache_dir=tmp_path, workers=1, progress=False)
    np.testing.assert_array_equal(again.spellings, first.spellings)
    with pytest.raises(AssertionError, match="recomputed"):  # another seed is another cache entry
        add_spellings(molecules.subset(np.arange(40)), 3, max_len=80, seed=1, cache_dir=tmp_path, workers=1, progress=False)


@pytest.mark.parametrize("mode", ["input", "target", "both"])
def test_augmented_batches(molecules, mode):
    ms = add_spellings(molecules.subset(np.arange(30)), 3, max_len=80, cache_dir="", workers=1, progress=False)
    idx = np.arange(30) + 30 * 2  # every molecule in its second random spelling
    batch = ms.collate_spelled(idx, mode)
    canon = ms.collate(np.arange(30))

    def decoded(tokens, lengths):
        return decode_many([ms.vocab.decode(t[: int(n) - 1].numpy()) for t, n in zip(tokens, lengths)])

    target = decoded(batch["tokens"], batch["lengths"])
    encoder = decoded(batch.get("enc_tokens", batch["tokens"]), batch.get("enc_lengths", batch["lengths"]))
    assert target == encoder == ms.smiles  # every side holds the same molecules
    if mode == "input":
        assert batch["tokens"].equal(canon["tokens"]) and not batch["enc_tokens"].equal(canon["tokens"][:, : batch["enc_tokens"].shape[1]])
    if mode == "target":
        assert batch["enc_tokens"].equal(canon["tokens"])


def test_augmented_training_records_the_option_and_learns(moses_300, tmp_path):
    from molvae.api import MolVAE, train
    from molvae.checkpoint import load_checkpoint

    cfg = tiny_config(moses_300, epochs=3)
    cfg.data.augment, cfg.data.augment_spellings, cfg.data.cache_dir = "input", 2, str(tmp_path / "cache")
    best = train(cfg, tmp_path / "run", progress=False)
    meta = load_checkpoint(best)["meta"]
    assert meta["run_config"]["data"]["augment"] == "input" and meta["run_config"]["data"]["augment_spellings"] == 2
    assert 'augment = "input"' in (tmp_path / "run" / "config.toml").read_text()
    log = pd.read_csv(tmp_path / "run" / "log.csv")
    assert log.train_recon.iloc[-1] < log.train_recon.iloc[0]

    vae = MolVAE.load(best)
    smiles = ["CC(=O)Nc1ccc(O)cc1", "not a molecule", "c1ccccc1CCN"]
    plain = vae.encode(smiles, errors="nan")
    averaged = vae.encode(smiles, errors="nan", spellings=3)
    assert np.isnan(averaged[1]).all() and not np.isnan(averaged[[0, 2]]).any()
    assert not np.allclose(plain[[0, 2]], averaged[[0, 2]])
    np.testing.assert_allclose(vae.encode(smiles, errors="nan", spellings=3), averaged)  # seeded


def test_unknown_augmentation_is_a_config_error(moses_300, tmp_path):
    from molvae.api import train
    from molvae.errors import ConfigError

    cfg = tiny_config(moses_300)
    cfg.data.augment = "sideways"
    with pytest.raises(ConfigError, match="data.augment"):
        train(cfg, tmp_path / "run", progress=False)
