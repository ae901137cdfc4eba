"""The code-bank prior: molvae fit-prior stores it, molvae sample draws from it."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from molvae.cli.main import main
from molvae.errors import MolvaeError
from molvae.prior import CodeBank, resolve_prior


def test_bank_draws_follow_each_posterior_at_the_width():
    mu = torch.tensor([[3.0, -2.0], [-5.0, 1.0]])
    sigma = torch.tensor([[0.5, 0.1], [0.2, 2.0]])
    bank = CodeBank(mu, sigma, width=1.0)
    gen = torch.Generator().manual_seed(0)
    z = bank.sample(40_000, generator=gen)
    first = z[:, 0] > -1  # the two posteriors do not overlap in the first dimension
    assert 0.48 < first.float().mean() < 0.52  # each molecule is drawn equally often
    for rows, m, s in ((first, mu[0], sigma[0]), (~first, mu[1], sigma[1])):
        torch.testing.assert_close(z[rows].mean(0), m, atol=0.05, rtol=0)
        torch.testing.assert_close(z[rows].std(0), s, atol=0.05, rtol=0.03)
    wide = bank.sample(40_000, generator=gen, width=2.0)
    torch.testing.assert_close(wide[wide[:, 0] > -1].std(0), 2 * sigma[0], atol=0.05, rtol=0.03)
    again = bank.sample(5, generator=torch.Generator().manual_seed(7))
    torch.testing.assert_close(again, bank.sample(5, generator=torch.Generator().manual_seed(7)))
    with pytest.raises(MolvaeError, match="width"):
        bank.sample(3, width=0)
    with pytest.raises(MolvaeError, match="one shape"):
        CodeBank(mu, sigma[:1])


def test_bank_hands_out_each_molecule_once_per_pass():
    """A finite bank is visited without replacement: no molecule twice within len(bank) draws,
    across calls of one sampler, and every molecule equally often over whole passes."""
    n = 50
    bank = CodeBank(torch.arange(n, dtype=torch.float32)[:, None] * 10, torch.full((n, 1), 1e-3))
    draw = bank.sampler(torch.Generator().manual_seed(3))
    first = torch.cat([draw(k) for k in (7, 20, 23)]).round().long().squeeze(1) // 10
    assert sorted(first.tolist()) == list(range(n))
    more = torch.cat([draw(9) for _ in range(10)]).round().long().squeeze(1) // 10  # 90 draws: 1.8 passes
    counts = torch.bincount(torch.cat([first, more]), minlength=n)
    assert counts.min() >= 2 and counts.max() <= 3 and int(counts.sum()) == 140


def test_fit_prior_stores_a_bank_that_sample_uses(tiny_run, tmp_path, moses_300, capsys):
    from molvae.api import MolVAE

    out = tmp_path / "with_prior.pt"
    assert main(["fit-prior", str(moses_300), "-m", str(tiny_run / "best.pt"), "--device", "cpu", "--size", "120",
                 "--width", "1.5", "-o", str(out), "-q"]) == 0
    assert "code bank of 120 molecules" in capsys.readouterr().out
    vae = MolVAE.load(out, device="cpu")
    assert len(vae.prior) == 120 and vae.prior.width == 1.5 and vae.prior.info["source"] == str(moses_300)
    # the bank holds the posteriors of molecules of the input, stored in float16
    smiles = pd.read_csv(moses_300).iloc[:, 0].tolist()
    mu = vae.encode(smiles)
    nearest = torch.cdist(vae.prior.mu, torch.from_numpy(mu)).min(dim=1).values
    assert float(nearest.max()) < 1e-2
    # round trip keeps it; a model without a bank samples from N(0, I)
    again = MolVAE.load(vae.save(tmp_path / "copy.pt"), device="cpu")
    torch.testing.assert_close(again.prior.sigma, vae.prior.sigma)
    assert resolve_prior(MolVAE.load(tiny_run / "best.pt", device="cpu"), "auto") is None

    samples = tmp_path / "s.csv"
    assert main(["sample", "-m", str(out), "-n", "40", "-o", str(samples), "--properties", "none", "-q"]) == 0
    meta = json.loads((tmp_path / "s.csv.meta.json").read_text())
    assert meta["prior"]["kind"] == "bank" and meta["prior"]["width"] == 1.5 and meta["prior"]["size"] == 120
    assert len(pd.read_csv(samples)) == 40
    # the width flag and --prior normal change the codes, and the record says so
    assert main(["sample", "-m", str(out), "-n", "40", "-o", str(tmp_path / "n.csv"), "--prior", "normal",
                 "--properties", "none", "-q"]) == 0
    assert json.loads((tmp_path / "n.csv.meta.json").read_text())["prior"] == {"kind": "normal"}
    assert main(["sample", "-m", str(out), "-n", "40", "-o", str(tmp_path / "w.csv"), "--prior-width", "0.5",
                 "--properties", "none", "-q"]) == 0
    assert json.loads((tmp_path / "w.csv.meta.json").read_text())["prior"]["width"] == 0.5


def test_fit_prior_stores_the_temperature_that_sample_decodes_at(tiny_run, tmp_path, moses_300):
    """The bank's stored temperature is the default of molvae sample: its draws are those of an
    explicit --temperature, a flag overrides it, codes from N(0, I) decode at 1, and the record says
    which was used."""
    model = str(tiny_run / "best.pt")
    for name, temperature in (("cold.pt", "0.6"), ("plain.pt", "1.0")):
        assert main(["fit-prior", str(moses_300), "-m", model, "--device", "cpu", "--size", "80", "--width", "1.2",
                     "--temperature", temperature, "-o", str(tmp_path / name), "-q"]) == 0

    def sample(name: str, *flags: str) -> tuple[pd.DataFrame, dict]:
        out = tmp_path / f"{name}_{len(flags)}_{'_'.join(flags)}.csv"
        assert main(["sample", "-m", str(tmp_path / name), "-n", "60", "-o", str(out), "--properties", "none", "-q",
                     "--keep-slips", *flags]) == 0
        return pd.read_csv(out), json.loads(Path(str(out) + ".meta.json").read_text())

    stored, meta = sample("cold.pt")
    assert meta["temperature"] == 0.6 and meta["prior"]["temperature"] == 0.6 and meta["summary"]["temperature"] == 0.6
    assert "temperature=0.6" in meta["summary"]["prior"]
    explicit, meta = sample("plain.pt", "--temperature", "0.6")
    assert meta["prior"]["temperature"] == 0.6
    pd.testing.assert_frame_equal(stored, explicit)  # the same draws: the stored value is what decodes
    warm, meta = sample("cold.pt", "--temperature", "1.0")
    assert meta["temperature"] == 1.0 and meta["prior"]["temperature"] == 1.0
    assert not warm.selfies.equals(stored.selfies)
    _, meta = sample("cold.pt", "--prior", "normal")
    assert meta["temperature"] == 1.0 and meta["prior"] == {"kind": "normal"}
    _, meta = sample("cold.pt", "--greedy")  # greedy decoding uses no temperature, and says so
    assert meta["temperature"] is None and "temperature" not in meta["prior"]
    from molvae.api import MolVAE

    greedy = MolVAE.load(tmp_path / "cold.pt", device="cpu").sample(5, greedy=True, temperature=0, seed=0)
    assert greedy.attrs["temperature"] is None and len(greedy) == 5
    # a bank stored before the temperature was kept decodes at 1
    bank = CodeBank(torch.zeros(2, 3), torch.ones(2, 3), 0.9, {"size": 2})
    info = {k: v for k, v in bank.describe().items() if k != "temperature"}
    assert CodeBank.from_checkpoint(bank.state_dict(), info).temperature == 1.0
    with pytest.raises(MolvaeError, match="temperature"):
        CodeBank(torch.zeros(2, 3), torch.ones(2, 3), temperature=0)


def test_training_can_start_from_a_model_with_a_bank(tiny_run, tmp_path, moses_300):
    """--init-from takes the network's weights and leaves the bank (which describes the old
    latent space) behind, as the shipped model's fine-tunes need."""
    from conftest import tiny_config

    from molvae.api import MolVAE, train

    vae = MolVAE.load(tiny_run / "best.pt", device="cpu")
    vae.prior = CodeBank.fit(vae, pd.read_csv(moses_300).iloc[:, 0].tolist(), size=50)
    source = vae.save(tmp_path / "with_bank.pt")
    out = tmp_path / "finetune"
    train(tiny_config(moses_300, epochs=1, init_from=str(source)), out, progress=False)
    tuned = MolVAE.load(out / "last.pt", device="cpu")
    assert tuned.prior is None and "prior" not in tuned.meta


def test_bank_codes_sit_closer_to_the_data_than_normal_draws(tiny_run, moses_300):
    """At width 1 the bank's codes are where the encoder puts training molecules: each draw's
    nearest training code is nearer than for N(0, I) draws (the tiny model's posteriors are far
    narrower than the prior)."""
    from molvae.api import MolVAE

    vae = MolVAE.load(tiny_run / "best.pt", device="cpu")
    smiles = pd.read_csv(moses_300).iloc[:, 0].tolist()
    vae.prior = CodeBank.fit(vae, smiles, size=200, seed=1)
    mu = torch.from_numpy(vae.encode(smiles))
    gen = torch.Generator().manual_seed(0)
    bank_gap = torch.cdist(vae.prior.sample(500, generator=gen), mu).min(dim=1).values.median()
    normal_gap = torch.cdist(vae.model.sample_prior(500, generator=gen), mu).min(dim=1).values.median()
    assert bank_gap < normal_gap
    df = vae.sample(30, seed=0)
    assert df.attrs["prior"]["kind"] == "bank" and len(df) == 30
    assert vae.sample(30, seed=0, prior="normal").attrs["prior"] == {"kind": "normal"}


def test_prior_mistakes_are_one_line_errors(tiny_run, tmp_path, moses_300, capsys):
    model = str(tiny_run / "best.pt")
    assert main(["sample", "-m", model, "-n", "5", "--prior", "bank", "-o", str(tmp_path / "x.csv"), "-q"]) == 2
    err = capsys.readouterr().err
    assert "has no code bank" in err and "molvae fit-prior" in err and "Traceback" not in err
    bad = tmp_path / "bad.csv"
    bad.write_text("smiles\nxx\nyy\n")
    assert main(["fit-prior", str(bad), "-m", model, "-o", str(tmp_path / "p.pt"), "-q"]) == 2
    assert "none of the 2 molecules" in capsys.readouterr().err
    # every chosen row the model cannot read is listed with its reason, by its input row
    mixed = tmp_path / "mixed.csv"
    mixed.write_text("smiles\nCCO\nnot_a_molecule\nc1ccccc1O\nCC(=O)N\n")
    assert main(["fit-prior", str(mixed), "-m", model, "-o", str(tmp_path / "m.pt"), "-q"]) == 0
    assert "1 of the 4 chosen could not be encoded" in capsys.readouterr().out
    rejects = pd.read_csv(tmp_path / "m.rejects.csv")
    assert rejects.row.tolist() == [1] and rejects.input.tolist() == ["not_a_molecule"] and rejects.reason[0]
    assert main(["sample", "-m", model, "-n", "5", "--prior-width", "1.5", "-o", str(tmp_path / "y.csv"), "-q"]) == 2
    assert "applies to a code bank" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["sample", "-m", model, "--prior-width", "-1"])
    assert exc.value.code == 2
    assert not np.isnan(CodeBank(np.zeros((1, 2)), np.ones((1, 2))).sample(2).numpy()).any()
