"""Pre-emption and time limits on SLURM: save a complete checkpoint at a step boundary, then stop.

`slurm/train.sh` asks SLURM for SIGUSR1 shortly before the time limit (`--signal=B:USR1@120`) and
forwards it to the training tasks; a scheduler pre-emption sends SIGTERM. Lightning's own SLURM
handler saves a checkpoint *inside* the signal handler, in the middle of whatever the process was
doing — possibly between two collectives of a distributed step, where the ranks can deadlock.
Here the handler only raises a flag. At the next optimizer-step boundary every rank joins one
all-reduce to agree (one rank seeing the signal is enough), all ranks write `checkpoints/last.ckpt`
together, and training stops cleanly. The batch script then requeues the job, and the restart
resumes from that checkpoint (`ckpt_path=last`) at the exact step, data position included.

SIGINT (Ctrl-C) is handled the same way; a second Ctrl-C interrupts at once. A run stopped by a
signal exits with 128 + the signal number (`exit_code`), never 0, so a scheduler or a shell loop
does not mistake it for a finished run. `RunCheckpoint` (the periodic checkpoints) leaves the
pre-emption checkpoint alone at the end of training: it is mid-epoch, and a save after the loop
stopped would record a finished epoch, from which a restart trains nothing.
"""

from __future__ import annotations

import logging
import signal
from pathlib import Path
from typing import Any

import lightning as L

from culturalpangea.training.checkpoints import checkpoint_dir

log = logging.getLogger(__name__)
DEFAULT_SIGNALS = (signal.SIGUSR1, signal.SIGTERM, signal.SIGINT)


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
        if self.requested == signal.SIGINT:
            signal.signal(signal.SIGINT, signal.default_int_handler)  # a second Ctrl-C interrupts at once

    @property
    def exit_code(self) -> int:
        """128 + the signal (SIGTERM when another rank saw it) once the run stopped for one, else 0."""
        return 128 + int(self.requested or signal.SIGTERM) if self.preempted else 0

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # After Lightning registered its own SIGTERM handler (which would raise SystemExit(0) mid-epoch,
        # without a checkpoint): ours replaces it for the training loop and gives it back afterwards.
        for signum in self.signals:
            self._previous[signum] = signal.signal(signum, self._on_signal)
        self._last_step = trainer.global_step

    def _restore(self) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._restore()

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        self._restore()

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

