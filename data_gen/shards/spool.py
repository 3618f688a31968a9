"""The shards stage's records regrouped by output window in one pass over the input (an external bucket sort).

Shards are written in key order, and keys start with a keyed hash, so consecutive samples come from
all over the input: read where it lies, each record is a random read. At 1M entities the 8 GB of qa
parts and the 8 GB of images did not fit in the page cache of a 23 GiB machine, and the parts were
read from disk about five times over (80 GB read for 16 GB of inputs; benchmarks/RESULTS.md).

So the input is reordered on disk first. The output is cut into windows (consecutive index entries,
`stage.READ_WINDOW` at a time); `spool_records` reads every part once, front to back, and appends
each record's line to the spool file of its window; `Spool.take` then reads one window's file in one
sequential read and deletes it. Each input byte is read twice in file order (the index pass and
this one) and written and read once more as spool, where it was read once at random before, and
the page cache is left to the images. A spool file holds its window's lines in (part, offset) order.

The spool needs temporary disk as large as the input; it lives in a hidden folder of the stage
(`shards/.spool/`), is checked for room before a byte is written, is removed when the stage ends or
fails, and a leftover of a killed run is removed by the next one (it is derived data: nothing is lost).
"""

from __future__ import annotations

import shutil
from collections import defaultdict
from pathlib import Path

import numpy as np

from data_gen.common.errors import DataGenError
from shard_contract.atomic import drop_from_page_cache

FLUSH_BYTES = 128 << 20  # lines held in memory before they are appended to their spool files


class Spool:
    """Spool files of one stage run, one per window number, under `folder`."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path(self, window: int) -> Path:
        return self.folder / f"window-{window:06d}.jsonl"

    def take(self, window: int) -> list[bytes]:
        """The window's lines (each without its newline) in (part, offset) order; the file is deleted."""
        path = self.path(window)
        if not path.exists():
            raise DataGenError(f"shards: the spool file {path} disappeared while the stage ran; run the stage again")
        data = path.read_bytes()
        path.unlink()
        return data.split(b"\n")[:-1]

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def _require_room(folder: Path, needed: int) -> None:
    free = shutil.disk_usage(folder).free
    if needed > free:
        raise DataGenError(
            f"shards: reordering the records needs {needed:,} bytes of temporary space in {folder} "
            f"(the size of the input), but only {free:,} are free; free some space and run the stage again")


def spool_records(folder: Path, paths: list[Path], parts: np.ndarray, offsets: np.ndarray,
                  windows: np.ndarray) -> Spool:
    """Append the line at (`parts[i]`, `offsets[i]`) to the spool of window `windows[i]`, for every i,
    reading each of `paths` once front to back. A leftover spool in `folder` is removed first. A record
    not found where the index put it (the part changed since it was indexed) stops the stage."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    spool = Spool(folder)
    try:
        _require_room(folder, sum(path.stat().st_size for path in paths))
        _copy_by_window(spool, paths, parts, offsets, windows)
    except BaseException:
        spool.remove()
        raise
    return spool


def _copy_by_window(spool: Spool, paths: list[Path], parts: np.ndarray, offsets: np.ndarray,
                    windows: np.ndarray) -> None:
    order = np.lexsort((offsets, parts))
    parts, offsets, windows = parts[order], offsets[order], windows[order]
    del order
    starts = np.searchsorted(parts, np.arange(len(paths) + 1))
    buffered: dict[int, list[bytes]] = defaultdict(list)
    held = 0
    for number, path in enumerate(paths):
        wanted = offsets[starts[number]:starts[number + 1]].tolist()
        into = windows[starts[number]:starts[number + 1]].tolist()
        if not wanted:
            continue
        found, position = 0, 0
        with open(path, "rb") as handle:
            for line in handle:
                if found < len(wanted) and position == wanted[found]:
                    buffered[into[found]].append(line if line.endswith(b"\n") else line + b"\n")
                    held += len(line)
                    found += 1
                position += len(line)
            drop_from_page_cache(handle)  # read twice (index, spool), never again: leave the cache to the images
        if found < len(wanted):
            raise DataGenError(f"shards: {path} changed while the stage ran: the record at byte "
                               f"{wanted[found]} is no longer where the index put it; run the stage again")
        if held >= FLUSH_BYTES:
            _flush(spool, buffered)
            held = 0
    _flush(spool, buffered)


def _flush(spool: Spool, buffered: dict[int, list[bytes]]) -> None:
    for window, lines in buffered.items():
        with open(spool.path(window), "ab") as handle:
            handle.write(b"".join(lines))
    buffered.clear()
