"""The policy search: the decoder learns from the oracle (REINVENT's recipe, on a latent-conditioned decoder).

The frozen methods search the latent space of a fixed model. Here a copy of the decoder (the agent)
writes molecules at codes z, the oracle scores them, and the agent is moved toward REINVENT's
augmented likelihood: log p_prior(x | z) + reward_scale * score, where p_prior is the pretrained
decoder (Olivecrona et al. 2017; Blaschke et al. 2020). The squared gap between the two is the loss,
so the pretrained decoder anchors the agent: it keeps writing molecules the model knows while
shifting its probability toward what scores well. The best molecules found are replayed in every
update (experience replay).

Where the codes come from (``proposer``):
- ``cmaes`` (the default): CMA-ES, as in the frozen ``cmaes`` method, moves its search distribution
  toward codes whose molecules scored well while the agent learns to write better molecules at them.
  The agent decodes greedily (``greedy``), so CMA-ES's fitness is repeatable, and a row that repeats a
  molecule already seen is drawn again stochastically at the same code, up to ``redraws`` times
  (``resample``): few rows are wasted, and the agent does not collapse onto a few molecules.
- ``gaussian``: REINVENT's own way, z ~ N(z0, sigma^2) every round, sampled stochastically (with
  ``greedy=False``), so the agent rarely proposes one molecule twice.

The user's model is never changed: the agent is a copy."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Container

import numpy as np
import torch

from molvae.errors import ConfigError
from molvae.optimize.cmaes import PATIENCE, strategy
from molvae.optimize.oracle import BudgetExhausted
from molvae.optimize.state import MAX_ROUNDS, SearchState

COLLAPSED_ROUNDS = 20  # rounds in a row in which under 5% of the agent's molecules were new: it has collapsed


@dataclass
class PolicyConfig:
    """Settings of the policy search, for scores in [0, 1]: REINVENT's loss, anchor and replay as PMO
    ran them, with CMA-ES choosing the codes and greedy decoding (measured against REINVENT's blind
    Gaussian codes and sampling on the PMO tasks: docs/bench/pmo/policy_tuning.csv, docs/optimize.md).
    REINVENT's own way is ``proposer="gaussian", greedy=False, learning_rate=2e-3`` (64 a round)."""

    reward_scale: float = 500.0   # sigma of REINVENT's augmented likelihood: nats per unit of score
    learning_rate: float = 2.5e-4  # cmaes+greedy: 5e-4 and 2e-3 collapsed the agent sooner (gaussian: 2e-3)
    replay: int = 24              # best molecules replayed in each update (0: none)
    temperature: float = 1.0      # sampling temperature of the agent (and of the redraws)
    updates: int = 1              # Adam steps per round on the round's batch and the replay
    elite_fraction: float = 0.0   # gaussian: share of each round's codes drawn around the codes of the replayed best
    elite_spread: float = 0.5     # their spread (latent units)
    proposer: str = "cmaes"       # where the codes come from: "cmaes" (CMA-ES on the scores) or "gaussian" (N(z0, sigma^2))
    greedy: bool = True           # decode the agent greedily (argmax) instead of sampling
    resample: bool = True         # greedy: rows that wrote a molecule already seen are sampled again, stochastically
    redraws: int = 4              # resample: how many times such a row is sampled again while it still repeats one
                                  # (4 against 1: fewer rounds for the calls, and higher AUC on 5 of 6 PMO runs)

    def __post_init__(self):
        for name in ("reward_scale", "learning_rate", "temperature"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"policy {name} must be positive, got {getattr(self, name)}")
        if not 0 <= self.elite_fraction <= 1:
            raise ConfigError(f"policy elite_fraction must be in [0, 1], got {self.elite_fraction}")
        if self.updates < 1:
            raise ConfigError(f"policy updates must be at least 1, got {self.updates}")
        if self.proposer not in ("gaussian", "cmaes"):
            raise ConfigError(f"policy proposer must be 'gaussian' or 'cmaes', got {self.proposer!r}")
        if self.proposer == "cmaes" and self.elite_fraction:
            raise ConfigError("policy elite_fraction needs proposer = 'gaussian' (CMA-ES chooses every code itself)")
        if self.replay < 0:
            raise ConfigError(f"policy replay must be 0 or more, got {self.replay}")
        if self.redraws < 1:
            raise ConfigError(f"policy redraws must be at least 1, got {self.redraws} (resample = false turns redrawing off)")

    def run(self, state: SearchState) -> None:
        """Write `batch_size` molecules a round with the agent at codes from the proposer (``gaussian``:
        z ~ N(z0, sigma^2); ``cmaes``: CMA-ES on the scores), score them, and take one Adam step on the
        augmented-likelihood loss over them and the replayed best."""
        if state.vae is None:
            raise ConfigError("the policy search needs the model (SearchState.vae)")
        vae = state.vae
        prior = vae.model.eval()
        agent = copy.deepcopy(prior).eval()  # eval: no dropout; gradients still flow
        for p in agent.parameters():
            p.requires_grad_(False)
        for p in agent.decoder.parameters():
            p.requires_grad_(True)
        optimizer = torch.optim.Adam(agent.decoder.parameters(), lr=self.learning_rate)
        device = vae.device
        generator = torch.Generator(device=device).manual_seed(int(state.seed))
        memory = Replay(self.replay, prior.ids.pad)
        collapsed = 0
        codes = Codes(self.proposer, state, device, generator)
        for step in range(1, MAX_ROUNDS):
            state.begin_round()
            calls = state.oracle.calls
            z = codes.ask()
            elites = memory.codes()
            n_elite = int(round(self.elite_fraction * state.batch_size)) if elites is not None else 0
            if n_elite:
                pick = torch.as_tensor(state.rng.integers(len(elites), size=n_elite), device=device)
                z[:n_elite] = elites[pick] + self.elite_spread * torch.randn(n_elite, z.shape[1], generator=generator,
                                                                            device=device)
            with torch.no_grad(), vae.autocast():
                tokens = agent.generate(z, temperature=self.temperature, greedy=self.greedy, generator=generator)
            _, smiles = vae.tokens_to_smiles(tokens)
            if self.greedy and self.resample:
                tokens, smiles = self.resample_repeats(vae, agent, z, tokens, smiles, state.oracle.cache, generator)
            scores = state.oracle.fill(state.oracle(smiles, step))
            codes.tell(scores, new=state.oracle.calls - calls)
            # an agent that writes the same few molecules again and again has collapsed: stop, the rest
            # of the budget unspent (PMO's AUC holds the last value), rather than spin for hours
            collapsed = collapsed + 1 if state.oracle.calls - calls < 0.05 * len(smiles) else 0
            if collapsed >= COLLAPSED_ROUNDS:
                raise BudgetExhausted("collapsed")
            with torch.no_grad():  # the anchor's log p_prior, computed once per molecule: replayed ones keep theirs
                prior_logp = sequence_log_prob(prior, tokens, z)
            memory.add(tokens, z, scores, smiles, prior_logp)
            old_tokens, old_z, old_scores, old_logp = memory.batch()
            if old_tokens is not None:
                tokens, z = stack_padded([*tokens, *old_tokens], prior.ids.pad), torch.cat([z, old_z])
                scores, prior_logp = np.concatenate([scores, old_scores]), torch.cat([prior_logp, old_logp])
            rewards = torch.as_tensor(scores, dtype=torch.float32, device=device)
            for _ in range(self.updates):
                reinforce_step(agent, optimizer, tokens, z, prior_logp, rewards, self.reward_scale)

    def resample_repeats(self, vae, agent, z: torch.Tensor, tokens: torch.Tensor, smiles: list[str | None],
                         seen: Container[str], generator: torch.Generator) -> tuple[torch.Tensor, list[str | None]]:
        """Rows whose greedy molecule was seen before (in `seen`, the molecules scored in earlier
        rounds, or written by an earlier row of this batch), or that are no molecule, are decoded again
        by sampling at the same code, up to `redraws` times while they still repeat one: a free draw
        instead of a wasted row. A converged agent repeats itself, and each round costs one update
        whatever it found, so more redraws mean fewer rounds for the same calls."""
        rows, smiles = list(tokens), list(smiles)
        for _ in range(self.redraws):
            again, written = [], set()
            for i, smi in enumerate(smiles):  # tokens_to_smiles gives canonical SMILES, as the oracle keys them
                if smi is None or smi in seen or smi in written:
                    again.append(i)
                written.add(smi)
            if not again:
                break
            with torch.no_grad(), vae.autocast():
                redo = agent.generate(z[again], temperature=self.temperature, generator=generator)
            _, redo_smiles = vae.tokens_to_smiles(redo)
            for j, i in enumerate(again):
                rows[i], smiles[i] = redo[j], redo_smiles[j]
        return stack_padded(rows, vae.model.ids.pad), smiles


class Codes:
    """Where the agent's codes come from: ``gaussian``, z ~ N(z0, sigma^2) every round; or ``cmaes``,
    CMA-ES fitted to the scores of what the agent wrote, restarted (new seed, same centre and spread)
    once it has converged or `PATIENCE` rounds in a row brought no new molecule."""

    def __init__(self, kind: str, state: SearchState, device, generator: torch.Generator):
        self.kind, self.state, self.device, self.generator = kind, state, device, generator
        self.centre = torch.as_tensor(np.asarray(state.z0, dtype=np.float32), device=device)
        self.es, self.restarts, self.idle, self.asked = None, 0, 0, None

    def ask(self) -> torch.Tensor:
        state = self.state
        if self.kind == "gaussian":
            return self.centre + state.sigma * torch.randn(state.batch_size, len(self.centre),
                                                           generator=self.generator, device=self.device)
        if self.es is None or self.es.stop() or self.idle >= PATIENCE:
            self.es = strategy(state.z0, state, self.restarts)
            self.restarts, self.idle = self.restarts + 1, 0
        self.asked = self.es.ask()
        return torch.as_tensor(np.asarray(self.asked), dtype=torch.float32, device=self.device)

    def tell(self, scores: np.ndarray, new: int) -> None:
        """The scores of the molecules written at the last codes asked, and how many were new."""
        if self.es is not None:
            self.es.tell(self.asked, list(-scores))  # cma minimizes
            self.idle = self.idle + 1 if new == 0 else 0


def reinforce_step(agent, optimizer: torch.optim.Optimizer, tokens: torch.Tensor, z: torch.Tensor,
                   prior_logp: torch.Tensor, rewards: torch.Tensor, reward_scale: float) -> float:
    """One update of REINVENT's loss: (log p_prior(x|z) + reward_scale * reward - log p_agent(x|z))^2,
    averaged over the batch, with `prior_logp` the pretrained decoder's log p_prior(x|z) of each row
    (:func:`sequence_log_prob`; it never changes, so the caller computes it once). Returns the loss."""
    if not prior_logp.shape == rewards.shape == tokens.shape[:1]:
        raise ValueError(f"one prior log-probability and one reward per row: tokens {tuple(tokens.shape)}, "
                         f"prior_logp {tuple(prior_logp.shape)}, rewards {tuple(rewards.shape)}")
    anchor = prior_logp.detach() + reward_scale * rewards  # the anchor is a target: no gradient to the prior
    loss = (anchor - sequence_log_prob(agent, tokens, z)).pow(2).mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return float(loss.detach())


def sequence_log_prob(model, tokens: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """log p(tokens | z) under `model`'s decoder, summed over each row's tokens up to its ``<eos>``: (B,)."""
    targets = tokens.long()
    logits, _ = model.decoder(model.decoder_inputs(targets), z)
    logp = torch.log_softmax(logits.float(), dim=-1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    return (logp * (targets != model.ids.pad)).sum(dim=1)


def stack_padded(rows: list[torch.Tensor], pad: int) -> torch.Tensor:
    """Token rows of different lengths as one (B, T) batch, the shorter ones padded with `pad`."""
    return torch.nn.utils.rnn.pad_sequence(rows, batch_first=True, padding_value=pad)


class Replay:
    """The `size` best distinct molecules seen so far, with the tokens and codes that wrote them and
    the pretrained decoder's log-probability of them."""

    def __init__(self, size: int, pad: int):
        self.size, self.pad = size, pad
        self.rows: dict[str, tuple[float, torch.Tensor, torch.Tensor, torch.Tensor]] = {}

    def add(self, tokens: torch.Tensor, z: torch.Tensor, scores: np.ndarray, smiles: list[str | None],
            prior_logp: torch.Tensor) -> None:
        if not self.size:
            return
        for i, smi in enumerate(smiles):
            if smi and np.isfinite(scores[i]) and smi not in self.rows:
                # clones: a view would keep its whole round's batch alive as long as the row is remembered
                self.rows[smi] = (float(scores[i]), tokens[i].detach().clone(), z[i].detach().clone(),
                                  prior_logp[i].detach().clone())
        if len(self.rows) > self.size:
            best = sorted(self.rows.items(), key=lambda kv: -kv[1][0])[: self.size]
            self.rows = dict(best)

    def codes(self) -> torch.Tensor | None:
        """The codes that wrote the remembered molecules (None when there are none)."""
        return torch.stack([r[2] for r in self.rows.values()]) if self.rows else None

    def batch(self) -> tuple[torch.Tensor | None, torch.Tensor | None, np.ndarray | None, torch.Tensor | None]:
        """All the remembered molecules (at most `size`) as one batch: tokens, codes, scores and prior
        log-probabilities; Nones when there are none."""
        if not self.rows:
            return None, None, None, None
        rows = list(self.rows.values())
        tokens = stack_padded([r[1] for r in rows], self.pad)
        return tokens, torch.stack([r[2] for r in rows]), np.array([r[0] for r in rows]), torch.stack([r[3] for r in rows])
