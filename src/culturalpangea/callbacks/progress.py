"""The training progress bar, sized to the run rather than to the epoch.

Lightning sizes the bar by the epoch's batch count, so a 5-step run over a large data mixture showed
the ETA of a whole epoch (15 minutes for 20 seconds of work, issue 19 §7). Here the total is the
batches this run will actually take in the current epoch: `max_steps` × gradient accumulation,
less the batches of the epochs before, capped by the epoch length. Rich when installed (as
Lightning chooses), else tqdm.
"""

from __future__ import annotations

import math

import lightning as L
from lightning.pytorch.callbacks import RichProgressBar, TQDMProgressBar
from lightning.pytorch.utilities.imports import _RICH_AVAILABLE


def batches_this_epoch(trainer: L.Trainer) -> int | float:
    """Batches the current epoch will run: the epoch length, or fewer when `max_steps` ends it first."""
    total = trainer.num_training_batches
    if trainer.max_steps is None or trainer.max_steps < 0 or math.isinf(total):
        return total
    left = trainer.max_steps * trainer.accumulate_grad_batches - trainer.current_epoch * total
    return max(0, min(total, left))


class RunLengthRichProgressBar(RichProgressBar):
    @property
    def total_train_batches(self) -> int | float:
        return batches_this_epoch(self.trainer)


class RunLengthTQDMProgressBar(TQDMProgressBar):
    @property
    def total_train_batches(self) -> int | float:
        return batches_this_epoch(self.trainer)


def run_progress_bar() -> RichProgressBar | TQDMProgressBar:
    return RunLengthRichProgressBar() if _RICH_AVAILABLE else RunLengthTQDMProgressBar()
