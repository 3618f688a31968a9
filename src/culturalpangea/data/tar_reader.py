"""Read shard members defensively, so that a damaged tar is counted instead of silently shortened.

WebDataset's own tar iterator reads in stream mode, where a truncated file simply ends early: the
samples after the cut vanish without a trace. This reader checks every member's length against
its header, refuses non-regular members and unsafe names, compares the number of samples in a
shard with the manifest's count (a tar cut at a member boundary looks complete to `tarfile`), and
records each problem as a skip reason; WebDataset's `group_by_keys` then assembles samples (an
empty dict between shards keeps a sample from spanning two files).
"""

from __future__ import annotations

import tarfile
from collections.abc import Iterable, Iterator
from typing import Any

from webdataset.gopen import gopen
from webdataset.tariterators import group_by_keys

from culturalpangea.data.skips import record_skip, tar_error_handler


def _unsafe(name: str) -> bool:
    return name.startswith(("/", "\\")) or ".." in name.split("/")


def _bad_name(name: str) -> bool:
    """A key no WebDataset tool reads back: control characters (a newline), or bytes that are not UTF-8."""
    try:
        name.encode("utf-8")  # tarfile decodes undecodable bytes as lone surrogates
    except UnicodeEncodeError:
        return True
    return any(ord(char) < 32 or ord(char) == 127 for char in name)


def _read_member(tar: tarfile.TarFile, member: tarfile.TarInfo) -> bytes | None:
    """The member's bytes, or None when the file ends before the header's size."""
    try:
        handle = tar.extractfile(member)
        data = handle.read() if handle else b""
    except tarfile.ReadError:
        return None
    return data if len(data) == member.size else None


def checked_members(shards: Iterable[tuple[str, int | None]]) -> Iterator[dict[str, Any]]:
    """Yield `{"fname", "data", "__url__"}` per good member, `{}` after each shard.

    `shards` pairs each URL with the number of samples its manifest promises (None: unknown).
    """
    for url, expected in shards:
        keys: set[str] = set()
        try:
            with gopen(url, "rb") as stream, tarfile.open(fileobj=stream, mode="r|") as tar:
                for member in tar:
                    if not member.isreg():
                        record_skip("tar:not_regular_member")
                        continue
                    if _unsafe(member.name):
                        record_skip("tar:unsafe_member_name")
                        continue
                    if _bad_name(member.name):
                        record_skip("tar:bad_member_name")
                        continue
                    data = _read_member(tar, member)
                    if data is None:
                        record_skip("tar:truncated")
                        break
                    keys.add(member.name.split("/")[-1].split(".", 1)[0])
                    yield {"fname": member.name, "data": data, "__url__": url}
        except (tarfile.TarError, OSError, EOFError) as error:
            record_skip(f"tar:{type(error).__name__}")
        if expected is not None and len(keys) < expected:
            record_skip("tar:missing_samples", expected - len(keys))
        yield {}


def tar_samples(shards: Iterable[tuple[str, int | None]]) -> Iterator[dict[str, Any]]:
    """Samples (`__key__`, `__url__`, one entry per extension) from `(url, expected_samples)` pairs."""
    return group_by_keys(checked_members(shards), handler=tar_error_handler)
