"""Atomic file writes: a reader (or a re-run after `kill -9`) sees the old file or the new one.

Each write goes to a hidden temp file in the same folder (same filesystem, so the rename is
atomic), is flushed and fsynced, then renamed over the target. A crash can leave only a hidden
`.<name>.<writer>.tmp` file behind; writers clean those up on their next run. `atomic_open` is the one
mechanism (a writer that streams, such as `torch.save`, writes into its handle); a folder built in
several files goes through `atomic_directory`, which renames a finished hidden folder into place.

Several processes may write into one folder at once (SLURM array tasks sharing an output folder:
two tasks generating the same placeholder image, caching the same SPARQL answer, rewriting a
stage manifest), so each write has a temp file of its own (the writer's pid and a random token in
its name: two writers of one target never truncate each other's bytes; the last rename wins) and
holds an `flock` on it while writing. `remove_temp_files` deletes only temp files no live process
holds, so a task starting up never removes the file a sibling task is in the middle of writing.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any


def temp_prefix(path: Path) -> str:
    """The start of every temp file name used while `path` is being written (`.<name>.`)."""
    return f".{Path(path).name}."


def temp_files(path: Path) -> list[Path]:
    """The temp files of `path` now on disk (a write in progress, or one a crash left behind)."""
    path = Path(path)
    prefix = temp_prefix(path)
    if not path.parent.is_dir():
        return []
    return sorted(p for p in path.parent.iterdir() if p.name.startswith(prefix) and p.name.endswith(".tmp"))


def _try_lock(fd: int) -> bool:
    """Take an exclusive `flock` on `fd` without waiting; False when another process holds it.

    A file system without `flock` (some NFS mounts) counts as "not held": temp files there are
    cleaned as before locks existed, and concurrent tasks are warned about by the out_dir lock.
    """
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as error:
        if error.errno in (errno.EAGAIN, errno.EACCES):
            return False
    return True


def _open_own_temp(path: Path) -> tuple[int, Path]:
    """Create `path`'s temp file for this writer alone and lock it; return its descriptor and name."""
    while True:
        tmp = path.with_name(f"{temp_prefix(path)}{os.getpid()}-{secrets.token_hex(4)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        try:  # a cleaner may have taken it between create and lock (and removes it): then start again
            if _try_lock(fd) and os.path.samestat(os.fstat(fd), os.stat(tmp)):
                return fd, tmp
        except FileNotFoundError:
            pass
        os.close(fd)


def drop_from_page_cache(handle: IO[bytes]) -> None:
    """Ask the kernel to drop the file's clean pages from the page cache (`posix_fadvise`, where the
    system has it): for files a job will not read again, so they leave the cache to the ones it will."""
    if hasattr(os, "posix_fadvise"):
        os.posix_fadvise(handle.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)


@contextmanager
def atomic_open(path: Path, keep_cached: bool = True) -> Iterator[IO[bytes]]:
    """A binary handle on a temp file of `path`; on a clean exit it is fsynced and renamed over `path`.

    On an exception the temp file is removed and the previous `path` (if any) is left untouched.
    `keep_cached=False` drops the written (fsynced, so clean) pages from the page cache: a stage
    that writes far more than the machine's memory (42 GB of tars at 1M entities, through 23 GiB)
    would otherwise push the inputs it still has to read out of the cache.
    """
    path = Path(path)
    fd, tmp = _open_own_temp(path)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
            if not keep_cached:
                drop_from_page_cache(handle)
            os.replace(tmp, path)  # still holding the lock: a cleaner never sees this temp unlocked
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` atomically (temp file, fsync, rename)."""
    with atomic_open(path) as handle:
        handle.write(data)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: Path, value: Any, indent: int | None = 1) -> None:
    """Deterministic JSON (sorted keys, UTF-8), written atomically."""
    atomic_write_text(path, json.dumps(value, ensure_ascii=False, indent=indent, sort_keys=True))


def atomic_write_jsonl(path: Path, rows: Any) -> int:
    """Write an iterable of JSON objects as JSON Lines (sorted keys, UTF-8), atomically; return the count."""
    lines = [json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n" for row in rows]
    atomic_write_text(path, "".join(lines))
    return len(lines)


def remove_temp_files(folder: Path, recursive: bool = True) -> int:
    """Delete `.<name>…tmp` leftovers of interrupted atomic writes under `folder`; return how many.

    A temp file a live writer still holds (another task writing into the same folder) is left alone.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return 0
    pattern = "**/.*.tmp" if recursive else ".*.tmp"
    removed = 0
    for leftover in folder.glob(pattern):
        try:
            fd = os.open(leftover, os.O_RDONLY)
        except (FileNotFoundError, IsADirectoryError, PermissionError):
            continue  # finished (renamed) meanwhile, or not a file
        try:
            if not os.path.isfile(leftover) or not _try_lock(fd):
                continue
            leftover.unlink(missing_ok=True)
            removed += 1
        finally:
            os.close(fd)
    return removed


def atomic_directory(target: Path, build: Callable[[Path], object], done_file: str) -> Path:
    """Build a folder with `build(tmp_dir)` and rename it to `target`, unless `target/done_file` exists.

    Concurrent builders (array tasks, parallel tests) each build in their own hidden folder; the first
    rename wins and the others discard their copy, so no reader ever sees half a folder.
    """
    target = Path(target)
    if (target / done_file).exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.build-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        build(tmp)
        os.rename(tmp, target)
    except OSError:
        if not (target / done_file).exists():  # not "another process finished first": a real failure
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target
