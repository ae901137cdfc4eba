"""The training loop on a toy regression problem: it knows nothing of molecules."""

import numpy as np
import pandas as pd
import pytest
import torch

from molvae.checkpoint import load_checkpoint
from molvae.errors import CheckpointError, ConfigError, TrainingDiverged
from molvae.device import cpu_has_native_bf16, resolve_precision
from molvae.trainer import TrainConfig, Trainer

X = torch.randn(64, 3, generator=torch.Generator().manual_seed(0))
Y = X @ torch.tensor([1.0, -2.0, 0.5]) + 0.3


def collate(idx):
    idx = torch.as_tensor(idx)
    return {"x": X[idx], "y": Y[idx], "lengths": torch.ones(len(idx))}


def batches(epoch):
    return np.array_split(np.random.default_rng(epoch).permutation(64), 8)


def loss_fn(model, batch, t):
    noise = 1e-3 * torch.randn(())  # exercises the RNG state kept for resume
    mse = ((model(batch["x"]).squeeze(-1) - batch["y"]) ** 2).mean() + noise.abs()
    return {"loss": mse, "t": torch.tensor(t)}


def eval_fn(model, batch):
    return {"loss": ((model(batch["x"]).squeeze(-1) - batch["y"]) ** 2).mean()}


def make(tmp_path, epochs=4, **kw):
    torch.manual_seed(0)
    kw.setdefault("precision", "fp32")
    cfg = TrainConfig(epochs=epochs, lr=0.05, device="cpu", **kw)
    return Trainer(torch.nn.Linear(3, 1), loss_fn, eval_fn, cfg, tmp_path, {"what": "toy"}, progress=False)


def test_loss_falls_and_files_are_written(tmp_path):
    history = make(tmp_path).fit(batches, collate, [np.arange(64)])
    assert [h["epoch"] for h in history] == [1, 2, 3, 4]
    assert history[-1]["val_loss"] < 0.2 * history[0]["val_loss"]
    log = pd.read_csv(tmp_path / "log.csv")
    assert len(log) == 4 and log.train_t.iloc[1] == pytest.approx(1 + 3.5 / 8)  # mean progress in epoch 2
    best = load_checkpoint(tmp_path / "best.pt")
    assert best["meta"]["what"] == "toy" and best["training"] is None
    with pytest.raises(CheckpointError, match="no training state"):
        make(tmp_path / "x").resume(tmp_path / "best.pt")


def test_interrupted_run_resumes_to_the_same_weights(tmp_path):
    straight = make(tmp_path / "a")
    straight.fit(batches, collate, [np.arange(64)])

    calls = {"n": 0}

    def interrupting_collate(idx):
        calls["n"] += 1
        if calls["n"] == 13:  # 8 batches + 1 validation batch in epoch 1, then 3 of epoch 2
            raise KeyboardInterrupt
        return collate(idx)

    first = make(tmp_path / "b")
    with pytest.raises(KeyboardInterrupt):
        first.fit(batches, interrupting_collate, [np.arange(64)])
    state = load_checkpoint(tmp_path / "b" / "last.pt")["training"]
    assert (state["epoch"], state["batch_in_epoch"]) == (1, 3)

    second = make(tmp_path / "b")
    second.resume(tmp_path / "b" / "last.pt")
    second.fit(batches, collate, [np.arange(64)])
    for k, v in straight.model.state_dict().items():
        torch.testing.assert_close(second.model.state_dict()[k], v)
    a, b = pd.read_csv(tmp_path / "a" / "log.csv"), pd.read_csv(tmp_path / "b" / "log.csv")
    cols = ["epoch", "step", "train_loss", "val_loss"]
    pd.testing.assert_frame_equal(a[cols], b[cols])


def test_non_finite_loss_stops_with_a_clear_error(tmp_path):
    def nan_loss(model, batch, t):
        return {"loss": model(batch["x"]).sum() * float("nan")}

    trainer = Trainer(torch.nn.Linear(3, 1), nan_loss, eval_fn, TrainConfig(epochs=1, device="cpu"), tmp_path, {},
                      progress=False)
    with pytest.raises(TrainingDiverged, match="non-finite loss .* epoch 1, step 0"):
        trainer.fit(batches, collate, [])


def test_a_run_that_diverges_keeps_its_last_good_checkpoint(tmp_path):
    def late_nan(model, batch, t):
        out = loss_fn(model, batch, t)
        return {**out, "loss": out["loss"] * (float("nan") if t >= 1.5 else 1.0)}  # from the middle of epoch 2

    trainer = make(tmp_path, checkpoint_minutes=1e-9)  # a checkpoint after every step
    trainer.loss_fn = late_nan
    with pytest.raises(TrainingDiverged, match="last good checkpoint.*is kept"):
        trainer.fit(batches, collate, [np.arange(64)])
    payload = load_checkpoint(tmp_path / "last.pt")
    assert payload["training"]["step"] == 12  # 8 steps of epoch 1 and 4 good ones of epoch 2
    assert all(torch.isfinite(v).all() for v in payload["state_dict"].values())


def test_without_validation_data_best_follows_training_loss(tmp_path):
    make(tmp_path, epochs=2).fit(batches, collate, [])
    assert (tmp_path / "best.pt").is_file()
    assert "val_loss" not in pd.read_csv(tmp_path / "log.csv").columns


def test_precision_choices():
    cpu = torch.device("cpu")
    assert resolve_precision("fp32", cpu) is None
    assert resolve_precision("bf16", cpu) is torch.bfloat16
    assert resolve_precision("auto", cpu) is (torch.bfloat16 if cpu_has_native_bf16() else None)
    with pytest.raises(ConfigError, match="needs a CUDA device"):
        resolve_precision("fp16", cpu)
    with pytest.raises(ConfigError, match="one of auto, fp32, bf16, fp16"):
        resolve_precision("half", cpu)


def test_bf16_autocast_trains_fp32_weights(tmp_path):
    trainer = make(tmp_path, epochs=6, precision="bf16")
    history = trainer.fit(batches, collate, [np.arange(64)])
    assert history[-1]["val_loss"] < 0.2 * history[0]["val_loss"]
    assert all(v.dtype == torch.float32 for v in load_checkpoint(tmp_path / "best.pt")["state_dict"].values())


def test_time_limit_stops_mid_epoch_with_a_log_row_and_resumes(tmp_path):
    trainer = make(tmp_path, epochs=2, time_limit_minutes=1e-9)  # out of time after the first step
    history = trainer.fit(batches, collate, [np.arange(64)])
    assert len(history) == 1 and history[0]["epoch"] == pytest.approx(1 / 8) and "val_loss" in history[0]
    state = load_checkpoint(tmp_path / "last.pt")["training"]
    assert (state["epoch"], state["batch_in_epoch"], state["step"]) == (0, 1, 1)
    assert (tmp_path / "best.pt").is_file()
    resumed = make(tmp_path, epochs=2)
    resumed.resume(tmp_path / "last.pt")
    history = resumed.fit(batches, collate, [np.arange(64)])
    assert [h["epoch"] for h in history] == [pytest.approx(1 / 8), 1, 2] and resumed.step == 16


def test_stop_at_step_ends_a_run_at_that_exact_step_and_a_later_limit_continues_it(tmp_path):
    trainer = make(tmp_path, epochs=3, stop_at_step=3)  # 8 batches an epoch: mid-epoch
    history = trainer.fit(batches, collate, [np.arange(64)])
    assert len(history) == 1 and history[0]["epoch"] == pytest.approx(3 / 8) and "val_loss" in history[0]
    assert load_checkpoint(tmp_path / "last.pt")["meta"]["step"] == 3
    again = make(tmp_path, epochs=3, stop_at_step=3)  # resumed at its limit: nothing more to do
    again.resume(tmp_path / "last.pt")
    assert len(again.fit(batches, collate, [np.arange(64)])) == 1 and again.step == 3
    later = make(tmp_path, epochs=3, stop_at_step=8)  # exactly an epoch's end: one row, not two
    later.resume(tmp_path / "last.pt")
    history = later.fit(batches, collate, [np.arange(64)])
    assert [h["epoch"] for h in history] == [pytest.approx(3 / 8), 1] and later.step == 8
    earlier = make(tmp_path, epochs=3, stop_at_step=5)  # a run cannot go back to an earlier step
    earlier.resume(tmp_path / "last.pt")
    with pytest.raises(ConfigError, match="past stop_at_step = 5"):
        earlier.fit(batches, collate, [np.arange(64)])


def test_time_limit_also_stops_at_an_epoch_end(tmp_path):
    trainer = make(tmp_path, epochs=5, time_limit_minutes=1e-9)
    history = trainer.fit(lambda epoch: [np.arange(64)], collate, [np.arange(64)])  # one batch per epoch
    assert [h["epoch"] for h in history] == [1]
    assert load_checkpoint(tmp_path / "last.pt")["training"]["epoch"] == 1


def test_cosine_learning_rate_warms_up_then_decays_to_its_final_fraction():
    from molvae.trainer import learning_rate

    cfg = TrainConfig(epochs=10, lr=1e-3, lr_schedule="cosine", lr_warmup_epochs=1.0, lr_final=0.1)
    assert learning_rate(cfg, 0.0) == 0.0 and learning_rate(cfg, 0.5) == pytest.approx(5e-4)
    assert learning_rate(cfg, 1.0) == pytest.approx(1e-3)
    assert learning_rate(cfg, 5.5) == pytest.approx(1e-3 * (0.1 + 0.9 * 0.5))  # halfway through the decay
    assert learning_rate(cfg, 10.0) == pytest.approx(1e-4) and learning_rate(cfg, 12.0) == pytest.approx(1e-4)
    rates = [learning_rate(cfg, t) for t in np.linspace(1, 10, 50)]
    assert all(a >= b for a, b in zip(rates, rates[1:]))
    assert learning_rate(TrainConfig(lr=3e-4), 7.0) == 3e-4  # constant is the default


def test_the_schedule_sets_the_optimizer_and_survives_a_resume(tmp_path):
    kw = dict(lr_schedule="cosine", lr_warmup_epochs=0.5, lr_final=0.2)
    straight = make(tmp_path / "a", **kw)
    straight.fit(batches, collate, [np.arange(64)])
    log = pd.read_csv(tmp_path / "a" / "log.csv")
    assert log.lr.iloc[-1] == pytest.approx(0.05 * (0.2 + 0.8 * 0.5 * (1 + np.cos(np.pi * 3.375 / 3.5))))
    assert log.lr.is_monotonic_decreasing
    first = make(tmp_path / "b", stop_at_step=11, **kw)
    first.fit(batches, collate, [np.arange(64)])
    second = make(tmp_path / "b", **kw)
    second.resume(tmp_path / "b" / "last.pt")
    second.fit(batches, collate, [np.arange(64)])
    for k, v in straight.model.state_dict().items():
        torch.testing.assert_close(second.model.state_dict()[k], v)


def test_snapshots_keep_the_weights_every_half_epoch(tmp_path):
    trainer = make(tmp_path, epochs=2, snapshot_epochs=0.5)
    trainer.fit(batches, collate, [np.arange(64)])
    names = sorted((tmp_path / "snapshots").iterdir(), key=lambda p: int(p.stem[4:]))
    assert [p.name for p in names] == ["step4.pt", "step8.pt", "step12.pt", "step16.pt"]
    snap = load_checkpoint(names[1])
    assert snap["training"] is None and snap["meta"]["step"] == 8
    stopped = make(tmp_path / "at8", epochs=2, stop_at_step=8)  # the same run, stopped where the snapshot was taken
    stopped.fit(batches, collate, [np.arange(64)])
    torch.testing.assert_close(snap["state_dict"]["weight"], stopped.model.state_dict()["weight"])


@pytest.mark.parametrize("bad", [dict(lr_schedule="linear"), dict(lr_final=1.5), dict(snapshot_epochs=-1.0)])
def test_impossible_schedules_are_refused(tmp_path, bad):
    with pytest.raises(ConfigError):
        make(tmp_path, **bad)
