"""The VAE: a bidirectional GRU encoder to (mu, logvar), and a GRU decoder conditioned on z.

Works on token ids only; it knows nothing of SMILES, SELFIES or RDKit. Shapes use
B = batch, T = sequence length (tokens including ``<eos>``), V = vocabulary size, D = latent size.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

# Keeps exp(logvar) finite and the KL well-conditioned early in training.
LOGVAR_MIN, LOGVAR_MAX = -12.0, 8.0


@dataclass
class ModelConfig:
    """Sizes of the network. Saved in every checkpoint."""

    embed_dim: int = field(default=64, metadata={"help": "token embedding size"})
    encoder_hidden: int = field(default=256, metadata={"help": "encoder GRU hidden size (per direction)"})
    encoder_layers: int = field(default=1, metadata={"help": "encoder GRU layers"})
    latent_dim: int = field(default=64, metadata={"help": "size of the latent space z"})
    decoder_hidden: int = field(default=384, metadata={"help": "decoder GRU hidden size"})
    decoder_layers: int = field(default=2, metadata={"help": "decoder GRU layers"})
    dropout: float = field(default=0.1, metadata={"help": "dropout between GRU layers and before the output layer"})
    max_len: int = field(default=80, metadata={"help": "longest SELFIES (tokens) trained on and generated"})
    property_head: str = field(default="", metadata={"help": (
        "RDKit properties (comma-separated, e.g. qed,logp,sa) predicted from z by a head trained jointly "
        "with the VAE (Gomez-Bombarelli et al. 2018); empty: no head")})

    @property
    def property_names(self) -> list[str]:
        """The property head's properties, parsed from :attr:`property_head` (empty: no head)."""
        return [n.strip() for n in self.property_head.split(",") if n.strip()]


@dataclass(frozen=True)
class SpecialIds:
    """Ids of the special tokens (the vocabulary decides them; the model only needs the numbers)."""

    pad: int = 0
    bos: int = 1
    eos: int = 2
    unk: int = 3


def word_dropout(inputs: torch.Tensor, rate: float, ids: SpecialIds, generator: torch.Generator | None = None) -> torch.Tensor:
    """Replace decoder inputs by ``<unk>`` with probability `rate` (Bowman et al. 2016).

    `inputs` is (B, T) with ``<bos>`` in column 0, which is never replaced, nor is padding.
    A weaker decoder input forces the decoder to read z.
    """
    if rate <= 0:
        return inputs
    if generator is None:  # rand_like: torch.compile traces it with symbolic shapes
        noise = torch.rand_like(inputs, dtype=torch.float)
    else:
        noise = torch.rand(inputs.shape, device=inputs.device, generator=generator)
    drop = noise < rate
    drop[:, 0] = False
    drop &= inputs != ids.pad
    return inputs.masked_fill(drop, ids.unk)


def kl_per_dim(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(q(z|x) || N(0, I)) per latent dimension, averaged over the batch: (D,), in nats, fp32."""
    mu, logvar = mu.float(), logvar.float()
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).mean(dim=0)


class Encoder(nn.Module):
    """Embedding -> bidirectional GRU -> (mu, logvar)."""

    def __init__(self, cfg: ModelConfig, vocab_size: int, pad: int):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, cfg.embed_dim, padding_idx=pad)
        self.gru = nn.GRU(
            cfg.embed_dim, cfg.encoder_hidden, num_layers=cfg.encoder_layers, batch_first=True,
            bidirectional=True, dropout=cfg.dropout if cfg.encoder_layers > 1 else 0.0,
        )
        self.to_mu = nn.Linear(2 * cfg.encoder_hidden, cfg.latent_dim)
        self.to_logvar = nn.Linear(2 * cfg.encoder_hidden, cfg.latent_dim)

    def forward(self, tokens: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """tokens (B, T), lengths (B,) -> mu (B, D), logvar (B, D)."""
        x = self.embed(tokens)
        h = self.final_states_packed(x, lengths) if x.is_cuda else self.final_states_by_direction(x, lengths)
        return self.to_mu(h), self.to_logvar(h).clamp(LOGVAR_MIN, LOGVAR_MAX)

    def final_states_packed(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """The last layer's final states, both directions, (B, 2H): one call on a packed batch (cuDNN
        runs it fused)."""
        packed = nn.utils.rnn.pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        _, h = self.gru(packed)  # (layers * 2, B, H)
        return torch.cat([h[-2], h[-1]], dim=-1)

    def final_states_by_direction(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """The same states as :meth:`final_states_packed`, from one left-to-right pass per direction
        over the padded batch: the reverse direction reads each molecule's tokens flipped in place,
        and its outputs are flipped back. On the CPU, PyTorch steps a packed batch with a slice per
        time step whose backward writes a zero gradient of the whole batch; this way the encoder's
        forward and backward take less than half the time (scripts/benchmarks/bench_encoder.py)."""
        gru, batch, steps = self.gru, x.shape[0], x.shape[1]
        lengths = lengths.to(x.device)
        if batch and int(lengths.min()) < 1:  # a packed batch refuses them too; here they would read padding
            raise ValueError("every molecule needs at least one token (its <eos>)")
        pos = torch.arange(steps, device=x.device).unsqueeze(0)
        flip = torch.where(pos < lengths[:, None], lengths[:, None] - 1 - pos, pos).unsqueeze(-1)  # its own inverse

        def flipped(t: torch.Tensor) -> torch.Tensor:  # each molecule's tokens in reverse, padding in place
            return t.gather(1, flip.expand(-1, -1, t.shape[-1]))

        def direction(inputs: torch.Tensor, layer: int, suffix: str) -> torch.Tensor:
            weights = [getattr(gru, f"{name}_l{layer}{suffix}") for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
            return torch._VF.gru(inputs, h0, weights, True, 1, 0.0, self.training, False, True)[0]  # what nn.GRU calls

        h0 = x.new_zeros(1, batch, gru.hidden_size)
        for layer in range(gru.num_layers):
            x = torch.cat([direction(x, layer, ""), flipped(direction(flipped(x), layer, "_reverse"))], dim=-1)
            if layer < gru.num_layers - 1 and gru.dropout > 0:
                x = F.dropout(x, gru.dropout, self.training)
        hidden = gru.hidden_size
        forward_last = x[torch.arange(batch, device=x.device), lengths - 1, :hidden]  # after each molecule's last token
        reverse_last = x[:, 0, hidden:]  # the reverse direction ends at the first token
        return torch.cat([forward_last, reverse_last], dim=-1)


class Decoder(nn.Module):
    """GRU language model over tokens whose initial state comes from z and whose every step sees z."""

    def __init__(self, cfg: ModelConfig, vocab_size: int, pad: int):
        super().__init__()
        self.layers, self.hidden = cfg.decoder_layers, cfg.decoder_hidden
        self.embed = nn.Embedding(vocab_size, cfg.embed_dim, padding_idx=pad)
        self.z_to_hidden = nn.Linear(cfg.latent_dim, cfg.decoder_layers * cfg.decoder_hidden)
        self.gru = nn.GRU(
            cfg.embed_dim + cfg.latent_dim, cfg.decoder_hidden, num_layers=cfg.decoder_layers,
            batch_first=True, dropout=cfg.dropout if cfg.decoder_layers > 1 else 0.0,
        )
        self.drop = nn.Dropout(cfg.dropout)
        self.out = nn.Linear(cfg.decoder_hidden, vocab_size)

    def initial_state(self, z: torch.Tensor) -> torch.Tensor:
        """z (B, D) -> GRU state (layers, B, H)."""
        h = torch.tanh(self.z_to_hidden(z))
        return h.view(z.shape[0], self.layers, self.hidden).transpose(0, 1).contiguous()

    def forward(self, inputs: torch.Tensor, z: torch.Tensor, state: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """inputs (B, T) token ids, z (B, D) -> logits (B, T, V), final state (layers, B, H)."""
        if state is None:
            state = self.initial_state(z)
        x = self.embed(inputs)
        x = torch.cat([x, z.unsqueeze(1).expand(-1, x.shape[1], -1).to(x.dtype)], dim=-1)
        y, state = self.gru(x, state)
        return self.out(self.drop(y)), state


class LatentPredictor(nn.Module):
    """MLP z (D) -> properties (P), trained on standardized targets; :meth:`predict` undoes it."""

    def __init__(self, latent_dim: int, names: Sequence[str], hidden: int = 128):
        super().__init__()
        self.names, self.hidden = list(names), hidden
        self.metrics: dict[str, dict[str, float]] = {}  # held-out R² and MAE per property, from fitting
        self.net = nn.Sequential(nn.Linear(latent_dim, hidden), nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU(),
                                 nn.Linear(hidden, len(self.names)))
        self.register_buffer("y_mean", torch.zeros(len(self.names)))
        self.register_buffer("y_std", torch.ones(len(self.names)))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Standardized predictions (B, P); differentiable in z (for gradient-based search)."""
        return self.net(z)

    def predict(self, z: torch.Tensor) -> torch.Tensor:
        """Predictions in the properties' own units (B, P)."""
        return self.net(z) * self.y_std + self.y_mean

    def describe(self) -> dict:
        return {"names": self.names, "hidden": self.hidden, "metrics": self.metrics}


class VAE(nn.Module):
    """Encoder + reparameterization + decoder, with the loss terms and sampling."""

    def __init__(self, cfg: ModelConfig, vocab_size: int, ids: SpecialIds = SpecialIds()):
        super().__init__()
        self.cfg, self.vocab_size, self.ids = cfg, vocab_size, ids
        self.encoder = Encoder(cfg, vocab_size, ids.pad)
        self.decoder = Decoder(cfg, vocab_size, ids.pad)
        names = cfg.property_names
        self.property_head = LatentPredictor(cfg.latent_dim, names) if names else None

    @staticmethod
    def reparameterize(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        """z = mu + sigma * eps, eps ~ N(0, I)."""
        return mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)

    def decoder_inputs(self, targets: torch.Tensor) -> torch.Tensor:
        """Teacher forcing: (B, T) targets -> (B, T) inputs, i.e. ``<bos>`` followed by targets[:, :-1]."""
        bos = torch.full_like(targets[:, :1], self.ids.bos)
        return torch.cat([bos, targets[:, :-1]], dim=1)

    def forward(
        self,
        tokens: torch.Tensor,
        lengths: torch.Tensor,
        beta: float = 1.0,
        word_dropout_rate: float = 0.0,
        free_bits: float = 0.0,
        sample_z: bool = True,
        props: torch.Tensor | None = None,
        property_weight: float = 1.0,
        enc_tokens: torch.Tensor | None = None,
        enc_lengths: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        """Negative ELBO terms for a batch (the training step goes through ``forward`` so that DDP sees it).

        tokens (B, T) ids ending in ``<eos>`` then padding; lengths (B,) including ``<eos>``.
        Returns per-molecule means over the batch: ``loss`` = recon + beta * KL (KL floored at
        `free_bits` nats per dimension when > 0), ``recon`` (summed token cross-entropy, nats),
        ``kl`` (nats), ``kl_per_dim`` (D,), and ``token_acc``. With `enc_tokens` / `enc_lengths` the
        encoder reads those (another spelling of the same molecules) while the decoder writes `tokens`.
        """
        targets = tokens[:, : int(lengths.max())].long()
        if enc_tokens is None:
            mu, logvar = self.encoder(targets, lengths)
        else:
            mu, logvar = self.encoder(enc_tokens[:, : int(enc_lengths.max())].long(), enc_lengths)
        z = self.reparameterize(mu, logvar) if sample_z else mu
        inputs = word_dropout(self.decoder_inputs(targets), word_dropout_rate if self.training else 0.0, self.ids)
        logits, _ = self.decoder(inputs, z)
        mask = targets != self.ids.pad
        recon = F.cross_entropy(
            logits.float().reshape(-1, self.vocab_size), targets.reshape(-1),
            ignore_index=self.ids.pad, reduction="sum",
        ) / targets.shape[0]
        kl_dims = kl_per_dim(mu, logvar)
        kl = kl_dims.sum()
        kl_term = kl_dims.clamp(min=free_bits).sum() if free_bits > 0 else kl
        with torch.no_grad():
            token_acc = ((logits.argmax(-1) == targets) & mask).sum() / mask.sum()
        out = {"loss": recon + beta * kl_term, "recon": recon, "kl": kl, "kl_per_dim": kl_dims, "token_acc": token_acc}
        if self.property_head is not None and props is not None:
            # the head reads the posterior mean; targets standardized, rows with a missing value masked
            head = self.property_head
            target = (props.float() - head.y_mean) / head.y_std
            known = ~torch.isnan(target)
            err = (head(mu.float()) - torch.nan_to_num(target)) ** 2
            prop_mse = (err * known).sum() / known.sum().clamp(min=1)
            out["loss"] = out["loss"] + property_weight * prop_mse
            out["prop_mse"] = prop_mse
        return out

    def loss(self, *args, **kwargs) -> dict[str, torch.Tensor]:
        """The same as calling the module: the negative ELBO terms of :meth:`forward`."""
        return self(*args, **kwargs)

    @torch.no_grad()
    def encode(self, tokens: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, T), (B,) -> posterior mean and log-variance, each (B, D)."""
        return self.encoder(tokens[:, : int(lengths.max())].long(), lengths)

    @torch.no_grad()
    def log_likelihood(self, tokens: torch.Tensor, lengths: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """log p(x | z) in nats for each row: the summed token log-probabilities of `tokens` (B, T)
        (ending in ``<eos>``, then padding) under the decoder conditioned on z (B, D). Returns (B,), fp32."""
        targets = tokens[:, : int(lengths.max())].long()
        logits, _ = self.decoder(self.decoder_inputs(targets), z)
        logp = torch.log_softmax(logits.float(), dim=-1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)
        return (logp * (targets != self.ids.pad)).sum(dim=1)

    def sample_prior(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n draws from N(0, I): (n, D)."""
        device = next(self.parameters()).device
        return torch.randn(n, self.cfg.latent_dim, generator=generator, device=device)

    @torch.no_grad()
    def generate(
        self,
        z: torch.Tensor,
        temperature: float = 1.0,
        greedy: bool = False,
        max_len: int | None = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Decode z (B, D) token by token until every row has emitted ``<eos>`` or `max_len`.

        Returns (B, L) token ids; each row is padded after its ``<eos>``. Rows that have ended
        leave the batch, so the cost is the sum of the lengths, not B times the longest.
        """
        max_len = max_len or self.cfg.max_len + 1
        b = z.shape[0]
        out = torch.full((b, max_len), self.ids.pad, dtype=torch.long, device=z.device)
        state = self.decoder.initial_state(z)
        token = torch.full((b, 1), self.ids.bos, dtype=torch.long, device=z.device)
        active = torch.arange(b, device=z.device)  # rows of `out` still being decoded
        banned = torch.tensor([self.ids.pad, self.ids.bos, self.ids.unk], device=z.device)
        steps = 0
        for step in range(max_len):
            steps = step + 1
            logits, state = self.decoder(token, z, state)
            logits = logits[:, -1].float()
            logits[:, banned] = float("-inf")
            if greedy:
                nxt = logits.argmax(-1)
            else:
                probs = torch.softmax(logits / max(temperature, 1e-6), dim=-1)
                nxt = torch.multinomial(probs, 1, generator=generator).squeeze(1)
            out[active, step] = nxt
            going = nxt != self.ids.eos
            if not bool(going.all()):
                if not bool(going.any()):
                    break
                active, z, nxt = active[going], z[going], nxt[going]
                state = state[:, going].contiguous()
            token = nxt.unsqueeze(1)
        return out[:, :steps]


def build_model(cfg: ModelConfig, vocab) -> VAE:
    """An untrained network sized for `vocab` (anything with ``len()`` and ``pad``/``bos``/``eos``/``unk`` ids)."""
    return VAE(cfg, len(vocab), SpecialIds(vocab.pad, vocab.bos, vocab.eos, vocab.unk))
