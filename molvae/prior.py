"""Where `molvae sample` draws its latent codes: N(0, I), or the model's own aggregate posterior.

The decoder writes molecules like its training data near the codes of training molecules, and odd
ones in the holes between them that N(0, I) also visits (docs/quality.md). A :class:`CodeBank`
holds the posterior means and standard deviations of a sample of training molecules; a draw picks
one of them at random and takes

    z = mu_i + width * sigma_i * eps,    eps ~ N(0, I).

With width 1 that is an exact draw from the aggregate posterior (1/N) sum_i q(z | x_i), the
distribution the decoder was trained on; a wider draw reaches further from the training molecules:
more new molecules, fewer like the data. ``molvae fit-prior`` builds a bank and stores it in the
checkpoint; ``molvae sample`` then draws from it unless ``--prior normal`` is given. The bank also
keeps the decoding temperature to sample it at: a lower temperature keeps the decoder to its likelier
tokens (fewer slips), and a wider width gives back the novelty that costs (docs/quality.md).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from molvae.errors import MolvaeError, hint

PRIORS = ("auto", "normal", "bank")
STATE_PREFIX = "prior."  # checkpoint state_dict keys of a stored bank


def _positive_finite(value: float, what: str) -> float:
    value = float(value)
    if not (0 < value < float("inf")):
        raise MolvaeError(f"{what} must be a finite number above 0, got {value}")
    return value


def check_width(width: float) -> float:
    return _positive_finite(width, "the prior width")


def check_temperature(temperature: float) -> float:
    return _positive_finite(temperature, "temperature")


class CodeBank:
    """Posterior means `mu` and standard deviations `sigma` (each (N, D)) of N training molecules,
    drawn from as ``mu_i + width * sigma_i * eps`` and decoded at `temperature`; `info` says where
    they came from."""

    kind = "bank"

    def __init__(self, mu: torch.Tensor | np.ndarray, sigma: torch.Tensor | np.ndarray, width: float = 1.0,
                 info: dict[str, Any] | None = None, temperature: float = 1.0):
        self.mu = torch.as_tensor(mu, dtype=torch.float32)
        self.sigma = torch.as_tensor(sigma, dtype=torch.float32)
        if self.mu.ndim != 2 or self.mu.shape != self.sigma.shape or len(self.mu) == 0:
            raise MolvaeError(f"a code bank needs mu and sigma of one shape (N, D), N > 0; got "
                              f"{tuple(self.mu.shape)} and {tuple(self.sigma.shape)}")
        self.width = check_width(width)
        self.temperature = check_temperature(temperature)
        self.info = dict(info or {})
        self.rejects = None  # set by fit: a (row, input, reason) table of the chosen molecules left out

    def __len__(self) -> int:
        return len(self.mu)

    @property
    def latent_dim(self) -> int:
        return self.mu.shape[1]

    def to(self, device: torch.device | str) -> "CodeBank":
        self.mu, self.sigma = self.mu.to(device), self.sigma.to(device)
        return self

    @classmethod
    def fit(cls, vae: Any, smiles: Sequence[str], size: int = 50_000, width: float = 1.0, seed: int = 0,
            source: str = "", progress: bool = False, temperature: float = 1.0) -> "CodeBank":
        """Encode up to `size` molecules of `smiles` (a seeded random choice when there are more) with
        `vae` (a loaded :class:`molvae.api.MolVAE`) and keep their posteriors, to be drawn at `width`
        and decoded at `temperature`. Molecules the model cannot read are left out and counted."""
        from molvae.chem import as_smiles_list

        if size < 1:
            raise MolvaeError(f"the bank size must be at least 1, got {size}")
        smiles = as_smiles_list(smiles)
        pick = np.arange(len(smiles))
        if len(smiles) > size:
            pick = np.sort(np.random.default_rng(seed).choice(len(smiles), size=size, replace=False))
        mols = vae.prepare([smiles[i] for i in pick], progress=progress)
        if len(mols) == 0:
            raise MolvaeError(f"none of the {len(pick)} molecules offered could be encoded; a code bank needs at least one")
        mu, logvar = vae.encode_set(mols)
        info = {"size": len(mols), "offered": len(pick), "rejected": len(mols.rejects), "source": source,
                "rows_in_source": len(smiles), "seed": seed}
        bank = cls(mu, np.exp(0.5 * logvar), width, info, temperature)
        # the chosen molecules the model could not read, by their row in `smiles`
        bank.rejects = mols.rejects.assign(row=pick[mols.rejects.row.to_numpy(dtype=np.int64)])
        return bank

    def sampler(self, generator: torch.Generator | None = None, width: float | None = None) -> Callable[[int], torch.Tensor]:
        """A function ``draw(n)`` giving n codes (n, D) on the bank's device, call after call.

        The bank's molecules are visited in a random order, each once before any is visited again
        (sampling without replacement, reshuffled after every pass): each draw is still a draw from
        the aggregate posterior, but a finite bank does not hand out the same molecule twice within
        len(bank) draws, which would repeat molecules that a larger bank would not."""
        w = self.width if width is None else check_width(width)
        device = self.mu.device
        order, pos = torch.empty(0, dtype=torch.long, device=device), 0

        def draw(n: int) -> torch.Tensor:
            nonlocal order, pos
            picks = []
            while n > 0:
                if pos == len(order):
                    order, pos = torch.randperm(len(self.mu), generator=generator, device=device), 0
                take = min(n, len(order) - pos)
                picks.append(order[pos: pos + take])
                pos, n = pos + take, n - take
            pick = torch.cat(picks) if picks else order[:0]
            eps = torch.randn(len(pick), self.latent_dim, generator=generator, device=device)
            return self.mu[pick] + w * self.sigma[pick] * eps

        return draw

    def sample(self, n: int, generator: torch.Generator | None = None, width: float | None = None) -> torch.Tensor:
        """n codes (n, D) on the bank's device (one call of :meth:`sampler`)."""
        return self.sampler(generator, width)(n)

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The tensors stored in a checkpoint (float16: 256 bytes a molecule at 64 dimensions)."""
        return {STATE_PREFIX + "mu": self.mu.detach().cpu().half(), STATE_PREFIX + "sigma": self.sigma.detach().cpu().half()}

    def describe(self) -> dict[str, Any]:
        """What the checkpoint's metadata records about the bank."""
        return {"kind": self.kind, "width": self.width, "temperature": self.temperature, **self.info}

    @classmethod
    def from_checkpoint(cls, state: dict[str, torch.Tensor], info: dict[str, Any]) -> "CodeBank":
        """The bank stored under ``prior.*`` in `state` and described by `info` (popped from `state`)."""
        if info.get("kind") != cls.kind:
            raise MolvaeError(f"unknown prior kind {info.get('kind')!r} in the checkpoint (this molvae knows 'bank')")
        mu, sigma = state.pop(STATE_PREFIX + "mu"), state.pop(STATE_PREFIX + "sigma")
        rest = {k: v for k, v in info.items() if k not in ("kind", "width", "temperature")}
        # banks stored before the temperature was kept were sampled at 1
        return cls(mu.float(), sigma.float(), info.get("width", 1.0), rest, info.get("temperature", 1.0))


def resolve_prior(vae: Any, prior: str = "auto") -> CodeBank | None:
    """The code bank `prior` names for `vae`, or None for N(0, I): "auto" is the model's stored bank
    when it has one, "normal" is N(0, I), and "bank" requires a stored bank."""
    if prior not in PRIORS:
        raise MolvaeError(f"prior must be one of {', '.join(PRIORS)}; got {prior!r}")
    if prior == "normal":
        return None
    if prior == "bank" and vae.prior is None:
        raise MolvaeError("this model has no code bank; build one with `molvae fit-prior` (molvae.prior.CodeBank.fit)"
                          + hint("prior", ", or sample from N(0, I) with {}"))
    return vae.prior


def describe_prior(bank: CodeBank | None, width: float | None = None, temperature: float | None = None,
                   greedy: bool = False) -> dict[str, Any]:
    """Provenance of the codes a sample was drawn from, with the width and temperature used where
    they override the bank's (no temperature for `greedy` decoding, which uses none)."""
    if bank is None:
        return {"kind": "normal"}
    codes = {**bank.describe(), "width": bank.width if width is None else check_width(width),
             "temperature": sampling_temperature(bank, temperature)}
    if greedy:
        del codes["temperature"]
    return codes


def sampling_temperature(bank: CodeBank | None, temperature: float | None = None) -> float:
    """The decoding temperature of a sample: `temperature` when given, else the bank's stored one,
    else 1 (codes from N(0, I))."""
    if temperature is not None:
        return check_temperature(temperature)
    return bank.temperature if bank is not None else 1.0


def prior_label(codes: dict[str, Any]) -> str:
    """A short name for :func:`describe_prior`'s record: "normal" or "bank(width=W, n=N)", with the
    temperature where it is not 1."""
    if codes.get("kind") != CodeBank.kind:
        return "normal"
    temperature = codes.get("temperature", 1.0)
    return (f"bank(width={codes['width']:g}, n={codes.get('size', '?')}"
            + (f", temperature={temperature:g})" if temperature != 1 else ")"))
