"""Count skipped samples by reason, per worker process, and hand the counts to the trainer.

A sample that cannot be used (truncated tar, undecodable image, bad JSON, too long …) is never
dropped silently: the stage that skips it calls `record_skip(reason)`. Counters live in the
process that skipped (a DataLoader worker); `take_skip_counts()` empties them, and the collate
function, which runs in the same worker, attaches the counts to the batch so the main process can
sum and log them.
"""

from __future__ import annotations

from collections import Counter

_COUNTS: Counter[str] = Counter()


def record_skip(reason: str, count: int = 1) -> None:
    """Count `count` skipped samples under `reason` (short, stable, e.g. 'image_decode')."""
    _COUNTS[reason] += count


def peek_skip_counts() -> dict[str, int]:
    """The counts recorded since the last `take_skip_counts` in this process, left in place."""
    return dict(_COUNTS)


def take_skip_counts() -> dict[str, int]:
    """Return the counts recorded since the last call in this process, and reset them."""
    counts = dict(_COUNTS)
    _COUNTS.clear()
    return counts


def tar_error_handler(exception: BaseException) -> bool:
    """WebDataset handler: count a broken tar/member and continue with the next one."""
    record_skip(f"tar:{type(exception).__name__}")
    return True
