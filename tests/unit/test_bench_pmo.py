"""scripts/benchmarks/bench_pmo.py's merge of results folders written by runs side by side, and the timing
helpers of scripts/benchmarks/bench_oracle.py."""

import importlib.util
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]


def _script(monkeypatch, name: str):
    monkeypatch.syspath_prepend(str(ROOT / "scripts" / "benchmarks"))  # bench_oracle.py imports its neighbour bench_pmo.py
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def bench(monkeypatch):
    return _script(monkeypatch, "bench_pmo")


def _folder(path: Path, rows: list[tuple[str, str, int, float]]) -> pd.DataFrame:
    (path / "runs").mkdir(parents=True)
    table = pd.DataFrame([{"scoring": "pmo2022", "task": t, "method": m, "seed": s, "auc_top10": a} for t, m, s, a in rows])
    table.to_csv(path / "results.csv", index=False)
    for t, m, s, _ in rows:
        (path / "runs" / f"pmo2022_{t}_{m}_s{s}.csv.gz").write_text(str(path))
    return table


def test_merge_adds_the_runs_out_lacks_and_keeps_its_own(bench, tmp_path):
    out = _folder(tmp_path / "out", [("qed", "policy", 0, 0.5)])
    _folder(tmp_path / "side", [("qed", "policy", 0, 0.9), ("median1", "policy", 0, 0.3), ("median1", "cmaes", 0, 0.2)])
    merged = bench.merge(out, tmp_path / "out", [tmp_path / "side"])
    assert list(zip(merged.task, merged.method, merged.auc_top10)) == [
        ("median1", "cmaes", 0.2), ("median1", "policy", 0.3), ("qed", "policy", 0.5)]  # sorted; OUT's qed row kept
    runs = tmp_path / "out" / "runs"
    assert (runs / "pmo2022_median1_cmaes_s0.csv.gz").read_text() == str(tmp_path / "side")
    assert (runs / "pmo2022_qed_policy_s0.csv.gz").read_text() == str(tmp_path / "out")  # not overwritten
    with pytest.raises(SystemExit, match="holds no results.csv"):
        bench.merge(out, tmp_path / "out", [tmp_path / "nowhere"])


def test_merge_into_an_empty_folder_and_a_row_without_its_run_file(bench, tmp_path, capsys):
    (tmp_path / "out" / "runs").mkdir(parents=True)
    _folder(tmp_path / "side", [("qed", "random", 1, 0.7), ("qed", "random", 0, 0.6)])
    (tmp_path / "side" / "runs" / "pmo2022_qed_random_s1.csv.gz").unlink()
    merged = bench.merge(pd.DataFrame(), tmp_path / "out", [tmp_path / "side"])
    assert list(merged.seed) == [0, 1]
    assert "pmo2022_qed_random_s1.csv.gz is missing" in capsys.readouterr().out
    assert bench.merge(pd.DataFrame(), tmp_path / "out", []).empty


def test_report_marks_a_run_cut_short_by_time_as_a_lower_bound(bench, tmp_path):
    rows = [("qed", "policy", 0, 0.94, 10000, "budget"), ("median1", "policy", 0, 0.33, 8079, "collapsed"),
            ("deco_hop", "policy", 0, 0.61, 4200, "time limit"), ("deco_hop", "cmaes", 0, 0.60, 10000, float("nan"))]
    results = pd.DataFrame([{"scoring": "pmo2022", "task": t, "method": m, "seed": s, "auc_top10": a, "calls": c,
                             "budget": 10000, "seconds": 1.0, "stopped": why} for t, m, s, a, c, why in rows])
    text = bench.report(results, tmp_path)
    deco = next(line for line in text.splitlines() if line.startswith("| deco_hop"))
    assert "≥ 0.610" in deco and "≥ 0.600" not in deco and "0.600" in deco  # only the time-limited run
    total = next(line for line in text.splitlines() if line.startswith("| **sum"))
    assert "**≥ " in total  # the policy's sum holds a lower bound
    qed = next(line for line in text.splitlines() if line.startswith("| qed"))
    assert "≥" not in qed
    short = next(line for line in text.splitlines() if line.startswith("- stopped before the budget"))
    assert "policy median1 seed 0 at 8,079 calls (collapsed)" in short
    assert "policy deco_hop seed 0 at 4,200 calls (time limit)" in short and "cmaes" not in short
    older = bench.report(results.drop(columns="stopped"), tmp_path)  # rows written before the column existed
    assert "≥" not in older and "at 8,079 calls (reason not recorded)" in older
    full = bench.report(results[results.calls == 10000], tmp_path)  # every run used its budget
    assert "stopped before the budget" not in full


def test_seed_spread_sums_each_seed_over_the_tasks_all_seeds_ran(bench):
    runs = pd.DataFrame({"task": ["a", "b", "c", "a", "b"], "seed": [0, 0, 0, 1, 1], "auc_top10": [0.5, 0.7, 0.9, 0.4, 0.6]})
    means = pd.DataFrame({"cmaes": {"a": 0.3, "b": 0.5, "c": 0.1}})
    line, = bench.seed_spread(runs, "policy", means, [("policy", "cmaes")])
    assert "on the 2 tasks all its seeds (0, 1) ran: sums 1.200, 1.000 (spread 0.200)" in line  # task c: seed 0 only
    assert "cmaes (mean over its seeds) sums 0.800 there, so each seed leads it by +0.400, +0.200" in line
    assert bench.seed_spread(runs[runs.seed == 0], "policy", means, []) == []  # one seed: no spread


def test_a_variant_is_compared_run_for_run_with_its_method(bench, tmp_path):
    # only the (task, seed) runs both made count; rounds are summed only when every such row has them
    rows = [("qed", "policy_redraw1", 0, 0.90, 1000), ("qed", "policy_redraw1", 1, 0.80, 1200),
            ("median1", "policy_redraw1", 1, 0.30, 900), ("qed", "policy", 1, 0.85, 500), ("median1", "policy", 1, 0.28, 400),
            ("median1", "policy", 2, 0.99, 100)]
    results = pd.DataFrame([{"scoring": "pmo2022", "task": t, "method": m, "seed": s, "auc_top10": a, "rounds": r,
                             "calls": 10000, "budget": 10000, "seconds": 1.0} for t, m, s, a, r in rows])
    line = next(l for l in bench.report(results, tmp_path).splitlines() if "run for run" in l)
    assert line == ("- policy against policy_redraw1, run for run (2 runs of the same task and seed): AUC sum +0.030, "
                    "above on 1, below on 1; rounds 900 against 2,100")
    results.loc[0, "rounds"] = float("nan")  # qed seed 0 is not one of the pairs: still counted
    assert "rounds 900 against 2,100" in bench.report(results, tmp_path)
    results.loc[1, "rounds"] = float("nan")  # qed seed 1 is: no rounds then
    assert "rounds" not in next(l for l in bench.report(results, tmp_path).splitlines() if "run for run" in l)


def test_figures_count_a_search_rounds_and_none_for_screening(bench):
    table = pd.DataFrame({"call": [1, 2, 3], "step": [0, 1, 4], "smiles": ["C", "CC", "CCC"], "score": [0.1, 0.5, 0.3]})
    assert bench.figures(table, 10)["rounds"] == 4
    assert pd.isna(bench.figures(table.drop(columns="step"), 10)["rounds"])


def test_oracle_timing_samples_the_whole_run_and_times_every_call(monkeypatch):
    oracle = _script(monkeypatch, "bench_oracle")
    items = list(range(1000))
    picked = oracle.evenly(items, 5)
    assert picked[0] == 0 and picked[-1] == 999 and len(picked) == 5 and picked == sorted(picked)
    assert oracle.evenly(items[:3], 5) == [0, 1, 2]  # fewer than asked: all of them
    seen = []
    seconds = oracle.time_calls(seen.append, ["a", "b", "c"])
    assert seen == ["a", "a", "b", "c"]  # one warm-up call, then one timed call per molecule
    assert seconds.shape == (3,) and (seconds >= 0).all()
