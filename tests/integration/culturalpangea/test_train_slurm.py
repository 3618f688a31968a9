"""`sbatch slurm/train.sh` on the loopback SLURM cluster: two tasks train, are pre-empted, requeue, resume.

One job shows both things the issue asks: a 2-task CPU DDP run through srun and Lightning's SLURM
environment that writes checkpoints, and a pre-emption signal (USR1 to the batch shell, as
`--signal=B:USR1@120` sends before the time limit) after which the job requeues itself and the
restart continues from the checkpoint written at the signal, not from scratch.
"""

from __future__ import annotations

import sys

import pytest
import torch

from tests.helpers.train_workspace import REPO, demo_overrides, write_training_shards

pytestmark = pytest.mark.slurm


def _step(path) -> int:
    return int(torch.load(path, map_location="cpu", weights_only=False)["global_step"])


def test_two_task_job_checkpoints_requeues_on_preemption_and_resumes(slurm_cluster, tmp_path, tiny_stack):
    shards = write_training_shards(tmp_path / "shards", count=192, per_shard=8)
    run_dir = tmp_path / "run"
    max_steps = 24  # one epoch: 192 samples / (micro 2 × 2 tasks × accumulation 2)
    overrides = [*demo_overrides(tmp_path, tiny_stack.llm_dir.parent, shards, max_steps=max_steps, every=4),
                 "global_batch_size=8", "callbacks.sample_generations=null", "export_hf=false"]
    env = {"CULTURALPANGEA_RUN_DIR": str(run_dir), "CULTURALPANGEA_PYTHON": sys.executable, "WANDB_MODE": "offline"}
    submit = ["--ntasks-per-node=2", "--cpus-per-task=1", f"--output={tmp_path}/job.log", "slurm/train.sh"]
    job = slurm_cluster.submit([*submit, *overrides], cwd=REPO, env=env)
    first = run_dir / "checkpoints" / "step0000004.ckpt"
    slurm_cluster._wait(lambda: first.exists() or slurm_cluster.state(job) not in ("PENDING", "RUNNING"), 300,
                        "no checkpoint from the first run")
    assert slurm_cluster.state(job) == "RUNNING", (tmp_path / "job.log").read_text()[-3000:]
    slurm_cluster.signal(job, "USR1", batch_only=True)
    slurm_cluster.release_requeued(job, timeout=240)
    record = slurm_cluster.wait_for(job, timeout=420)
    job_log = (tmp_path / "job.log").read_text()
    assert record["JobState"] == "COMPLETED", job_log[-3000:]
    assert int(record["Restarts"]) == 1
    assert "requeueing job" in job_log
    train_log = (run_dir / "train.log").read_text()
    assert "pre-emption signal" in train_log and "resuming from" in train_log
    saved_at = int(train_log.split("checkpoint at step ")[1].split()[0])
    assert 4 <= saved_at < max_steps
    assert _step(run_dir / "checkpoints" / "last.ckpt") == max_steps
    position = torch.load(run_dir / "checkpoints" / "last.ckpt", map_location="cpu",
                          weights_only=False)["culturalpangea"]["data_position"]
    assert set(position) == {"0", "1"}  # both ranks' data positions travel through the requeue
