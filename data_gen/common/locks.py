"""Advisory `flock` locks that let several runs share one output folder without racing.

Three kinds, all held by an open file so a killed process leaves nothing to clean up:

- the **run lock** of the output folder (`pipeline/out_dir.py`): exclusive for a whole-folder run,
  shared for an array task (a record stage over `parts=START:END`, or a country stage over an
  explicit `countries=` list), so array tasks run side by side while a whole run excludes them all;
- a **country lock** per (stage, country), `.data_gen.locks/<stage>.<CC>.lock`, exclusive and not
  waited for: two array tasks given the same country would write the same files, so the second
  stops at once, naming the country;
- the **manifest lock** of a stage, `.data_gen.locks/<stage>.manifest.lock`, exclusive and waited
  for: a manifest is recomputed from every country's files present and written, and two tasks
  finishing together must not interleave those steps (the one that wrote last could have read the
  folder first and drop the other's country).

The lock files live in one hidden folder of the output folder, `.data_gen.locks/`, beside the run
lock, so stage folders hold only what the stages write.

On file systems without `flock` (some NFS mounts) a lock degrades to a warning on stderr.
"""

from __future__ import annotations

import errno
import fcntl
import sys
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from pathlib import Path

from data_gen.common.errors import DataGenError

LOCKS_FOLDER = ".data_gen.locks"


class LockBusy(DataGenError):
    """A lock another run holds, where waiting would be wrong (the message says what to do)."""


@contextmanager
def file_lock(
    path: Path, *, shared: bool = False, wait: bool = False, busy: str | DataGenError = ""
) -> Iterator[None]:
    """Hold an `flock` on `path` (created if needed) until the block ends.

    Not waiting (`wait=False`), a lock held elsewhere raises `busy` (an error, or `LockBusy(busy)`).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+")  # noqa: SIM115 - held for the whole block
    try:
        mode = (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | (0 if wait else fcntl.LOCK_NB)
        try:
            fcntl.flock(handle, mode)
        except OSError as error:
            if error.errno in (errno.EAGAIN, errno.EACCES):
                raise (busy if isinstance(busy, DataGenError) else LockBusy(busy or f"{path} is locked")) from None
            print(f"warning: cannot lock {path} ({error.strerror}); make sure no other run writes there",
                  file=sys.stderr)
        yield
    finally:
        handle.close()  # releases the lock


def lock_path(out_dir: Path, stage: str, what: str) -> Path:
    """`<out_dir>/.data_gen.locks/<stage>.<what>.lock` (`what`: a country code, or `manifest`)."""
    return Path(out_dir) / LOCKS_FOLDER / f"{stage}.{what}.lock"


@contextmanager
def country_locks(out_dir: Path, stage: str, countries: Iterable[str]) -> Iterator[None]:
    """Hold the country lock of every country this run writes (see the module docstring)."""
    with ExitStack() as stack:
        for code in sorted(set(countries)):
            busy = (f"country {code} of stage {stage} is being written by another run in {out_dir} (lock "
                    f"{LOCKS_FOLDER}/{lock_path(out_dir, stage, code).name}): give each array task its own countries")
            stack.enter_context(file_lock(lock_path(out_dir, stage, code), busy=busy))
        yield


def manifest_lock(stage_dir: Path) -> AbstractContextManager[None]:
    """Wait for and hold the lock under which the manifest of the stage folder `stage_dir` is written."""
    stage_dir = Path(stage_dir)
    return file_lock(lock_path(stage_dir.parent, stage_dir.name, "manifest"), wait=True)
