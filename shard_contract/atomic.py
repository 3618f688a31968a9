"""Atomic file writes: a reader (or a re-run after `kill -9`) sees the old file or the new one.

Each write goes to a hidden temp file in the same folder (same filesystem, so the rename is
atomic), is flushed and fsynced, then renamed over the target. A crash can leave only a hidden
`.<name>.tmp` file behind; writers clean those up on their next run. `atomic_open` is the one
mechanism (a writer that streams, such as `torch.save`, writes into its handle); a folder built in
several files goes through `atomic_directory`, which renames a finished hidden folder into place.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any


def temp_path(path: Path) -> Path:
    """The hidden temp name used while `path` is being written."""
    return path.with_name(f".{path.name}.tmp")


@contextmanager
def atomic_open(path: Path) -> Iterator[IO[bytes]]:
    """A binary handle on `path`'s temp file; on a clean exit it is fsynced and renamed over `path`.

    On an exception the temp file is removed and the previous `path` (if any) is left untouched.
    """
    path = Path(path)
    tmp = temp_path(path)
    try:
        with open(tmp, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
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
    """Delete `.<name>.tmp` leftovers of interrupted atomic writes under `folder`; return how many."""
    folder = Path(folder)
    if not folder.is_dir():
        return 0
    pattern = "**/.*.tmp" if recursive else ".*.tmp"
    removed = 0
    for leftover in folder.glob(pattern):
        if leftover.is_file():
            leftover.unlink(missing_ok=True)
            removed += 1
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
