"""scripts/studies/campaign.py, equal_novelty.py and ship_check.py: the learning curve's projection, its ring
count and its figure; the widths at equal novelty; the release rule."""

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]


def load_study(name: str, monkeypatch):
    """scripts/studies/NAME.py as a module (it imports scripts/harness.py and its neighbours)."""
    monkeypatch.syspath_prepend(str(ROOT / "scripts"))
    monkeypatch.syspath_prepend(str(ROOT / "scripts" / "studies"))
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / "studies" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def campaign(monkeypatch):
    return load_study("campaign", monkeypatch)


def test_the_trends_recover_their_own_forms_and_band_the_noise(campaign):
    epochs = np.arange(1.0, 9.0, 0.5)
    log_form = 1.7 - 0.45 * np.log(epochs)
    assert campaign.trend(epochs, log_form, "log") == pytest.approx((1.7, -0.45))
    power_form = 1.7 * epochs ** -0.4
    a, b = campaign.trend(epochs, power_form, "power")
    assert (np.exp(a), b) == pytest.approx((1.7, -0.4))
    noisy = log_form + np.random.default_rng(1).normal(0, 0.08, len(epochs))
    proj = campaign.projection(pd.DataFrame({"epoch": epochs, "FCD/Test": noisy}), "FCD/Test", "log")
    truth = 1.7 - 0.45 * np.log(np.array(campaign.HORIZON))
    assert np.all(proj["lo"] < proj["at"]) and np.all(proj["at"] < proj["hi"])
    assert np.all(np.abs(proj["at"] - truth) < 0.15)
    few = pd.DataFrame({"epoch": epochs[:5], "FCD/Test": noisy[:5]})
    assert campaign.projection(few, "FCD/Test", "log") is None  # five rows: too few to extend
    # the epoch where a falling trend passes a threshold; inf where it never does
    assert campaign.reaching((1.7, -0.45), "log", 1.7 - 0.45 * np.log(12.0), up=False) == pytest.approx(12.0, abs=0.1)
    assert campaign.reaching((0.5, 0.1), "log", 0.4, up=True) == 1.0  # past it from the first epoch on
    assert campaign.reaching((1.7, 0.0), "log", 1.0, up=False) == float("inf")
    # met at the start but moving away from the target: not reached
    assert campaign.reaching((0.5, 0.3), "log", 1.0, up=False) == float("inf")


def test_a_restarted_leg_replaces_the_abandoned_rows_in_the_fits(campaign):
    table = pd.DataFrame({"epoch": [6.5, 7.0, 7.5, 8.0, 7.5], "leg": [2, 2, 2, 2, 3], "FCD/Test": [0.8, 0.78, 0.82, 0.68, 0.75]})
    line = campaign.current_line(table)
    assert list(zip(line.epoch, line.leg)) == [(6.5, 2), (7.0, 2), (7.5, 3)]
    assert len(campaign.current_line(table[table.leg == 2])) == 4  # before leg 3 has a row, leg 2's all count


def test_targets_are_translated_through_the_shipped_models_two_measurements(campaign):
    """The curve's row and the equal-novelty row of the same weights fix the offset between the two
    protocols: a ratio for FCD, a difference for the rest."""
    table = pd.DataFrame({"epoch": [6.5, 7.0], "FCD/Test": [0.9, 0.8], "Filters": [0.93, 0.94], "SNN/Test": [0.55, 0.554],
                          "redrawn": [0.006, 0.007], "large_rings": [0.028, 0.021]})
    anchors = pd.DataFrame({"target": ["CharRNN", "JT-VAE"], "Novelty": [0.851, 0.914], "FCD/Test": [0.64, 0.9],
                            "Filters": [0.957, 0.949], "SNN/Test": [0.553, 0.531], "redrawn": [0.032, 0.039]})
    goals = {(g["metric"], g["target"]): g for g in campaign.translate(table, anchors, 7.0)}
    assert goals[("FCD/Test", 1.0)]["curve_threshold"] == pytest.approx(1.0 * 0.8 / 0.64)
    assert goals[("FCD/Test", 0.395)]["curve_threshold"] == pytest.approx(0.395 * 0.8 / 0.9)
    assert goals[("Filters", 0.95)]["curve_threshold"] == pytest.approx(0.95 + 0.94 - 0.957)
    assert goals[("redraws", 0.02)]["curve_threshold"] == pytest.approx(0.02 + 0.028 - 0.032)


def test_large_ring_fraction_counts_rings_of_eight_or_more(campaign):
    assert campaign.large_ring_fraction(["C1CCCCCCC1", "c1ccccc1", "C1CCCCCC1", "CCO"]) == 0.25


def test_the_figure_is_drawn_from_the_table(campaign, tmp_path):
    table = pd.DataFrame({"epoch": [0, 0.5, 1.0, 1.5, 2.0], "FCD/Test": [2.1, 1.9, 1.7, 1.6, 1.5],
                          "Filters": [0.87, 0.88, 0.89, 0.9, 0.9], "n": 10_000, "width": 0.7,
                          "Novelty": [0.86, 0.86, 0.85, 0.85, 0.84]})
    campaign.plot(table, tmp_path / "c.png")
    assert (tmp_path / "c.png").stat().st_size > 10_000


def test_a_later_leg_goes_on_where_its_start_file_left_the_curve(campaign, monkeypatch):
    """A run restarted from the campaign's own file (its folder lost) is placed after that file's
    step, epochs and hours, as the next leg; rows scored again later keep the same leg number."""
    import molvae.checkpoint

    metas = {"v05.pt": {"step": 7690, "progress": 2.5, "elapsed_s": 7200.0},
             "step1538.pt": {"step": 1538, "progress": 0.5, "elapsed_s": 1800.0, "lr": 4.7e-4}}
    monkeypatch.setattr(molvae.checkpoint, "load_checkpoint", lambda path: {"meta": metas[Path(path).name]})
    table = pd.DataFrame({"step": [0, 3076, 7690], "leg": [1, 1, 1]})
    offset = campaign.leg_offset(Path("v05.pt"), table)
    assert offset == {"step": 7690, "epoch": 2.5, "train_hours": 2.0, "leg": 2}
    row = campaign.snapshot_row(Path("step1538.pt"), 1538, offset)
    assert row == {"step": 9228, "epoch": 3.0, "lr": 4.7e-4, "train_hours": 2.5, "leg": 2}
    again = pd.concat([table, pd.DataFrame([row])], ignore_index=True)
    assert campaign.leg_offset(Path("v05.pt"), again)["leg"] == 2


def test_a_leg_restarted_from_a_later_legs_file_is_found_by_its_learning_rate(campaign, monkeypatch):
    """A file shipped from leg 2 counts its step and epochs from leg 2's start; the curve's row with
    its learning rate places it, and the new leg's rows do not collide with leg 2's later rows."""
    import molvae.checkpoint

    metas = {"v06.pt": {"step": 13842, "progress": 4.5, "elapsed_s": 19950.0, "lr": 4.18019e-4}}
    monkeypatch.setattr(molvae.checkpoint, "load_checkpoint", lambda path: {"meta": metas[Path(path).name]})
    table = pd.DataFrame({"step": [7690, 21532, 23070], "epoch": [2.5, 7.0, 7.5], "train_hours": [6.6, 12.1, 13.6],
                          "lr": [4.83e-4, 4.18019e-4, 4.04e-4], "leg": [1, 2, 2]})
    assert campaign.leg_offset(Path("v06.pt"), table) == {"step": 21532, "epoch": 7.0, "train_hours": 12.1, "leg": 3}
    metas["v06.pt"]["lr"] = 3.0e-4  # no row holds it: refused, not placed at its own leg's step 13,842
    with pytest.raises(SystemExit, match="in no row of the curve"):
        campaign.leg_offset(Path("v06.pt"), table)

def test_a_second_restart_from_the_same_file_is_scored_as_its_own_leg(campaign, monkeypatch, tmp_path):
    """Leg 3 restarted from v0.6 and was lost too; leg 4 restarts from v0.6 again. Its snapshots have
    the same steps as leg 3's scored ones: by default they would be taken as scored, with --leg 4
    they are new rows; a leg number below the file's next is refused."""
    import molvae.checkpoint

    monkeypatch.setattr(molvae.checkpoint, "load_checkpoint", lambda path: {"meta": {"step": 13842, "lr": 4.18e-4}})
    table = pd.DataFrame({"step": [21532, 23070], "epoch": [7.0, 7.5], "train_hours": [12.1, 16.2],
                          "lr": [4.18e-4, 4.17e-4], "leg": [2, 3]})
    (tmp_path / "snapshots").mkdir()
    (tmp_path / "snapshots" / "step1538.pt").touch()
    default = campaign.leg_offset(Path("v06.pt"), table)
    assert default["leg"] == 3 and campaign.unscored(tmp_path, table, default)[0] == []
    fourth = campaign.leg_offset(Path("v06.pt"), table, leg=4)
    assert fourth == {"step": 21532, "epoch": 7.0, "train_hours": 12.1, "leg": 4}
    assert campaign.unscored(tmp_path, table, fourth)[0] == [(1538, tmp_path / "snapshots" / "step1538.pt")]
    with pytest.raises(SystemExit, match="leg 3 or later"):
        campaign.leg_offset(Path("v06.pt"), table, leg=2)


def test_the_figure_marks_where_a_later_leg_starts(campaign, tmp_path):
    table = pd.DataFrame({"epoch": [0, 0.5, 1.0, 1.5, 2.0], "FCD/Test": [2.1, 1.9, 1.7, 1.6, 1.5],
                          "Filters": [0.87, 0.88, 0.89, 0.9, 0.9], "n": 10_000, "width": 0.7,
                          "Novelty": [0.86, 0.86, 0.85, 0.85, 0.84], "leg": [1, 1, 1, 2, 2]})
    campaign.plot(table, tmp_path / "c.png")
    assert (tmp_path / "c.png").stat().st_size > 10_000


@pytest.fixture
def equal_novelty(monkeypatch):
    return load_study("equal_novelty", monkeypatch)


def test_equal_novelty_searches_on_as_many_samples_as_it_scores(equal_novelty, tmp_path, monkeypatch):
    """Novelty of distinct molecules rises with the sample count, so the search draws --n unless told otherwise."""
    import types

    import molvae

    vae = types.SimpleNamespace(prior=types.SimpleNamespace(temperature=0.5), domain=types.SimpleNamespace(max_ring=7))
    monkeypatch.setattr(molvae.MolVAE, "load", lambda *a, **k: vae)
    searched = []

    def stop(vae, grid, n, train, max_ring, temperature, seed):
        searched.append((n, seed, temperature, max_ring))
        raise SystemExit("searched")

    monkeypatch.setattr(equal_novelty, "search", stop)
    for extra, expected in (([], 1234), (["--search-n", "500"], 500)):
        monkeypatch.setattr(sys, "argv", ["equal_novelty.py", "--n", "1234", "--out", str(tmp_path), *extra])
        with pytest.raises(SystemExit, match="searched"):
            equal_novelty.main()
        assert searched[-1] == (expected, 0, 0.5, 7)


def test_equal_novelty_interpolates_the_width_of_each_target(equal_novelty):
    grid = pd.DataFrame({"width": [0.3, 0.5, 0.7, 0.9], "novelty": [0.70, 0.80, 0.86, 0.90]})
    assert equal_novelty.width_for(0.80, grid) == 0.5
    assert equal_novelty.width_for(0.83, grid) == pytest.approx(0.6)
    assert equal_novelty.width_for(0.95, grid) is None  # outside the grid: widen it rather than extrapolate
    # a noisy grid (novelty dipping as W grows) is made monotone before it is read
    noisy = pd.DataFrame({"width": [0.3, 0.5, 0.7, 0.9], "novelty": [0.70, 0.82, 0.81, 0.90]})
    assert equal_novelty.width_for(0.815, noisy) == pytest.approx(0.3 + 0.2 * 0.115 / 0.12, abs=1e-3)


def test_equal_novelty_figure_puts_molvae_beside_the_moses_models(equal_novelty, tmp_path):
    table = pd.DataFrame({"width": [0.3, 0.6, 0.9], "Novelty": [0.70, 0.84, 0.91], "FCD/Test": [0.6, 1.0, 1.6],
                          "Filters": [0.95, 0.92, 0.9], "SNN/Test": [0.6, 0.55, 0.5], "n": 30_000})
    equal_novelty.plot(table, tmp_path / "e.png", "molvae-moses-v0.6")
    assert (tmp_path / "e.png").stat().st_size > 10_000


def test_equal_novelty_keeps_each_models_rows_apart(equal_novelty):
    # a new model is searched at every target even where an earlier model's row holds it
    table = pd.DataFrame({"model": ["molvae-moses-v0.5", "molvae-moses-v0.6"], "target": ["AAE", "VAE"]})
    assert list(equal_novelty.of_model(table, "molvae-moses-v0.6").target) == ["VAE"]
    assert list(equal_novelty.of_model(table, "molvae-moses-v0.7").target) == []
    assert list(equal_novelty.of_model(pd.DataFrame(), "molvae-moses-v0.6").target) == []


def test_equal_novelty_keeps_each_temperatures_rows_apart(equal_novelty, tmp_path):
    # rows written before the temperature column existed were sampled at 1
    table = pd.DataFrame({"model": ["m"] * 3, "target": ["AAE", "AAE", "VAE"], "temperature": [float("nan"), 0.8, 1.0],
                          "width": [0.5, 0.9, 0.2], "Novelty": [0.79, 0.80, 0.70], "FCD/Test": [0.6, 0.5, 0.4],
                          "Filters": [0.95, 0.96, 0.97], "SNN/Test": [0.56, 0.57, 0.58], "n": 10_000})
    assert list(equal_novelty.of_model(table, "m", temperature=1.0).target) == ["AAE", "VAE"]
    assert list(equal_novelty.of_model(table, "m", temperature=0.8).width) == [0.9]
    assert list(equal_novelty.of_model(table, "m", temperature=0.6).target) == []
    assert len(equal_novelty.of_model(table, "m")) == 3
    equal_novelty.plot(table, tmp_path / "t.png", "m")  # one line per temperature
    assert (tmp_path / "t.png").stat().st_size > 10_000


def test_targets_are_translated_through_the_current_lines_row(campaign):
    """Where an abandoned leg scored the same epoch, the shipped weights are the current leg's row."""
    table = pd.DataFrame({"epoch": [7.0, 8.0, 8.0], "leg": [2, 2, 3], "FCD/Test": [0.8, 0.68, 0.73],
                          "Filters": [0.94] * 3, "SNN/Test": [0.55] * 3, "redrawn": [0.007] * 3,
                          "large_rings": [0.02] * 3})
    anchors = pd.DataFrame({"target": ["CharRNN", "JT-VAE"], "Novelty": [0.86, 0.914], "FCD/Test": [0.41, 0.6],
                            "Filters": [0.97, 0.96], "SNN/Test": [0.57, 0.55], "redrawn": [0.019, 0.027]})
    goals = {(g["metric"], g["target"]): g for g in campaign.translate(table, anchors, 8.0)}
    assert goals[("FCD/Test", 0.395)]["curve_same_weights"] == 0.73


def test_the_projection_reads_the_temperature_stored_with_the_models_bank(campaign, tmp_path):
    assert campaign.stored_temperature("molvae-moses-v0.9") == 0.5
    assert campaign.stored_temperature("molvae-moses-v0.4") == 1.0  # a bank stored before the temperature was kept
    assert campaign.stored_temperature(str(tmp_path / "missing.pt")) == 1.0


@pytest.fixture
def ship_check(monkeypatch):
    return load_study("ship_check", monkeypatch)


SHIPPED = {"FCD/Test": 0.41, "Filters": 0.974, "SNN/Test": 0.568, "Scaf/Test": 0.92, "IntDiv": 0.855,
           "unique@10k": 0.9996, "Novelty": 0.86, "redrawn": 0.0193}


def test_the_release_rule_needs_a_lower_fcd_and_no_loss_elsewhere(ship_check):
    better = {**SHIPPED, "FCD/Test": 0.38, "Filters": 0.976, "redrawn": 0.0199}  # more redraws, but within 2%
    assert ship_check.verdict(better, SHIPPED)["ships"]
    failed = lambda candidate: [c["measure"] for c in ship_check.verdict(candidate, SHIPPED)["checks"] if not c["passed"]]
    assert failed(SHIPPED) == ["FCD/Test"]  # the same FCD buys nothing
    assert failed({**better, "Novelty": 0.849}) == ["Novelty"]
    assert failed({**better, "SNN/Test": 0.567}) == ["SNN/Test"]
    assert failed({**better, "redrawn": 0.021}) == ["redrawn"]  # above 2% and above the shipped rate
    assert failed({**better, "unique@10k": 0.999}) == ["unique@10k"]


def test_the_ship_check_reads_the_shipped_models_card(ship_check):
    card = ship_check.card_figures("molvae-moses-v0.9")
    assert card["FCD/Test"] == pytest.approx(0.3506, abs=5e-4) and card["redrawn"] == pytest.approx(0.01589)
    assert ship_check.card_figures("molvae-moses-v0.8")["FCD/Test"] == pytest.approx(0.374, abs=5e-4)
    assert ship_check.card_figures("molvae-moses-v0.7")["FCD/Test"] == pytest.approx(0.410, abs=5e-4)  # a card kept after its model left the package
    with pytest.raises(SystemExit, match="model_card"):
        ship_check.card_figures("molvae-moses-v9.9")


def test_the_ship_check_goes_on_from_the_steps_already_done(ship_check, tmp_path, monkeypatch):
    """Steps whose outputs are in the work folder are not run again; the record compares and decides."""
    snapshot = tmp_path / "snapshots" / "step4614.pt"
    snapshot.parent.mkdir()
    snapshot.write_bytes(b"weights")
    work = tmp_path / "ship_x"
    work.mkdir()
    (work / "bank.pt").write_bytes(b"bank")
    card = ship_check.card_figures("molvae-moses-v0.9")  # the candidate: the shipped figures, with a lower FCD
    metrics = {**{k: v for k, v in card.items() if k != "redrawn"}, "FCD/Test": 0.33}
    (work / "samples_30k.csv.meta.json").write_text(json.dumps({"summary": {"redrawn": 0.016}}))
    (work / "metrics_30k.json").write_text(json.dumps({"metrics": metrics}))
    monkeypatch.setattr(ship_check.subprocess, "run", lambda *a, **k: pytest.fail("a finished step ran again"))
    argv = ["ship_check.py", str(snapshot), "--width", "1.2", "--label", "x", "--against", "molvae-moses-v0.9",
            "--out", str(tmp_path / "out")]
    monkeypatch.setattr(sys, "argv", argv)
    ship_check.main()
    record = json.loads((tmp_path / "out" / "ship_check_x.json").read_text())
    assert record["ships"] and record["against"]["model"] == "molvae-moses-v0.9"
    assert [c["passed"] for c in record["checks"]] == [True] * 6
    assert record["commands"][0].startswith("python -m molvae fit-prior moses:train -m ")
    assert "--width 1.2 --temperature 0.5" in record["commands"][0]
    # the same folder with another width is refused, before anything runs
    monkeypatch.setattr(sys, "argv", [*argv[:3], "1.3", *argv[4:]])
    with pytest.raises(SystemExit, match="width 1.2 -> 1.3"):
        ship_check.main()
    # once a step runs again, the later steps run too, though their old outputs are there
    (work / "bank.pt").unlink()
    ran = []
    monkeypatch.setattr(ship_check.subprocess, "run", lambda cmd, **k: ran.append(cmd[3]))
    monkeypatch.setattr(sys, "argv", argv)
    ship_check.main()
    assert ran == ["fit-prior", "sample", "evaluate"]


def test_the_projection_finds_the_shipped_models_row_by_its_learning_rate(campaign):
    lr = campaign.model_meta("molvae-moses-v0.9")["lr"]
    table = pd.DataFrame({"epoch": [11.0, 11.5, 12.0], "leg": [4, 4, 4], "lr": [lr * 1.01, lr, lr * 0.99]})
    assert campaign.model_row("molvae-moses-v0.9", table).epoch == 11.5
    with pytest.raises(SystemExit, match="no row has its learning rate"):  # v0.4's weights are in no row of this curve
        campaign.model_row("molvae-moses-v0.4", table)
    with pytest.raises(SystemExit, match="no shipped model"):
        campaign.model_row("molvae-moses-v9", table)
    # two legs restarted from the same file share their rates: the current line's row, not the lost leg's
    redone = pd.DataFrame({"step": [1, 2, 1, 2], "epoch": [8.5, 9.0, 8.5, 9.0], "leg": [4, 4, 5, 5],
                           "lr": [lr * 0.99, lr] * 2, "train_hours": [1.0, 2.0, 1.5, 2.5]})
    assert campaign.row_of(lr, redone).leg == 5
    assert campaign.row_of(lr, redone.iloc[:2]).leg == 4


def test_a_new_leg_goes_on_from_the_shipped_model_where_the_cosine_stood(campaign):
    """After a lost run folder: the shipped model's rate, the epochs left of the 20 (whole), the same last rate."""
    lr = campaign.model_meta("molvae-moses-v0.9")["lr"]
    table = pd.DataFrame({"epoch": [11.0, 11.5, 11.5, 12.0], "leg": [3, 3, 4, 3], "lr": [4.0e-4, 3.6e-4, lr, 3.5e-4]})
    plan = campaign.new_leg("molvae-moses-v0.9", table)
    flags = dict(zip(plan["flags"][::2], plan["flags"][1:][::2]))
    assert (plan["epoch"], plan["leg"]) == (11.5, 5)
    assert flags["--init-from"].endswith("molvae-moses-v0.9.pt") and flags["--epochs"] == "9"  # 8.5 left
    assert float(flags["--lr"]) == pytest.approx(lr, rel=1e-5)
    assert float(flags["--lr"]) * float(flags["--lr-final"]) == pytest.approx(5e-5, rel=1e-3)
    assert flags["--seed"] == "10" and flags["--beta"] == "0.6" and flags["--snapshot-epochs"] == "0.5"
    whole = campaign.new_leg("molvae-moses-v0.9", pd.DataFrame({"epoch": [12.0], "leg": [4], "lr": [lr]}))["flags"]
    assert whole[whole.index("--epochs") + 1] == "8"  # 8.0 epochs left: 8, not 9


def test_the_ship_check_searches_the_width_of_the_shipped_novelty(ship_check, tmp_path, monkeypatch):
    """Without --width: widths around the shipped one, extended until the novelty is bracketed, read off a line."""
    import molvae

    searched = []

    def fake_search(vae, grid, n, train, max_ring, temperature, seed):  # novelty rising along a line with the width
        searched.extend(grid)
        return pd.DataFrame({"width": grid, "novelty": [0.3 + 0.5 * w for w in grid], "n": n})

    monkeypatch.setattr(ship_check, "search", fake_search)
    monkeypatch.setattr(ship_check.subprocess, "run", lambda cmd, **k: None)
    monkeypatch.setattr(molvae.MolVAE, "load", classmethod(lambda cls, *a, **k: None))
    snapshot = tmp_path / "step1.pt"
    snapshot.write_bytes(b"weights")
    found = ship_check.find_width(snapshot, tmp_path, 0.9, 1.15, 0.5, 20_000, 500)
    assert found["width"] == pytest.approx(1.2) and searched == pytest.approx([1.05, 1.15, 1.25])
    searched.clear()
    assert ship_check.find_width(snapshot, tmp_path, 0.9, 1.15, 0.5, 20_000, 500)["width"] == pytest.approx(1.2)
    assert searched == []  # the same settings read WORK/search.json
    far = ship_check.find_width(snapshot, tmp_path, 0.97, 1.15, 0.5, 20_000, 500)  # past the grid: widened
    assert far["width"] == pytest.approx(1.34) and searched[-4:] == pytest.approx([1.05, 1.15, 1.25, 1.35])
    with pytest.raises(SystemExit, match="outside"):
        ship_check.find_width(snapshot, tmp_path, 1.9, 1.15, 0.5, 20_000, 500)
