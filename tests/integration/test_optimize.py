"""Latent-space optimization on the tiny model: budgets, constraints, objectives, the verb."""

import contextlib
import copy
import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
from rdkit import Chem
import torch
import pytest

from molvae import properties as P
from molvae.cli import main
from molvae.errors import ConfigError
from molvae.optimize import (Constraints, GradientConfig, Objective, PolicyConfig, SearchConfig, Term, load_spec, optimize,
                             run_to_folder, summary)

ASPIRIN = "CC(=O)Oc1ccccc1C(=O)O"
DATA = Path(__file__).parents[1] / "data"


@pytest.fixture(scope="module")
def shipped():
    from molvae.api import MolVAE

    return MolVAE.load(device="cpu")


@pytest.mark.parametrize("method", ["random", "cmaes", "gradient", "bo", "policy"])
def test_each_optimizer_improves_on_its_start_within_the_budget(shipped, method):
    # the shipped model (the tiny one decodes mostly junk): from a poorly drug-like lead, maximize QED
    start = "CCCCCCCCCCCCCCCC(=O)NCCO"
    start_qed = P.qed(start)
    objective = Objective([Term("qed")])
    table = optimize(shipped, objective, SearchConfig(method=method, budget=25, batch_size=5, start=start, sigma=1.0))
    assert 0 < len(table) <= 25
    assert table.call.tolist() == list(range(1, len(table) + 1))  # one call per new molecule, in order
    assert table.smiles.is_unique
    assert table.score.max() > start_qed + 0.05
    assert table.best_so_far.is_monotonic_increasing
    assert summary(table)["top1"] == pytest.approx(table.score.max())


@pytest.mark.parametrize("method", ["random", "cmaes", "bo"])  # gradient: test_gradient_climb_stays_within_its_radius
def test_search_from_start_molecules(shipped, moses_300, method, monkeypatch):
    from molvae.io import read_smiles

    pool = read_smiles(moses_300).tolist()
    cfg = SearchConfig(method=method, budget=20, batch_size=5, start_molecules=pool, start_count=15, seed=1, sigma=0.1)
    asked_points = _record_decoded_points(shipped, monkeypatch)
    table = optimize(shipped, Objective([Term("qed")]), cfg)
    assert len(table) == 20 and table.call.tolist() == list(range(1, 21))  # the start molecules are in the budget
    # round 0 is the start molecules and nothing else (no random first batch: their codes and scores
    # are the optimizer's first observations)
    first = table[table.step == 0]
    assert (table.step > 0).sum() == 5 and len(first) == 15 and first.smiles.isin({P.canonical(s) for s in pool}).all()
    if method in ("random", "cmaes"):  # the first proposals lie beside the best start molecules' codes
        codes = shipped.encode(first.nlargest(5, "score").smiles.tolist())
        asked = asked_points[0]  # round 1 (round 0 decoded nothing: the start molecules were scored as they are)
        dist = np.linalg.norm(asked[:, None, :] - codes[None], axis=-1).min(axis=1)
        prior_dist = np.linalg.norm(np.random.default_rng(0).standard_normal((5, 64))[:, None] - codes[None], axis=-1)
        assert dist.max() < 0.2 * 8 * 1.5 and prior_dist.min() > 4  # sigma * sqrt(64), with room


def _record_decoded_points(vae, monkeypatch) -> list:
    asked = []
    decode = vae.decode
    monkeypatch.setattr(vae, "decode", lambda z, **kw: asked.append(np.asarray(z)) or decode(z, **kw))
    return asked


def test_cmaes_restarts_from_the_next_best_start_once_converged(shipped, moses_300, monkeypatch):
    from molvae.io import read_smiles

    asked = _record_decoded_points(shipped, monkeypatch)
    pool = read_smiles(moses_300).tolist()[:6]
    cfg = SearchConfig(method="cmaes", budget=20, batch_size=4, start_molecules=pool, seed=0, sigma=0.01)
    table = optimize(shipped, Objective([Term("qed")]), cfg)
    codes = shipped.encode(table[table.step == 0].nlargest(6, "score").smiles.tolist())
    # each round's mean sits on one start code: the best first, then (with so small a spread every run
    # converges at once on its start molecule) the next-best ones in turn, round after round
    nearest = [int(np.linalg.norm(codes - z.mean(axis=0), axis=1).argmin()) for z in asked]
    assert nearest[:6] == [0, 1, 2, 3, 4, 5]


def test_gradient_climb_stays_within_its_radius(shipped, moses_300, monkeypatch):
    from molvae.io import read_smiles

    asked = _record_decoded_points(shipped, monkeypatch)
    pool = read_smiles(moses_300).tolist()
    cfg = SearchConfig(method="gradient", budget=24, batch_size=5, start_molecules=pool, start_count=20, seed=0,
                       sigma=0.01, gradient=GradientConfig(climb_radius=0.7))
    table = optimize(shipped, Objective([Term("qed")]), cfg)
    assert len(table) == 24 and (table.step == 0).sum() == 20  # round 0: the start molecules, no random batch
    seen = shipped.encode(pool)  # every start code the search could climb from
    for z in asked:
        step = np.linalg.norm(z[:, None, :] - seen[None], axis=-1).min(axis=1)
        assert step.max() <= 0.7 + 0.01 * 8 * 2 + 1e-4  # radius + the nudge (sigma * sqrt(64), twice for slack)
        assert step.max() > 0.35  # and it does climb
        seen = np.concatenate([seen, z])


def test_start_molecules_that_cannot_be_used(shipped):
    # unparsable rows cost nothing; a molecule the model cannot encode still costs its call
    table = optimize(shipped, Objective([Term("qed")]),
                     SearchConfig(method="cmaes", budget=12, batch_size=4, start_count=10,
                                  start_molecules=["not a molecule", "[U]", ASPIRIN, "CCN(CC)C(=O)c1ccccc1"]))
    start = table[table.step == 0]
    assert sorted(start.smiles) == sorted([P.canonical(s) for s in ("[U]", ASPIRIN, "CCN(CC)C(=O)c1ccccc1")])
    assert len(table) == 12
    with pytest.raises(ConfigError, match="none of the 2 start molecules"):
        optimize(shipped, Objective([Term("qed")]), SearchConfig(start_molecules=["[U]", "xyz"], budget=5))
    with pytest.raises(ConfigError, match="not both"):
        SearchConfig(start=ASPIRIN, start_molecules=[ASPIRIN])


def test_policy_update_moves_probability_toward_what_scores_well(tiny_model):
    from molvae.optimize.policy import reinforce_step, sequence_log_prob

    prior = tiny_model.model.eval()
    agent = copy.deepcopy(prior)
    gen = torch.Generator().manual_seed(0)
    z = torch.randn(32, tiny_model.config.latent_dim, generator=gen)
    tokens = prior.generate(z, generator=gen)
    rewarded = torch.tensor([i % 2 == 0 for i in range(32)])  # an arbitrary half of the batch scores 1
    optimizer = torch.optim.Adam(agent.decoder.parameters(), lr=3e-3)
    with torch.no_grad():
        before = sequence_log_prob(agent, tokens, z)
        prior_logp = sequence_log_prob(prior, tokens, z)
    losses = [reinforce_step(agent, optimizer, tokens, z, prior_logp, rewarded.float(), 20.0) for _ in range(15)]
    with torch.no_grad():
        gain = sequence_log_prob(agent, tokens, z) - before
    assert losses[-1] < losses[0]
    assert gain[rewarded].mean() > gain[~rewarded].mean() + 5.0  # nats: the rewarded half became likelier
    assert all(torch.equal(a, b) for a, b in zip(prior.parameters(), tiny_model.model.parameters()))


def test_policy_replay_keeps_each_molecules_prior_log_prob_with_its_row(tiny_model):
    """The replay holds the best molecules with the prior's log p(x|z) computed when they were
    written; after pruning to the best `size`, each row's kept value must still be its own."""
    from molvae.optimize.policy import Replay, sequence_log_prob

    prior = tiny_model.model.eval()
    gen = torch.Generator().manual_seed(1)
    memory, oracle, rng = Replay(5, prior.ids.pad), {}, np.random.default_rng(0)
    for _ in range(3):
        z = torch.randn(8, tiny_model.config.latent_dim, generator=gen)
        tokens = prior.generate(z, generator=gen)
        _, smiles = tiny_model.tokens_to_smiles(tokens)
        scores = np.array([oracle.setdefault(smi, rng.random()) if smi else np.nan for smi in smiles])  # one score a molecule
        with torch.no_grad():
            memory.add(tokens, z, scores, smiles, sequence_log_prob(prior, tokens, z))
    tokens, z, scores, kept = memory.batch()
    assert len(oracle) > 5  # pruning happened
    assert sorted(scores) == sorted(oracle.values())[-5:]  # the five best distinct molecules
    with torch.no_grad():
        fresh = sequence_log_prob(prior, tokens, z)
    assert torch.allclose(kept, fresh, atol=1e-4)


@pytest.mark.parametrize("policy", [PolicyConfig(), PolicyConfig(proposer="gaussian", greedy=False)])
def test_policy_search_spends_the_exact_budget_and_leaves_the_model_unchanged(tiny_model, policy):
    weights = copy.deepcopy(tiny_model.model.state_dict())
    table = optimize(tiny_model, Objective([Term("qed")]), SearchConfig(method="policy", budget=40, batch_size=8,
                                                                         policy=policy))
    assert table.call.tolist() == list(range(1, 41)) and table.smiles.is_unique
    assert table.attrs["stopped"] == "budget"
    assert all(torch.equal(weights[k], v) for k, v in tiny_model.model.state_dict().items())
    with pytest.raises(ConfigError, match="reward_scale must be positive"):
        SearchConfig(method="policy", policy=PolicyConfig(reward_scale=0))
    with pytest.raises(ConfigError, match="proposer must be"):
        PolicyConfig(proposer="bo")
    with pytest.raises(ConfigError, match="elite_fraction needs proposer"):
        PolicyConfig(proposer="cmaes", elite_fraction=0.5)


def test_greedy_policy_draws_again_the_rows_that_repeat_a_molecule(tiny_model):
    # a row whose greedy molecule was scored before, or written by an earlier row, or is no molecule,
    # is sampled again at its code; the other rows are kept as they are
    agent = tiny_model.model.eval()
    gen = torch.Generator().manual_seed(0)
    z = torch.randn(6, tiny_model.config.latent_dim, generator=gen)
    z = torch.cat([z, z[:1]])  # the last row repeats the first row's code, so its greedy molecule too
    tokens = agent.generate(z, greedy=True)
    _, smiles = tiny_model.tokens_to_smiles(tokens)
    seen = {smiles[1]}  # as if row 1's molecule had been scored in an earlier round
    expected = [i for i, s in enumerate(smiles) if s is None or s == smiles[1] or s in smiles[:i]]
    assert 1 in expected and 6 in expected
    new_tokens, new_smiles = PolicyConfig(greedy=True).resample_repeats(tiny_model, agent, z, tokens, list(smiles),
                                                                       set(seen), gen)
    assert new_smiles == tiny_model.tokens_to_smiles(new_tokens)[1]  # tokens and molecules still agree
    width = tokens.shape[1]
    for i in range(len(z)):
        if i not in expected:
            assert torch.equal(new_tokens[i, :width], tokens[i]) and new_smiles[i] == smiles[i]
    assert any(not torch.equal(new_tokens[i, :width], tokens[i]) for i in expected)  # drawn again, stochastically


class ScriptedDecoder:
    """An agent and model stand-in whose redraws write scripted molecules: the k-th redraw of row i
    writes ``script[i][k]``; tokens are (row, draw) pairs so that tokens and molecules stay in step."""

    def __init__(self, script: dict[int, list[str]]):
        self.script, self.draws, self.calls = script, {}, []
        self.model = SimpleNamespace(ids=SimpleNamespace(pad=-1))

    def autocast(self):
        return contextlib.nullcontext()

    def generate(self, z, temperature=1.0, generator=None):
        rows = [int(r) for r in z[:, 0]]
        self.calls.append(rows)
        out = []
        for r in rows:
            self.draws[r] = self.draws.get(r, -1) + 1
            out.append([r, self.draws[r]])
        return torch.tensor(out)

    def tokens_to_smiles(self, tokens):
        return [], [self.script[int(r)][int(d)] if d >= 0 else f"greedy{int(r)}" for r, d in tokens.tolist()]


@pytest.mark.parametrize("redraws, expected, rounds", [
    (1, ["CCO", "CCC"], [[0, 1]]),                            # one redraw: row 0 still repeats
    (3, ["CCCl", "CCC"], [[0, 1], [0], [0]]),                  # redrawn until new; row 1 kept after its first
    (5, ["CCCl", "CCC"], [[0, 1], [0], [0]]),                  # stops once no row repeats
])
def test_policy_redraws_a_repeating_row_until_it_is_new(redraws, expected, rounds):
    fake = ScriptedDecoder({0: ["CCO", "CCO", "CCCl"], 1: ["CCC"], 2: []})
    z = torch.tensor([[0.0], [1.0], [2.0]])
    tokens = torch.tensor([[0, -1], [1, -1], [2, -1]])
    _, smiles = fake.tokens_to_smiles(tokens)
    seen = {"greedy0", "greedy1", "CCO"}  # rows 0 and 1 wrote molecules already scored; row 2 a new one
    _, new_smiles = PolicyConfig(redraws=redraws).resample_repeats(fake, fake, z, tokens, smiles, seen, None)
    assert new_smiles == expected + ["greedy2"]  # row 2 was new: never redrawn
    assert fake.calls == rounds
    with pytest.raises(ConfigError, match="redraws must be at least 1"):
        PolicyConfig(redraws=0)


@pytest.mark.parametrize("settings", [PolicyConfig(), PolicyConfig(proposer="gaussian", greedy=False)])
def test_a_collapsed_policy_stops_instead_of_spinning(tiny_model, monkeypatch, settings):
    # an agent that writes one molecule over and over (its redraws too) spends no calls: the search
    # ends after 20 such rounds
    from molvae.optimize import policy

    rounds = []
    ask = policy.Codes.ask
    monkeypatch.setattr(policy.Codes, "ask", lambda self: rounds.append(1) or ask(self))
    monkeypatch.setattr(tiny_model, "tokens_to_smiles", lambda ids: ([], ["CCO"] * len(ids)))
    table = optimize(tiny_model, Objective([Term("qed")]), SearchConfig(method="policy", budget=50, batch_size=4,
                                                                         policy=settings))
    assert len(table) == 1 and len(rounds) == 1 + policy.COLLAPSED_ROUNDS  # the first round found CCO
    assert table.attrs["stopped"] == "collapsed"


def test_a_time_limit_ends_a_search_between_rounds_and_says_so(tiny_model, monkeypatch, tmp_path):
    # the clock runs 10 s a round: a 25 s limit lets three rounds start (at 0, 10 and 20 s), the
    # fourth finds the limit passed; the calls are those of the first three rounds, no more
    from molvae.optimize import oracle as oracle_module, report
    from molvae.optimize import random_search

    clock = [0.0]
    monkeypatch.setattr(oracle_module.Oracle, "elapsed", property(lambda self: clock[0]))
    run = random_search.RandomConfig.run

    def tick(self, state):
        begin = state.begin_round

        def begin_and_tick():
            begin()
            clock[0] += 10.0
        state.begin_round = begin_and_tick
        return run(self, state)
    monkeypatch.setattr(random_search.RandomConfig, "run", tick)
    search = SearchConfig(method="random", budget=500, batch_size=5, time_limit_minutes=25 / 60)
    table, result = run_to_folder(tiny_model, Objective([Term("qed")]), search, tmp_path / "run", train=None,
                                  progress=False)
    assert table.attrs["stopped"] == result["stopped"] == "time limit"
    assert 0 < len(table) <= 15 and table.step.max() <= 3  # unlimited, 100 rounds would spend the budget
    assert "stopped before the budget of 500: the time limit passed" in report(table, result, search, tmp_path)
    with pytest.raises(ConfigError, match="time_limit_minutes must be a positive number"):
        SearchConfig(time_limit_minutes=0)


def test_infeasible_molecules_are_recorded_but_never_best(tiny_model):
    objective = Objective([Term("qed")], Constraints(similarity_min=0.95))  # to the search's start
    table = optimize(tiny_model, objective, SearchConfig(method="random", budget=15, batch_size=5, start=ASPIRIN, sigma=2.0))
    infeasible = table[~table.feasible]
    assert len(infeasible) and infeasible.violation.str.contains("similarity").all()
    top = summary(table)["top"]
    assert all(table.set_index("smiles").loc[t["smiles"], "feasible"] for t in top)


def test_optimize_verb(tiny_run, tmp_path, capsys):
    spec = tmp_path / "spec.toml"
    spec.write_text('[objective]\nterms = [{property = "qed"}, {property = "logp", goal = "window", low = 1, high = 3, weight = 0.2}]\n'
                    f'[constraints]\nsa_max = 6\n[search]\nmethod = "cmaes"\nbudget = 12\nbatch_size = 4\nstart = "{ASPIRIN}"\n')
    out = tmp_path / "opt"
    assert main(["optimize", str(spec), "-m", str(tiny_run / "best.pt"), "--device", "cpu", "--budget", "10",
                 "--train", "none", "-o", str(out), "-q"]) == 0
    table = pd.read_csv(out / "proposals.csv")
    assert 0 < len(table) <= 10 and {"call", "score", "feasible", "qed", "logp", "similarity"} <= set(table.columns)
    info = json.loads((out / "summary.json").read_text())
    assert info["settings"]["search"]["budget"] == 10 and (out / "score_vs_calls.png").stat().st_size > 1000
    assert "oracle calls" in capsys.readouterr().out
    assert main(["optimize", "-m", str(tiny_run / "best.pt")]) == 2
    assert "give a spec file" in capsys.readouterr().err
    # start from the molecules of a file: the first --start-count calls score them
    out2 = tmp_path / "opt2"
    assert main(["optimize", "--maximize", "qed", "--start-from", str(DATA / "moses_300.csv"), "--start-count", "6",
                 "--budget", "9", "-m", str(tiny_run / "best.pt"), "--device", "cpu", "--train", "none",
                 "-o", str(out2), "-q"]) == 0
    table = pd.read_csv(out2 / "proposals.csv")
    assert (table.step == 0).sum() == 6 and len(table) <= 9
    assert "6 start molecules" in capsys.readouterr().out
    assert main(["optimize", "--maximize", "qed", "--start", ASPIRIN, "--start-from", "x.csv",
                 "-m", str(tiny_run / "best.pt")]) == 2
    assert "not both" in capsys.readouterr().err


def test_optimize_verb_with_the_users_scorer(tiny_run, tmp_path, monkeypatch, capsys):
    # a function in a file of the folder molvae runs in, named module:function; the spec it writes repeats it
    (tmp_path / "my_scores.py").write_text("def ring_atoms(smiles):\n    return float(sum(c.isdigit() for c in smiles))\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sys.path", [p for p in __import__("sys").path if p not in ("", str(tmp_path))])
    model = ["-m", str(tiny_run / "best.pt"), "--device", "cpu", "--train", "none", "-q"]
    assert main(["optimize", "--oracle", "my_scores:ring_atoms", "--budget", "8", "--method", "policy",
                 "--batch-size", "4", "-o", "opt", *model]) == 0
    table = pd.read_csv(tmp_path / "opt" / "proposals.csv")
    assert len(table) == 8 and (table.score == table["my_scores:ring_atoms"]).all()
    assert 'property = "my_scores:ring_atoms"' in (tmp_path / "opt" / "spec.toml").read_text()
    assert main(["optimize", str(tmp_path / "opt" / "spec.toml"), "-o", "again", *model]) == 0
    again = pd.read_csv(tmp_path / "again" / "proposals.csv")
    assert again.smiles.tolist() == table.smiles.tolist()  # the policy search is seeded
    assert main(["optimize", "--oracle", "my_scores:nothing", *model]) == 2
    assert "module 'my_scores' has no 'nothing'" in capsys.readouterr().err


def test_run_to_folder_writes_a_spec_that_repeats_the_run(shipped, moses_300, tmp_path):
    objective = Objective([Term("qed"), Term("logp", goal="window", low=1, high=3, weight=0.2)], Constraints(sa_max=6))
    search = SearchConfig(method="gradient", budget=12, batch_size=4, start=ASPIRIN, gradient=GradientConfig(climb_radius=0.8))
    table, result = run_to_folder(shipped, objective, search, tmp_path / "run", train=moses_300, top=2,
                                  progress=False, command="molvae optimize test")
    assert {p.name for p in (tmp_path / "run").iterdir()} == {"proposals.csv", "proposals.sdf", "summary.json",
                                                             "spec.toml", "score_vs_calls.png"}
    assert "novel" in table and len(pd.read_csv(tmp_path / "run" / "proposals.csv")) == len(table) == result["calls"]
    records = list(Chem.SDMolSupplier(str(tmp_path / "run" / "proposals.sdf")))  # the same rows, properties as tags
    assert [Chem.MolToSmiles(m) for m in records] == table.smiles.tolist()
    assert [m.GetProp("call") for m in records] == table.call.astype(str).tolist()
    info = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert info["command"] == "molvae optimize test" and info["summary"]["top2"] == result["top2"]
    assert "# command: molvae optimize test" in (tmp_path / "run" / "spec.toml").read_text()
    assert load_spec(tmp_path / "run" / "spec.toml") == (objective, search)  # equal settings
    again, _ = run_to_folder(shipped, *load_spec(tmp_path / "run" / "spec.toml"), tmp_path / "again", train=None)
    assert "novel" not in again
    pd.testing.assert_frame_equal(again.drop(columns="seconds"), table.drop(columns=["seconds", "novel"]))


def test_predictor_fits_saves_and_loads(tiny_run, tmp_path, moses_300, capsys):
    from molvae.api import MolVAE
    from molvae.predictors import predict, r2_score

    assert r2_score(pd.Series([1.0, 2, 3]).to_numpy(), pd.Series([1.0, 2, 3]).to_numpy()) == 1.0
    out = tmp_path / "with_predictor.pt"
    assert main(["fit-predictor", str(moses_300), "-m", str(tiny_run / "best.pt"), "--device", "cpu",
                 "--properties", "mw,qed", "--epochs", "30", "-o", str(out), "-q"]) == 0
    text = capsys.readouterr().out
    assert "mw" in text and "R2" in text
    vae = MolVAE.load(out, device="cpu")
    assert vae.predictor.names == ["mw", "qed"] and set(vae.predictor.metrics) == {"mw", "qed"}
    pred = predict(vae, [ASPIRIN, "C1CC"])
    assert list(pred.columns) == ["pred_mw", "pred_qed"] and pred.iloc[1].isna().all() and pred.iloc[0].notna().all()
    again = MolVAE.load(vae.save(tmp_path / "copy.pt"), device="cpu")  # round trip keeps the predictor
    pd.testing.assert_frame_equal(predict(again, [ASPIRIN]), pred.iloc[:1])
    # molecular weight is well encoded even by the tiny model: better than predicting the mean
    assert vae.predictor.metrics["mw"]["r2"] > 0
    # a column of the user's own measurements is not an RDKit property: the error says where to go instead
    assays = tmp_path / "assays.csv"
    pd.DataFrame({"smiles": [ASPIRIN] * 3, "pIC50": [5.1, 5.2, 5.0]}).to_csv(assays, index=False)
    assert main(["fit-predictor", str(assays), "-m", str(tiny_run / "best.pt"), "--properties", "qed,pIC50",
                 "-o", str(tmp_path / "no.pt")]) == 2
    err = capsys.readouterr().err
    assert "'pIC50' is a column of" in err and "molvae encode" in err and not (tmp_path / "no.pt").exists()


def test_gradient_search_uses_the_property_predictor(tiny_model, moses_300):
    from molvae.optimize import surrogate_objective
    from molvae.predictors import fit_predictor

    smiles = pd.read_csv(moses_300).iloc[:, 0].tolist()
    predictor, _ = fit_predictor(tiny_model, smiles, "qed,logp", epochs=20)
    objective = Objective([Term("qed"), Term("logp", goal="window", low=1, high=2, weight=0.5)])
    f = surrogate_objective(objective, predictor)
    z = torch.zeros(3, tiny_model.config.latent_dim, requires_grad=True)
    values = predictor.predict(z)
    expected = values[:, 0] - 0.5 * (torch.relu(1 - values[:, 1]) + torch.relu(values[:, 1] - 2))
    torch.testing.assert_close(f(z), expected)
    f(z).sum().backward()
    assert z.grad is not None and z.grad.abs().sum() > 0  # differentiable in z
    assert surrogate_objective(Objective([Term("sa")]), predictor) is None  # a term it cannot predict
    tiny_model.predictor = predictor
    try:
        table = optimize(tiny_model, objective, SearchConfig(method="gradient", budget=15, batch_size=5))
    finally:
        tiny_model.predictor = None
    assert 0 < len(table) <= 15


def test_property_head_trained_jointly(moses_300, tmp_path):
    """model.property_head: the head is trained with the VAE, its loss logged, and the loaded model
    exposes it as its predictor; an unknown property is a clear error before any work."""
    from conftest import tiny_config
    from molvae.api import MolVAE, train
    from molvae.predictors import predict

    cfg = tiny_config(moses_300, epochs=8, property_weight=5.0)
    cfg.model.property_head = "qed,mw"
    train(cfg, tmp_path / "head", progress=False)
    log = pd.read_csv(tmp_path / "head" / "log.csv")
    assert log.train_prop_mse.notna().all() and log.val_prop_mse.iloc[-1] < log.val_prop_mse.iloc[0]
    vae = MolVAE.load(tmp_path / "head" / "best.pt", device="cpu")
    assert vae.predictor is vae.model.property_head and vae.predictor.names == ["qed", "mw"]
    assert 150 < float(vae.predictor.y_mean[1]) < 450  # standardized by the training molecules' MW
    pred = predict(vae, [ASPIRIN])
    assert pred.notna().all(axis=None)
    again = MolVAE.load(vae.save(tmp_path / "copy.pt"), device="cpu")
    pd.testing.assert_frame_equal(predict(again, [ASPIRIN]), pred)
    cfg.model.property_head = "qed,potency"
    with pytest.raises(ConfigError, match="potency"):
        train(cfg, tmp_path / "bad", progress=False)


def _refuse(constant):
    raise ValueError(f"not strict JSON: {constant}")


def test_summary_is_strict_json_when_fewer_than_top_are_feasible(tiny_model, tmp_path):
    """Two calls cannot give a top 3: the missing scores are null, not a bare NaN."""
    search = SearchConfig(method="random", budget=2, batch_size=2, start=ASPIRIN)
    table, result = run_to_folder(tiny_model, Objective([Term("qed")]), search, tmp_path / "run", train=None,
                                  progress=False)
    info = json.loads((tmp_path / "run" / "summary.json").read_text(), parse_constant=_refuse)
    assert info["summary"]["top3"] is None and result["feasible"] <= 2
    assert info["summary"]["search_seconds"] >= 0 and info["summary"]["novelty_seconds"] is None


def test_start_molecules_that_cannot_be_used_are_listed_with_reasons(tiny_model, tmp_path, capsys):
    from molvae.optimize import report

    start = tmp_path / "start.csv"
    start.write_text("smiles\nCCO\nnot a molecule\nc1ccccc1O\n[U]\n")
    search = SearchConfig(method="random", budget=6, batch_size=2, start_molecules=str(start), start_count=4)
    table, result = run_to_folder(tiny_model, Objective([Term("qed")]), search, tmp_path / "run", train=None,
                                  progress=False)
    rejects = pd.read_csv(tmp_path / "run" / "start_rejects.csv")
    assert rejects.row.tolist() == [1, 3] and rejects.input.tolist() == ["not a molecule", "[U]"]
    assert rejects.reason[0] == "RDKit cannot parse the SMILES" and "vocabulary" in rejects.reason[1]
    assert result["start_rejected"] == 2 and "start_rejects.csv lists them" in report(table, result, search, tmp_path)


def test_novelty_is_exact_and_timed_apart_from_the_search(shipped, tmp_path, monkeypatch):
    """Against MOSES-train, novelty is judged from the stored rows and the record of the 276 not
    stored canonically, without building the index; a molecule stored only in another spelling is not novel."""
    from molvae import data
    from molvae.novelty import RECORD

    monkeypatch.setattr(data, "canonicalize", lambda *a, **k: pytest.fail("canonicalized the training set"))
    respelled = pd.read_csv(RECORD).canonical.iloc[0]  # in MOSES-train only as another spelling
    search = SearchConfig(method="random", budget=3, batch_size=3, start_molecules=[respelled, ASPIRIN, "CCO"])
    table, result = run_to_folder(shipped, Objective([Term("qed")]), search, tmp_path / "run",
                                  train="moses:train", progress=False)
    novel = dict(zip(table.smiles, table.novel))
    assert not novel[respelled] and novel[P.canonical(ASPIRIN)] and novel["CCO"]
    assert result["novelty_seconds"] is not None and result["search_seconds"] is not None
