"""The built wheel works where users install it: outside the clone, with the MOSES data inside it."""

import json
import os
import subprocess
import sys
import zipfile
from importlib.metadata import version
from pathlib import Path

import pandas as pd
import pytest

import molvae
from molvae.shipped import SHIPPED

REPO = Path(__file__).resolve().parents[2]


def _run(cmd: list, cwd: Path, env: dict) -> str:
    done = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True)
    assert done.returncode == 0, f"{' '.join(map(str, cmd))} failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def installed_wheel(tmp_path_factory):
    """A fresh virtual environment outside the clone with the wheel built from the repository installed in it
    (its dependencies, torch and RDKit among them, come from this environment's site-packages)."""
    if not (REPO / "pyproject.toml").is_file():
        pytest.skip("not run from a clone")
    root = tmp_path_factory.mktemp("wheel")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MOLVAE_DATA")}
    env.update(OMP_NUM_THREADS="1", MOLVAE_CACHE=str(root / "cache"))
    _run([sys.executable, "-m", "pip", "wheel", REPO, "--no-deps", "--no-build-isolation", "-q", "-w", root / "dist"],
         root, env)
    wheel = next((root / "dist").glob("molvae-*.whl"))
    _run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", root / "venv"], root, env)
    python = root / "venv" / "bin" / "python"
    _run([python, "-m", "pip", "install", "--no-deps", "-q", wheel], root, env)
    work = root / "work"  # outside the clone: the repository's data/ cannot be seen from here
    work.mkdir()
    return {"wheel": wheel, "python": python, "molvae": root / "venv" / "bin" / "molvae", "cwd": work, "env": env}


def test_the_wheel_carries_its_data_and_a_sensible_size(installed_wheel):
    w = installed_wheel
    where = _run([w["python"], "-c", "import molvae, molvae.io as io; print(molvae.__file__); print(io.data_dir())"],
                 w["cwd"], w["env"]).split()
    assert str(REPO) not in where[0] and str(REPO) not in where[1], "the installed copy must be the one imported"
    assert (Path(where[1]) / "train.csv.gz").is_file() and (Path(where[1]) / "moses_test_stats.npz").is_file()
    assert w["wheel"].stat().st_size < 60 * 2**20  # three shipped models (about 9 MB each) and the MOSES data
    # exactly the shipped models (a stale file left in build/ or pretrained/ must not travel)
    packed = {Path(n).name for n in zipfile.ZipFile(w["wheel"]).namelist() if "/pretrained/" in n and n.endswith(".pt")}
    assert packed == {m.path.name for m in SHIPPED}


def test_versions_agree(installed_wheel):
    w = installed_wheel
    assert _run([w["molvae"], "--version"], w["cwd"], w["env"]).strip() == f"molvae {molvae.__version__}"
    assert version("molvae") == molvae.__version__
    assert f"-{molvae.__version__}-" in w["wheel"].name


def test_sample_evaluate_and_train_run_from_the_wheel(installed_wheel):
    w = installed_wheel
    cwd, env, cli = w["cwd"], w["env"], w["molvae"]
    _run([cli, "sample", "-n", "300", "-o", "samples.csv", "-q"], cwd, env)
    assert len(pd.read_csv(cwd / "samples.csv")) == 300
    # the MOSES references (test and scaffold-test statistics) from inside the wheel; novelty against
    # the training set is left out here only for time (it canonicalizes 1.6 M molecules once), and
    # 300 samples and a tiny model on 300 molecules keep this test to seconds: it checks that the
    # installed package finds its data and runs, not what the metrics are
    _run([cli, "evaluate", "samples.csv", "--train", "none", "-q", "--workers", "1"], cwd, env)
    metrics = json.loads((cwd / "samples_metrics.json").read_text())["metrics"]
    assert metrics["valid"] == 1.0 and 0 < metrics["FCD/Test"] < 100 and 0 < metrics["SNN/TestSF"] < 1
    _run([cli, "train", "--data", "moses:example", "--limit", "300", "--epochs", "1", "--threads", "1",
          "--workers", "1", "--embed-dim", "16", "--encoder-hidden", "32", "--latent-dim", "8",
          "--decoder-hidden", "64", "--decoder-layers", "1", "-o", "run", "-q"], cwd, env)
    meta = _run([w["python"], "-c", "from molvae.checkpoint import load_checkpoint; "
                 "print(load_checkpoint('run/best.pt')['meta']['software']['molvae'])"], cwd, env)
    assert meta.strip() == molvae.__version__
