"""Which checkpoint a run resumes from: an explicit path, or `last` (the newest one in the run folder).

`ckpt_path=last` is what `slurm/train.sh` passes on every (re)start of a job: the first start finds
nothing and trains from scratch; a restart after a crash or a pre-emption finds the newest of the
periodic `checkpoints/last.ckpt` and Lightning's SLURM `hpc_ckpt_<n>.ckpt` (written when the job
was signalled) and continues from it. Newest is by the step stored in the checkpoint's name or
mtime, never by guessing: both kinds are full Lightning checkpoints (weights, optimizer,
scheduler, loop state and the data position). `RunCheckpoint` writes the periodic ones.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import ModelCheckpoint

log = logging.getLogger(__name__)


def checkpoint_dir(run_dir: Path) -> Path:
    return Path(run_dir) / "checkpoints"


def candidate_checkpoints(run_dir: Path) -> list[Path]:
    """Every resumable checkpoint of a run folder (periodic last + SLURM HPC checkpoints)."""
    run_dir = Path(run_dir)
    found = [path for path in checkpoint_dir(run_dir).glob("last*.ckpt") if path.is_file()]
    found += [path for path in run_dir.glob("hpc_ckpt_*.ckpt") if path.is_file()]
    return found


def resolve_ckpt_path(spec: str | None, run_dir: Path) -> str | None:
    """None → fresh start; `last` → the newest checkpoint in `run_dir` (None if there is none); a path → itself."""
    if spec in (None, "", "null", "none"):
        return None
    if str(spec) == "last":
        candidates = candidate_checkpoints(run_dir)
        if not candidates:
            log.info("ckpt_path=last: no checkpoint in %s yet, starting from scratch", run_dir)
            return None
        newest = max(candidates, key=lambda path: path.stat().st_mtime_ns)
        log.info("ckpt_path=last: resuming from %s", newest)
        return str(newest)
    path = Path(str(spec))
    if not path.is_file():
        raise FileNotFoundError(f"ckpt_path {spec!r} does not exist")
    return str(path)


class RunCheckpoint(ModelCheckpoint):
    """Lightning's `ModelCheckpoint` (periodic `step*.ckpt` + `last.ckpt`), with the end of training made exact.

    Lightning's own end-of-training save writes `last.ckpt` only when the callback saved nothing
    before, so a run of `max_steps` that is not a multiple of the interval kept `last.ckpt` at the
    previous multiple (issue 15 §6). Here `last.ckpt` is written at the last step whenever no save
    landed on it — unless the run stopped for a signal: then the pre-emption checkpoint, written
    mid-epoch, is the one to resume from and is left as it is.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.saved_step = -1

    def on_save_checkpoint(self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict) -> None:
        super().on_save_checkpoint(trainer, pl_module, checkpoint)
        self.saved_step = trainer.global_step

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        preempted = any(getattr(callback, "preempted", False) for callback in trainer.callbacks)
        if not self.save_last or trainer.fast_dev_run or preempted or trainer.global_step in (0, self.saved_step):
            return
        path = Path(self.dirpath or checkpoint_dir(trainer.default_root_dir)) / f"{self.CHECKPOINT_NAME_LAST}.ckpt"
        trainer.save_checkpoint(path)
        log.info("final checkpoint at step %d written to %s", trainer.global_step, path)
