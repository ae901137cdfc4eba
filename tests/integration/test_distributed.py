"""DDP: two processes on this machine's CPU (gloo), launched by torchrun as a cluster would."""

import os
import re
import subprocess
import sys

import pandas as pd

from molvae.api import MolVAE
from molvae.checkpoint import load_checkpoint

TINY = ["--embed-dim", "16", "--encoder-hidden", "32", "--latent-dim", "8", "--decoder-hidden", "64",
        "--decoder-layers", "1", "--batch-size", "32", "--workers", "1", "--precision", "fp32", "-q"]


def torchrun(args: list[str], nproc: int) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}",
           "-m", "molvae", "train", *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)


def test_two_gloo_processes_train_resume_and_load(tmp_path, moses_300):
    out = tmp_path / "ddp"
    run = torchrun(["--data", str(moses_300), "--epochs", "2", "-o", str(out), *TINY], 2)
    assert run.returncode == 0, run.stderr[-3000:]
    # both ranks trained, on disjoint halves of each epoch's batches
    # (the ranks share stderr, so their lines can run together)
    counts = dict(re.findall(r"rank (\d/2): trained on (\d+) molecules", run.stderr))
    assert set(counts) == {"0/2", "1/2"} and min(map(int, counts.values())) > 0, run.stderr[-2000:]
    # the first epoch: the single-process step count is the DDP one times two (give or take the odd batch)
    single = tmp_path / "single"
    one = torchrun(["--data", str(moses_300), "--epochs", "1", "-o", str(single), *TINY], 1)
    assert one.returncode == 0, one.stderr[-3000:]
    ddp_steps = pd.read_csv(out / "log.csv").step.iloc[0]
    single_steps = pd.read_csv(single / "log.csv").step.iloc[0]
    assert single_steps // 2 == ddp_steps
    # rank 0 alone wrote the run's files; the checkpoint records the world size and loads
    log = pd.read_csv(out / "log.csv")
    assert log.epoch.tolist() == [1, 2] and log.val_nelbo.notna().all()
    assert load_checkpoint(out / "best.pt")["meta"]["world_size"] == 2
    vae = MolVAE.load(out / "best.pt", device="cpu")
    assert len(vae.sample(20, seed=0)) == 20

    # resume with two processes: history continues
    run = torchrun(["--data", str(moses_300), "--epochs", "3", "-o", str(out), "--resume", str(out / "last.pt"), *TINY], 2)
    assert run.returncode == 0, run.stderr[-3000:]
    assert pd.read_csv(out / "log.csv").epoch.tolist() == [1, 2, 3]
    assert load_checkpoint(out / "last.pt")["training"]["step"] == 3 * ddp_steps
