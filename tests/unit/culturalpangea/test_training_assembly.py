"""Training assembly without the model: checkpoint choice, atomic checkpoint writes, W&B fallback, world size."""

from __future__ import annotations

import os
import subprocess
import time

import pytest
import torch

from culturalpangea.settings import CsvSettings, LoggerSettings, WandbSettings
from culturalpangea.training.checkpoint_io import AtomicCheckpointIO, CheckpointWriteError
from culturalpangea.training.checkpoints import resolve_ckpt_path
from culturalpangea.training.loggers import build_loggers, wandb_run_id
from culturalpangea.training.trainer_factory import devices_per_node, world_size


def test_resolve_last_picks_the_newest_of_periodic_and_hpc_checkpoints(tmp_path):
    assert resolve_ckpt_path("last", tmp_path) is None
    assert resolve_ckpt_path(None, tmp_path) is None
    (tmp_path / "checkpoints").mkdir()
    last = tmp_path / "checkpoints" / "last.ckpt"
    last.write_bytes(b"a")
    assert resolve_ckpt_path("last", tmp_path) == str(last)
    time.sleep(0.01)
    hpc = tmp_path / "hpc_ckpt_3.ckpt"
    hpc.write_bytes(b"b")
    assert resolve_ckpt_path("last", tmp_path) == str(hpc)
    os.utime(last)  # a newer periodic checkpoint wins again
    assert resolve_ckpt_path("last", tmp_path) == str(last)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        resolve_ckpt_path(str(tmp_path / "missing.ckpt"), tmp_path)


def test_atomic_checkpoint_replaces_only_when_complete(tmp_path):
    io = AtomicCheckpointIO()
    path = tmp_path / "ckpt" / "last.ckpt"
    io.save_checkpoint({"step": 1, "w": torch.ones(3)}, path)
    io.save_checkpoint({"step": 2, "w": torch.zeros(3)}, path)
    assert torch.load(path, weights_only=True)["step"] == 2
    assert not list(path.parent.glob(".*.tmp"))


@pytest.fixture
def tiny_disk(tmp_path):
    """A 2 MiB tmpfs: a real full disk (ENOSPC from the kernel)."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount_point)],
                            capture_output=True, text=True, check=False)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {result.stderr.strip()}")
    yield mount_point
    subprocess.run(["umount", str(mount_point)], check=False)


def test_full_disk_is_a_clear_error_and_the_previous_checkpoint_survives(tiny_disk):
    io = AtomicCheckpointIO()
    path = tiny_disk / "last.ckpt"
    io.save_checkpoint({"step": 1, "w": torch.ones(1000)}, path)
    with pytest.raises(CheckpointWriteError, match=r"no space left on device.*previous checkpoint is intact"):
        io.save_checkpoint({"step": 2, "w": torch.ones(1_000_000)}, path)  # 4 MB > 2 MiB
    assert torch.load(path, weights_only=True)["step"] == 1
    assert not list(tiny_disk.glob(".*.tmp"))


def test_wandb_unreachable_falls_back_to_offline_and_keeps_logs(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "online")
    monkeypatch.setenv("WANDB_BASE_URL", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    monkeypatch.setenv("WANDB_INIT_TIMEOUT", "5")
    spec = WandbSettings(project="t", mode="online", save_dir=str(tmp_path), init_timeout_s=5)
    [logger] = build_loggers(LoggerSettings(wandb=spec), tmp_path, "demo-abc", {"api_key": "secret", "lr": 1})
    logger.log_metrics({"train/loss": 1.0}, step=1)
    assert logger.experiment.settings.mode == "offline"
    logger.experiment.finish()
    import wandb

    wandb.teardown()  # wait for the W&B service to flush the offline run to disk
    runs = list((tmp_path / "wandb").glob("offline-run-*"))
    assert runs, list(tmp_path.rglob("*"))[:20]
    stored = b"".join(path.read_bytes() for path in runs[0].rglob("*") if path.is_file())
    assert b"train/loss" in stored and b"api_key" in stored
    assert b"secret" not in stored  # the credential-looking value was scrubbed before it reached W&B


def test_csv_logger_and_no_logger(tmp_path):
    [csv] = build_loggers(LoggerSettings(csv=CsvSettings(save_dir=str(tmp_path))), tmp_path, "r", {})
    csv.log_metrics({"a": 1.0}, step=0)
    csv.save()
    assert (tmp_path / "csv" / "metrics.csv").exists()
    assert build_loggers(LoggerSettings(), tmp_path, "r", {}) == []


def test_wandb_run_id_is_stable_per_folder(tmp_path):
    assert wandb_run_id("demo-1", tmp_path / "a") == wandb_run_id("demo-1", tmp_path / "a")
    assert wandb_run_id("demo-1", tmp_path / "a") != wandb_run_id("demo-1", tmp_path / "b")


def test_world_size_from_config_and_slurm(monkeypatch):
    assert world_size({"devices": 8, "num_nodes": 4}) == 32
    assert world_size({"devices": [0, 1], "num_nodes": 1}) == 2
    assert world_size({"devices": "2", "num_nodes": 2}) == 4
    monkeypatch.setenv("SLURM_NTASKS_PER_NODE", "4")
    assert devices_per_node({"devices": "auto", "accelerator": "cpu"}) == 4
    monkeypatch.delenv("SLURM_NTASKS_PER_NODE")
    assert devices_per_node({"devices": "auto", "accelerator": "cpu"}) == 1


def test_the_progress_bar_is_sized_to_max_steps_not_to_the_epoch(tmp_path):
    """Issue 19 §7: a 5-step run showed the ETA of a full epoch. A real Trainer: 64 batches per epoch,
    3 optimizer steps of 2 accumulated batches → the bar's total is 6; without max_steps it is the epoch."""
    import lightning as L
    from lightning.pytorch.demos.boring_classes import BoringModel

    from culturalpangea.callbacks.progress import run_progress_bar

    totals = []

    class Record(L.Callback):
        def on_train_epoch_start(self, trainer, pl_module):
            totals.append(next(c for c in trainer.callbacks if c is bar).total_train_batches)

    for max_steps, max_epochs in ((3, 1), (-1, 1), (40, 2)):
        bar = run_progress_bar()
        trainer = L.Trainer(max_steps=max_steps, max_epochs=max_epochs, accumulate_grad_batches=2,
                            callbacks=[bar, Record()], logger=False, enable_checkpointing=False,
                            enable_model_summary=False, default_root_dir=tmp_path, accelerator="cpu")
        trainer.fit(BoringModel())
    assert totals == [6, 64, 64, 16]  # 40 steps × 2 = 80 batches: the whole first epoch, 16 of the second
