"""The cheapest proof the loop is right: the model memorizes twenty molecules."""

import pandas as pd
import torch

from molvae.api import MolVAE
from molvae.chem import default_constraints
from molvae.data import prepare
from molvae.model import VAE, ModelConfig


def test_memorizes_twenty_molecules(moses_300):
    torch.manual_seed(0)
    smiles = pd.read_csv(moses_300).SMILES.tolist()[:20]
    mols = prepare(smiles, max_len=60, progress=False)
    cfg = ModelConfig(embed_dim=32, encoder_hidden=64, latent_dim=16, decoder_hidden=128, decoder_layers=1,
                      dropout=0.0, max_len=60)
    model = VAE(cfg, len(mols.vocab))
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    batch = mols.collate(list(range(20)))
    first = None
    for step in range(300):
        out = model.loss(batch["tokens"], batch["lengths"], beta=0.0)
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
        first = first if first is not None else out["recon"].item()
    assert out["recon"].item() < 0.05 * first
    vae = MolVAE(model, mols.vocab, default_constraints())
    result = vae.reconstruct(smiles)
    assert result.exact.mean() >= 0.9, result[~result.exact]
