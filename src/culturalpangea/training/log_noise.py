"""Messages that every training run printed and that a user cannot act on, silenced one by one.

Each entry names the exact message and why it does not apply here; nothing is silenced by
category or module. A message not listed here still reaches the log. (Issue 19 §7: a new user's
log opened with an advertisement, an `srun` hint on a machine that only has SLURM installed, and
warnings about things the project does on purpose.)
"""

from __future__ import annotations

import logging
import warnings

# (regex of the message's start, why it is not useful in this project)
SILENCED_WARNINGS: tuple[tuple[str, str], ...] = (
    (r"The `srun` command is available on your system but is not used",
     "printed on any machine with SLURM installed; slurm/train.sh launches with srun, a laptop run needs none"),
    (r"You're resuming from a checkpoint that ended before the epoch ended and your dataloader is not resumable",
     "the data position is restored exactly from the checkpoint's culturalpangea.data_position (lit_module.py)"),
    (r"Found \d+ module\(s\) in eval mode at the start of training",
     "frozen components are kept in eval mode on purpose (the stage's freeze plan, lit_module.py)"),
    (r"Your `IterableDataset` has `__len__` defined",
     "the length is the per-rank batch count, used for the epoch length and the progress bar"),
    (r"`isinstance\(treespec, LeafSpec\)` is deprecated",
     "raised inside Lightning's own code with this torch version; nothing to change here"),
)
SILENCED_INFO = (
    ("lightning.pytorch.utilities.rank_zero", "💡 Tip: For seamless cloud logging",
     "an advertisement for a hosted logger, printed by every Trainer"),
)


class _DropMessages(logging.Filter):
    def __init__(self, prefixes: tuple[str, ...]) -> None:
        super().__init__()
        self.prefixes = prefixes

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.getMessage()).startswith(self.prefixes)


def silence_known_noise() -> None:
    """Install the filters above (idempotent: warnings.filterwarnings de-duplicates its entries)."""
    for pattern, _why in SILENCED_WARNINGS:
        warnings.filterwarnings("ignore", message=pattern)
    for logger_name, prefix, _why in SILENCED_INFO:
        logger = logging.getLogger(logger_name)
        if not any(isinstance(f, _DropMessages) and prefix in f.prefixes for f in logger.filters):
            logger.addFilter(_DropMessages((prefix,)))
