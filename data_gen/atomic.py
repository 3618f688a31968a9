"""Atomic file writes: a reader (or a re-run after `kill -9`) sees the old file or the new one.

Each write goes to a hidden temp file in the same folder (same filesystem, so the rename is
atomic), is flushed and fsynced, then renamed over the target. A crash can leave only a hidden
`.<name>.tmp` file behind; writers clean those up on their next run.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def temp_path(path: Path) -> Path:
    """The hidden temp name used while `path` is being written."""
    return path.with_name(f".{path.name}.tmp")


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` atomically (temp file, fsync, rename)."""
    path = Path(path)
    tmp = temp_path(path)
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


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
