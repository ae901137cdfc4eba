from dataclasses import replace

import pytest
import torch

from conftest import token_batch
from molvae.errors import ConfigError
from molvae.grow import grow_weights, grown_config, parse_growth
from molvae.model import VAE, ModelConfig

CFG = ModelConfig(embed_dim=8, encoder_hidden=16, latent_dim=6, decoder_hidden=24, decoder_layers=2, max_len=12)
V = 20


def _batch():
    return token_batch(V, b=6, t=10)


def _trained_like(cfg):
    """A model with weights far from their initial ones (larger than torch's init), in eval mode."""
    torch.manual_seed(0)
    model = VAE(cfg, V)
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(3.0)
    return model.eval()


def _grown(model, **sizes):
    new_cfg = grown_config(model.cfg, sizes)
    grown = VAE(new_cfg, V)
    grown.load_state_dict(grow_weights(model.state_dict(), model.cfg, new_cfg, torch.Generator().manual_seed(1)))
    return grown.eval()


def _outputs(model, tokens, lengths, z):
    mu, logvar = model.encode(tokens, lengths)
    logits, _ = model.decoder(model.decoder_inputs(tokens), z)
    return mu, logvar, logits


@pytest.mark.parametrize("sizes", [{"latent_dim": 10}, {"decoder_hidden": 32}, {"latent_dim": 10, "decoder_hidden": 40}])
def test_latent_and_width_growth_compute_the_same(sizes):
    model = _trained_like(CFG)
    grown = _grown(model, **sizes)
    tokens, lengths = _batch()
    z = torch.randn(6, CFG.latent_dim)
    mu, logvar, logits = _outputs(model, tokens, lengths, z)
    extra = grown.cfg.latent_dim - CFG.latent_dim
    z_new = torch.cat([z, torch.randn(6, extra)], dim=1)  # whatever the new dimensions hold
    mu2, logvar2, logits2 = _outputs(grown, tokens, lengths, z_new)
    torch.testing.assert_close(mu2[:, :CFG.latent_dim], mu)
    torch.testing.assert_close(logvar2[:, :CFG.latent_dim], logvar)
    assert (mu2[:, CFG.latent_dim:] == 0).all() and (logvar2[:, CFG.latent_dim:] == 0).all()  # N(0, 1): no KL
    torch.testing.assert_close(logits2, logits, atol=1e-5, rtol=1e-5)


def test_new_decoder_units_are_active_and_learn():
    model = _trained_like(CFG)
    grown = _grown(model, decoder_hidden=32)
    tokens, lengths = _batch()
    grown.train()
    out = grown.loss(tokens, lengths)
    out["loss"].backward()
    # the new units' output weights get a gradient, so training can start reading them
    assert grown.decoder.out.weight.grad[:, 24:].abs().sum() > 0


def test_a_new_top_layer_starts_as_a_near_identity():
    model = _trained_like(CFG)
    grown = _grown(model, decoder_layers=3, decoder_hidden=32)
    tokens, lengths = _batch()
    z = torch.randn(6, CFG.latent_dim)
    _, _, logits = _outputs(model, tokens, lengths, z)
    _, _, logits2 = _outputs(grown, tokens, lengths, z)
    assert grown.decoder.gru.num_layers == 3
    assert (logits2.argmax(-1) == logits.argmax(-1)).float().mean() > 0.99
    assert (logits2 - logits).abs().max() < 0.02 * logits.abs().max()
    # and not exactly the old map: the layer is real, and training can change it
    assert not torch.allclose(logits2, logits)


def test_growth_specs_are_checked():
    assert parse_growth("latent_dim=128, decoder-layers=3") == {"latent_dim": 128, "decoder_layers": 3}
    with pytest.raises(ConfigError, match="encoder_hidden"):
        parse_growth("encoder_hidden=512")
    with pytest.raises(ConfigError, match="whole number"):
        parse_growth("latent_dim=big")
    with pytest.raises(ConfigError, match="only grow"):
        grown_config(CFG, {"decoder_hidden": 16})
    with pytest.raises(ConfigError, match="property head"):
        grown_config(replace(CFG, property_head="qed"), {"latent_dim": 8})
