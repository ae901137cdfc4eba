import subprocess
import sys

import pytest
import torch

from conftest import token_batch
from molvae.model import VAE, ModelConfig, SpecialIds, kl_per_dim, word_dropout

IDS = SpecialIds()
CFG = ModelConfig(embed_dim=8, encoder_hidden=16, latent_dim=6, decoder_hidden=24, decoder_layers=2, max_len=12)
V = 20


def _batch(b=5, t=9, seed=0):
    return token_batch(V, b, t, seed)


def test_shapes():
    torch.manual_seed(0)
    model = VAE(CFG, V)
    tokens, lengths = _batch()
    mu, logvar = model.encode(tokens, lengths)
    assert mu.shape == logvar.shape == (5, 6)
    logits, state = model.decoder(model.decoder_inputs(tokens), mu)
    assert logits.shape == (5, 9, V) and state.shape == (2, 5, 24)
    out = model.loss(tokens, lengths, beta=0.5)
    assert out["kl_per_dim"].shape == (6,)
    assert all(out[k].dim() == 0 and torch.isfinite(out[k]) for k in ("loss", "recon", "kl", "token_acc"))
    assert out["loss"].item() == pytest.approx(out["recon"].item() + 0.5 * out["kl"].item(), rel=1e-5)


def test_encoder_ignores_padding():
    torch.manual_seed(0)
    model = VAE(CFG, V).eval()
    tokens, lengths = _batch()
    mu1, _ = model.encode(tokens, lengths)
    padded = torch.cat([tokens, torch.zeros(5, 4, dtype=tokens.dtype)], dim=1)
    mu2, _ = model.encode(padded, lengths)
    torch.testing.assert_close(mu1, mu2)



@pytest.mark.parametrize("layers,dropout", [(1, 0.0), (2, 0.0), (2, 0.3)])
def test_the_cpu_encoder_path_equals_the_packed_bidirectional_gru(layers, dropout):
    """The CPU runs each direction over the padded batch; CUDA packs it. Same states, same gradients
    (with dropout between layers: in eval mode, where it is off in both)."""
    torch.manual_seed(0)
    cfg = ModelConfig(embed_dim=8, encoder_hidden=16, encoder_layers=layers, latent_dim=6, dropout=dropout)
    encoder = VAE(cfg, V).encoder
    if dropout:
        encoder.eval()
    tokens, lengths = token_batch(V, 7, 11, 3)
    lengths[0] = 1  # a molecule of one token: the reverse direction starts and ends on it
    tokens[0, 1:] = IDS.pad
    x = encoder.embed(tokens)
    packed, by_direction = encoder.final_states_packed(x, lengths), encoder.final_states_by_direction(x, lengths)
    torch.testing.assert_close(by_direction, packed)
    weights = list(encoder.gru.parameters())
    torch.testing.assert_close(torch.autograd.grad(by_direction.square().sum(), weights, retain_graph=True),
                               torch.autograd.grad(packed.square().sum(), weights))
    with pytest.raises(ValueError, match="at least one token"):
        encoder.final_states_by_direction(x, torch.zeros_like(lengths))

def test_decoder_inputs_shift_right():
    model = VAE(CFG, V)
    tokens = torch.tensor([[5, 6, IDS.eos]])
    assert model.decoder_inputs(tokens).tolist() == [[IDS.bos, 5, 6]]


def test_word_dropout_rate_and_protected_positions():
    inputs = torch.full((400, 50), 7)
    inputs[:, 0] = IDS.bos
    inputs[:, 40:] = IDS.pad
    out = word_dropout(inputs, 0.25, IDS, generator=torch.Generator().manual_seed(0))
    dropped = (out[:, 1:40] == IDS.unk).float().mean().item()
    assert dropped == pytest.approx(0.25, abs=0.01)
    assert (out[:, 0] == IDS.bos).all() and (out[:, 40:] == IDS.pad).all()
    assert torch.equal(word_dropout(inputs, 0.0, IDS), inputs)


def test_kl_per_dim_matches_closed_form():
    mu = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    logvar = torch.tensor([[0.0, 1.0], [0.0, 1.0]])
    expected = torch.tensor([0.5, 0.5 * (torch.e - 1 - 1)])
    torch.testing.assert_close(kl_per_dim(mu, logvar), expected)
    assert kl_per_dim(torch.zeros(3, 4), torch.zeros(3, 4)).abs().max() == 0


def test_free_bits_floor_the_kl_term():
    torch.manual_seed(0)
    model = VAE(CFG, V)
    tokens, lengths = _batch()
    torch.manual_seed(1)
    plain = model.loss(tokens, lengths, beta=1.0, sample_z=False)
    torch.manual_seed(1)
    floored = model.loss(tokens, lengths, beta=1.0, free_bits=10.0, sample_z=False)
    assert floored["loss"].item() == pytest.approx(plain["recon"].item() + 10.0 * CFG.latent_dim, rel=1e-5)


def test_generate_stops_and_pads_after_eos():
    torch.manual_seed(0)
    model = VAE(CFG, V).eval()
    z = model.sample_prior(16, generator=torch.Generator().manual_seed(0))
    out = model.generate(z, generator=torch.Generator().manual_seed(0))
    assert out.shape[0] == 16 and out.shape[1] <= CFG.max_len + 1
    for row in out.tolist():
        assert IDS.bos not in row and IDS.unk not in row
        if IDS.eos in row:
            assert all(t == IDS.pad for t in row[row.index(IDS.eos) + 1:])
        else:
            assert IDS.pad not in row
    torch.testing.assert_close(model.generate(z, greedy=True), model.generate(z, greedy=True))


def test_greedy_decoding_matches_teacher_forcing():
    # Rows leave the batch as they end; each kept row must still be exactly what the full decoder
    # predicts for it: feeding a greedy output back with teacher forcing gives the same argmax.
    torch.manual_seed(0)
    model = VAE(CFG, V).eval()
    with torch.no_grad():
        model.decoder.out.bias[IDS.eos] += 0.3  # rows of many different lengths
    z = model.sample_prior(64, generator=torch.Generator().manual_seed(1))
    out = model.generate(z, greedy=True)
    ends = [(row.index(IDS.eos) + 1 if IDS.eos in row else len(row)) for row in out.tolist()]
    assert len(set(ends)) > 3
    with torch.no_grad():
        logits, _ = model.decoder(model.decoder_inputs(out), z)
    logits[..., [IDS.pad, IDS.bos, IDS.unk]] = float("-inf")
    best = logits.argmax(-1)
    for i, n in enumerate(ends):
        assert best[i, :n].tolist() == out[i, :n].tolist()


def test_model_does_not_import_rdkit():
    code = "import sys, molvae.model; assert 'rdkit' not in sys.modules and 'selfies' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
