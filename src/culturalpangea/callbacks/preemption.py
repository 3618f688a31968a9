"""Pre-emption and time limits on SLURM: save a complete checkpoint at a step boundary, then stop.

`slurm/train.sh` asks SLURM for SIGUSR1 shortly before the time limit (`--signal=B:USR1@120`) and
forwards it to the training tasks; a scheduler pre-emption sends SIGTERM. Lightning's own SLURM
handler saves a checkpoint *inside* the signal handler, in the middle of whatever the process was
doing — possibly between two collectives of a distributed step, where the ranks can deadlock.
Here the handler only raises a flag. At the next optimizer-step boundary every rank joins one
all-reduce to agree (one rank seeing the signal is enough), all ranks write `checkpoints/last.ckpt`
together, and training stops cleanly. The batch script then requeues the job, and the restart
resumes from that checkpoint (`ckpt_path=last`) at the exact step, data position included.
"""

from __future__ import annotations

import logging
import signal
from pathlib import Path
from typing import Any

import lightning as L

from culturalpangea.training.checkpoints import checkpoint_dir

log = logging.getLogger(__name__)
DEFAULT_SIGNALS = (signal.SIGUSR1, signal.SIGTERM)


class PreemptionCheckpoint(L.Callback):
    def __init__(self, run_dir: Path, signals: tuple[signal.Signals, ...] = DEFAULT_SIGNALS) -> None:
        self.run_dir = Path(run_dir)
        self.signals = signals
        self.requested: signal.Signals | None = None
        self.preempted = False
        self._previous: dict[signal.Signals, Any] = {}
        self._last_step = -1

    def _on_signal(self, signum: int, frame: Any) -> None:
        self.requested = signal.Signals(signum)

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        for signum in self.signals:
            self._previous[signum] = signal.signal(signum, self._on_signal)
        self._last_step = trainer.global_step

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any,
                           batch: Any, batch_idx: int) -> None:
        if trainer.global_step == self._last_step:
            return  # inside a gradient-accumulation cycle: not a place to stop
        self._last_step = trainer.global_step
        stop = trainer.strategy.reduce_boolean_decision(self.requested is not None, all=False)
        if not stop:
            return
        path = checkpoint_dir(self.run_dir) / "last.ckpt"
        trainer.save_checkpoint(path)
        self.preempted = True
        trainer.should_stop = True
        log.warning("pre-emption signal (%s): checkpoint at step %d written to %s; stopping for requeue",
                    self.requested.name if self.requested else "on another rank", trainer.global_step, path)
