"""WebDataset shard writer: deterministic tars, resumable, with a manifest beside them.

Design choices:
- **Byte-identical re-runs.** Members are written with fixed metadata (mtime 0, uid/gid 0, no user
  names, mode 0644) and the JSON is canonical (sorted keys), so the same samples in the same order
  give the same bytes. The writer demands strictly increasing keys: that makes the order explicit
  and proves keys unique without holding them all in memory.
- **Atomic and resumable.** Each shard is streamed into a hidden temp file (hashed on the way, never
  held whole in memory), fsynced, dropped from the page cache and renamed. After
  each shard, `_progress.json` records its input digest and file hash; a re-run after a crash skips
  shards whose file and digest still match and rewrites the rest. Leftover temp files are removed,
  and so are stale shards of an earlier, longer run — only those `_progress.json` lists as written
  here: a file the writer did not write is never deleted.
- **Sized by samples and bytes**, whichever limit comes first, like open_clip's shard tooling;
  `sizes.json` (shard → count) sits beside the shards as open_clip's loader expects, and
  `manifest.json` adds counts per language, country, property and question type — of QA pairs, which
  equal samples unless samples are grouped (several QA pairs about one image per sample).
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from data_gen.common.errors import SettingsError
from shard_contract.atomic import atomic_open, atomic_write_bytes
from shard_contract.manifest import COUNTED_FIELDS, manifest_dict, write_manifest
from shard_contract.sample import canonical_json, qa_pairs_of, require_valid

PROGRESS_NAME = "_progress.json"


@dataclass(frozen=True)
class ShardSample:
    """One sample on its way into a shard: its key, its JSON object and its JPEG bytes (or None)."""

    key: str
    sample: dict[str, Any]
    image: bytes | None = None

    def members(self) -> list[tuple[str, bytes]]:
        """Tar members in a fixed order: `<key>.jpg` (when present) then `<key>.json`."""
        members = [(f"{self.key}.jpg", self.image)] if self.image is not None else []
        return [*members, (f"{self.key}.json", canonical_json(self.sample))]


@dataclass(frozen=True)
class ShardSpec:
    """How to cut the stream into shards."""

    max_samples: int = 10_000
    max_bytes: int = 1 << 30
    prefix: str = "shard"

    def __post_init__(self) -> None:
        if self.max_samples < 1 or self.max_bytes < 1:
            raise SettingsError("max_samples and max_bytes must be positive")
        if not self.prefix.replace("-", "").replace("_", "").isalnum():
            raise SettingsError(f"shard prefix {self.prefix!r} must be alphanumeric (dashes/underscores allowed)")

    def name(self, index: int) -> str:
        return f"{self.prefix}-{index:06d}.tar"


@dataclass
class ShardReport:
    """What one `write_shards` call did."""

    shards: list[dict[str, Any]] = field(default_factory=list)
    written: int = 0
    reused: int = 0
    counts: dict[str, Counter] = field(default_factory=lambda: {name: Counter() for name in COUNTED_FIELDS})
    images: int = 0

    @property
    def total_samples(self) -> int:
        return sum(shard["samples"] for shard in self.shards)


class _HashingSink:
    """A write-only file for `tarfile` that passes bytes on to `handle` and hashes and counts them."""

    def __init__(self, handle: BinaryIO) -> None:
        self.handle, self.sha256, self.size = handle, hashlib.sha256(), 0

    def write(self, data: bytes) -> int:
        self.handle.write(data)
        self.sha256.update(data)
        self.size += len(data)
        return len(data)

    def tell(self) -> int:
        return self.size


def _write_tar(handle: BinaryIO, samples: list[ShardSample]) -> tuple[str, int]:
    """Stream `samples` as a tar into `handle` (no copy of the whole tar in memory); return its sha256
    and size."""
    sink = _HashingSink(handle)
    with tarfile.open(fileobj=sink, mode="w", format=tarfile.PAX_FORMAT) as tar:  # type: ignore[call-overload]
        for sample in samples:
            for name, data in sample.members():
                info = tarfile.TarInfo(name)
                info.size, info.mtime, info.mode = len(data), 0, 0o644
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                tar.addfile(info, io.BytesIO(data))
    return sink.sha256.hexdigest(), sink.size


def _group(samples: Iterable[ShardSample], spec: ShardSpec) -> Iterator[list[ShardSample]]:
    group: list[ShardSample] = []
    group_bytes, previous_key = 0, None
    for item in samples:
        if previous_key is not None and item.key <= previous_key:
            raise ValueError(f"sample keys must be strictly increasing: {item.key!r} after {previous_key!r}")
        previous_key = item.key
        require_valid(item.key, item.sample, has_image=item.image is not None)
        size = sum(len(data) + 1024 for _, data in item.members())
        if group and (len(group) >= spec.max_samples or group_bytes + size > spec.max_bytes):
            yield group
            group, group_bytes = [], 0
        group.append(item)
        group_bytes += size
    if group:
        yield group


def _input_digest(samples: list[ShardSample]) -> str:
    digest = hashlib.sha256()
    for sample in samples:
        for name, data in sample.members():
            digest.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
    return digest.hexdigest()


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _load_progress(out_dir: Path) -> dict[str, dict[str, Any]]:
    path = out_dir / PROGRESS_NAME
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError:
        return {}  # a torn progress file only costs rewriting shards


def _clean_leftovers(out_dir: Path, keep: set[str], written: set[str]) -> None:
    """Remove temp files and stale shards this writer wrote (listed in `_progress.json`), nothing else."""
    for path in out_dir.iterdir():
        temp = path.name.startswith(".") and path.name.endswith(".tmp")
        if temp or (path.name in written and path.name not in keep):
            path.unlink()


def _count(report: ShardReport, samples: list[ShardSample]) -> int:
    """Add the samples' QA pairs to the report's counts; return how many pairs they hold."""
    pairs_total = 0
    for item in samples:
        report.images += item.image is not None
        pairs = qa_pairs_of(item.sample)
        pairs_total += len(pairs)
        for pair in pairs:
            for name in COUNTED_FIELDS:
                value = pair.get(name)
                report.counts[name][str(value) if value is not None else "none"] += 1
    return pairs_total


def write_shards(samples: Iterable[ShardSample], out_dir: Path, spec: ShardSpec | None = None) -> ShardReport:
    """Write `samples` (strictly increasing keys) as tars under `out_dir`, then the manifest."""
    spec = spec or ShardSpec()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    progress = _load_progress(out_dir)
    _clean_leftovers(out_dir, keep=set(progress), written=set(progress))
    report = ShardReport()
    for index, group in enumerate(_group(samples, spec)):
        name, digest = spec.name(index), _input_digest(group)
        path = out_dir / name
        done = progress.get(name)
        if done and done["input_digest"] == digest and path.exists() and _file_sha256(path) == done["sha256"]:
            report.reused += 1
        else:
            with atomic_open(path, keep_cached=False) as handle:  # tars are not read again here
                sha256, size = _write_tar(handle, group)
            done = {"input_digest": digest, "sha256": sha256, "bytes": size}
            progress[name] = done
            atomic_write_bytes(out_dir / PROGRESS_NAME, json.dumps(progress, sort_keys=True, indent=1).encode())
            report.written += 1
        qa_pairs = _count(report, group)
        report.shards.append({"name": name, "samples": len(group), "qa_pairs": qa_pairs, "bytes": done["bytes"],
                              "sha256": done["sha256"]})
    _clean_leftovers(out_dir, keep={shard["name"] for shard in report.shards}, written=set(progress))
    stale = sorted(set(progress) - {shard["name"] for shard in report.shards})
    if stale:  # forget what was removed, so a later run cannot remove a same-named file it did not write
        for name in stale:
            progress.pop(name)
        atomic_write_bytes(out_dir / PROGRESS_NAME, json.dumps(progress, sort_keys=True, indent=1).encode())
    write_manifest(out_dir, report_manifest(report))
    return report


def report_manifest(report: ShardReport) -> dict[str, Any]:
    """The manifest of what `write_shards` wrote (shard_contract.manifest)."""
    return manifest_dict(report.shards, report.counts, report.images)
