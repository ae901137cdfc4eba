"""Growing a trained VAE before fine-tuning it: more latent dimensions, a wider or deeper decoder.

A trained model's weights are carried into the larger network so that it starts out computing
what the trained one computed (Net2Net, Chen, Goodfellow & Shlens 2016), and the new capacity is
switched on by training rather than by starting over:

- **latent_dim**: the new dimensions' posterior is N(0, 1) (zero rows in ``to_mu`` and
  ``to_logvar``, so they cost no KL) and the decoder ignores them (zero columns), until training
  puts information there.
- **decoder_hidden**: new units read the old ones through small random weights, so they are active
  and learn, while nothing reads them yet (zero columns into the old units and into the output
  layer).
- **decoder_layers**: a new top layer starts as a near-identity map: its update gate is shut
  (bias ``-GATE_BIAS``), so it has no memory of its own yet, and its candidate state is
  ``tanh(SCALE * x)`` of the layer below, which the output layer undoes by reading it ``1 / SCALE``
  times stronger. In evaluation mode the grown decoder's logits differ from the old ones by well
  under a percent; in training it also gets dropout between the old top layer and the new one.

Only the decoder and the latent size grow; the encoder keeps its size. Nothing here shrinks a model.
"""

from __future__ import annotations

from dataclasses import replace

import torch

from molvae.errors import ConfigError
from molvae.model import ModelConfig

GROWABLE = ("latent_dim", "decoder_hidden", "decoder_layers")
SCALE = 0.1  # a new layer's input weight: tanh(0.1 x) = 0.1 x within 0.34% for |x| <= 1 (GRU states)
GATE_BIAS = 6.0  # a new layer's update gate starts at sigmoid(-6) = 0.25% open


def parse_growth(spec: str) -> dict[str, int]:
    """``"latent_dim=128,decoder_layers=3"`` -> ``{"latent_dim": 128, "decoder_layers": 3}``."""
    sizes: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        name, sep, value = part.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or name not in GROWABLE:
            raise ConfigError(f"train.grow: cannot read {part!r}; give NAME=SIZE pairs, NAME one of {', '.join(GROWABLE)}")
        try:
            sizes[name] = int(value)
        except ValueError:
            raise ConfigError(f"train.grow: {name} must be a whole number, got {value.strip()!r}") from None
    return sizes


def grown_config(cfg: ModelConfig, sizes: dict[str, int]) -> ModelConfig:
    """`cfg` with the sizes in `sizes`, each at least the old one (a ConfigError names one that shrinks)."""
    for name, size in sizes.items():
        old = getattr(cfg, name)
        if size < old:
            raise ConfigError(f"train.grow: {name} can only grow, from {old}; got {size}")
    if sizes.get("latent_dim", cfg.latent_dim) > cfg.latent_dim and cfg.property_names:
        raise ConfigError("train.grow: latent_dim cannot grow in a model with a property head; fine-tune it without one")
    return replace(cfg, **sizes)


def grow_weights(weights: dict[str, torch.Tensor], old: ModelConfig, new: ModelConfig,
                 generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
    """The state dict of a VAE of config `old`, grown to config `new` (see the module docstring).
    New random weights are drawn as torch draws a GRU's, uniform in +-1/sqrt(hidden)."""
    w = dict(weights)
    if new.latent_dim > old.latent_dim:
        _grow_latent(w, old, new.latent_dim)
    if new.decoder_hidden > old.decoder_hidden:
        _grow_hidden(w, old, new.decoder_hidden, generator)
    if new.decoder_layers > old.decoder_layers:
        _add_layers(w, old.decoder_layers, new.decoder_layers, new.decoder_hidden)
    return w


def _pad(t: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
    """`t` in the top-left corner of a zero tensor of `shape`."""
    out = t.new_zeros(shape)
    out[tuple(slice(0, n) for n in t.shape)] = t
    return out


def _uniform(shape: tuple[int, ...], hidden: int, like: torch.Tensor, generator) -> torch.Tensor:
    bound = hidden ** -0.5
    return (torch.rand(shape, generator=generator, dtype=like.dtype) * 2 - 1) * bound


def _grow_latent(w: dict[str, torch.Tensor], old: ModelConfig, latent: int) -> None:
    for head in ("encoder.to_mu", "encoder.to_logvar"):  # new dimensions: mu 0, log-variance 0
        w[f"{head}.weight"] = _pad(w[f"{head}.weight"], (latent, w[f"{head}.weight"].shape[1]))
        w[f"{head}.bias"] = _pad(w[f"{head}.bias"], (latent,))
    key = "decoder.z_to_hidden.weight"
    w[key] = _pad(w[key], (w[key].shape[0], latent))
    key = "decoder.gru.weight_ih_l0"  # the first layer reads [token embedding, z]: z's columns come last
    w[key] = _pad(w[key], (w[key].shape[0], old.embed_dim + latent))


def _gate_rows(t: torch.Tensor, hidden: int, new_hidden: int, fill: torch.Tensor) -> torch.Tensor:
    """A GRU weight or bias with rows [r; z; n], each gate's `hidden` rows kept and rows for the new
    units taken from `fill` (3 * (new_hidden - hidden) rows, gate by gate)."""
    extra = new_hidden - hidden
    blocks = [torch.cat([t[g * hidden:(g + 1) * hidden], fill[g * extra:(g + 1) * extra]]) for g in range(3)]
    return torch.cat(blocks)


def _grow_hidden(w: dict[str, torch.Tensor], old: ModelConfig, hidden: int, generator) -> None:
    h0, extra = old.decoder_hidden, hidden - old.decoder_hidden
    for layer in range(old.decoder_layers):
        for kind in ("ih", "hh"):
            weight = w[f"decoder.gru.weight_{kind}_l{layer}"]
            widen = kind == "hh" or layer > 0  # these read the (now wider) hidden state
            cols = hidden if widen else weight.shape[1]
            # old units: zero weight on the new units, so they compute what they did
            kept = _pad(weight, (weight.shape[0], cols))
            fill = _uniform((3 * extra, cols), hidden, weight, generator)
            w[f"decoder.gru.weight_{kind}_l{layer}"] = _gate_rows(kept, h0, hidden, fill)
            bias = w[f"decoder.gru.bias_{kind}_l{layer}"]
            w[f"decoder.gru.bias_{kind}_l{layer}"] = _gate_rows(bias, h0, hidden, _uniform((3 * extra,), hidden, bias, generator))
    # the initial state: each layer's block of z_to_hidden, the new units starting at 0
    key = "decoder.z_to_hidden"
    weight = w[f"{key}.weight"].view(old.decoder_layers, h0, -1)
    w[f"{key}.weight"] = _pad(weight, (old.decoder_layers, hidden, weight.shape[2])).reshape(old.decoder_layers * hidden, -1)
    w[f"{key}.bias"] = _pad(w[f"{key}.bias"].view(old.decoder_layers, h0), (old.decoder_layers, hidden)).reshape(-1)
    w["decoder.out.weight"] = _pad(w["decoder.out.weight"], (w["decoder.out.weight"].shape[0], hidden))


def _add_layers(w: dict[str, torch.Tensor], layers: int, new_layers: int, hidden: int) -> None:
    like = w["decoder.out.weight"]
    for layer in range(layers, new_layers):
        ih = like.new_zeros((3 * hidden, hidden))
        ih[2 * hidden:] = SCALE * torch.eye(hidden, dtype=like.dtype)  # candidate state: tanh(SCALE * x)
        bias_ih = like.new_zeros(3 * hidden)
        bias_ih[hidden:2 * hidden] = -GATE_BIAS  # update gate shut: h_t = candidate
        w[f"decoder.gru.weight_ih_l{layer}"] = ih
        w[f"decoder.gru.weight_hh_l{layer}"] = like.new_zeros((3 * hidden, hidden))
        w[f"decoder.gru.bias_ih_l{layer}"] = bias_ih
        w[f"decoder.gru.bias_hh_l{layer}"] = like.new_zeros(3 * hidden)
        w["decoder.out.weight"] = w["decoder.out.weight"] / SCALE
    key = "decoder.z_to_hidden"  # the new layers' initial state: 0
    rows = new_layers * hidden
    w[f"{key}.weight"] = _pad(w[f"{key}.weight"], (rows, w[f"{key}.weight"].shape[1]))
    w[f"{key}.bias"] = _pad(w[f"{key}.bias"], (rows,))
