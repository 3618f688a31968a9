"""Chunked, resumable record files shared by the record stages (`qa`, `refine`, `filter`).

Layout of one stage's output:

    <out_dir>/<stage>/<CC>/part-00000.jsonl        records, one JSON object per line
    <out_dir>/<stage>/<CC>/part-00000.stats.json   {"records_in", "records_out", "reasons"}
    <out_dir>/<stage>/manifest.json                written last: the stage is complete

Why parts: a killed run must resume without redoing finished work and without half-written
files, and SLURM array tasks must be able to take disjoint slices of the work. Each part is
written atomically (temp file, then rename), so *a part file that exists is complete*; its stats
sidecar is written just before it, so every complete part has its counts (a sidecar left without
its part by a crash is simply written again). Parts have one global order — country code, then
index — and `parts=START:END` selects a slice of it. Record-to-record stages (refine, filter) map
every input part to the output part of the same name, so slices line up across stages and a
re-run is the same computation on the same inputs. A stage's `manifest.json` is written only
after all its parts exist; the next stage refuses to start on an input without one. A stage's
`settings.json` fingerprints what its parts were made from (`check_fingerprint`): a re-run with
other settings is refused with the differing keys named, never mixed into the same folder.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from data_gen.common.errors import DataGenError, StageIOError
from data_gen.common.jsonl import read_jsonl
from data_gen.common.locks import manifest_lock
from data_gen.common.progress import progress
from shard_contract.atomic import atomic_write_json, atomic_write_jsonl, remove_temp_files
from shard_contract.manifest import MANIFEST_NAME

PART_PATTERN = re.compile(r"^part-(\d{5})\.jsonl$")
COUNTRY_PATTERN = re.compile(r"^[A-Z]{2}$")

Record = dict[str, Any]
Transform = Callable[["PartRef", list[Record]], tuple[list[Record], Counter]]


@dataclass(frozen=True, order=True)
class PartRef:
    """One part of a stage: the country it belongs to and its index within that country."""

    country: str
    index: int

    def __post_init__(self) -> None:
        if not COUNTRY_PATTERN.match(self.country) or not 0 <= self.index <= 99_999:
            raise StageIOError(f"bad part reference {self.country!r}/{self.index}")

    @property
    def name(self) -> str:
        return f"part-{self.index:05d}"

    def path(self, stage_dir: Path) -> Path:
        return Path(stage_dir) / self.country / f"{self.name}.jsonl"

    def stats_path(self, stage_dir: Path) -> Path:
        return Path(stage_dir) / self.country / f"{self.name}.stats.json"


def list_parts(stage_dir: Path) -> list[PartRef]:
    """The complete parts of a stage folder, in the global order (country, index)."""
    stage_dir = Path(stage_dir)
    if not stage_dir.is_dir():
        return []
    parts = []
    for country_dir in stage_dir.iterdir():
        if not (country_dir.is_dir() and COUNTRY_PATTERN.match(country_dir.name)):
            continue
        for path in country_dir.iterdir():
            match = PART_PATTERN.match(path.name)
            if match:
                parts.append(PartRef(country_dir.name, int(match.group(1))))
    return sorted(parts)


def read_part(path: Path) -> list[Record]:
    """The records of one part file; a StageIOError names the file and line of a bad record."""
    return read_jsonl(path)


def iter_records(stage_dir: Path, country: str | None = None) -> Iterator[Record]:
    """Every record of a stage in the global part order (optionally one country's only)."""
    for ref in list_parts(stage_dir):
        if country is None or ref.country == country:
            yield from read_part(ref.path(stage_dir))


def write_part(stage_dir: Path, ref: PartRef, records: list[Record], stats: Mapping[str, Any]) -> None:
    """Write the stats sidecar, then the part itself, each atomically (the part last: it marks done)."""
    path = ref.path(stage_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(ref.stats_path(stage_dir), dict(stats))
    atomic_write_jsonl(path, records)


def read_stats(stage_dir: Path, ref: PartRef) -> dict[str, Any]:
    path = ref.stats_path(stage_dir)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise StageIOError(f"{path}: stats of a complete part are missing or unreadable ({error})") from None


def split_into_parts(
    country: str, records: Iterable[Record], chunk_size: int
) -> Iterator[tuple[PartRef, list[Record]]]:
    """Cut one country's record stream into parts of `chunk_size` records (the last may be shorter)."""
    if chunk_size < 1:
        raise StageIOError(f"chunk_size must be positive, got {chunk_size}")
    chunk: list[Record] = []
    index = 0
    for record in records:
        chunk.append(record)
        if len(chunk) == chunk_size:
            yield PartRef(country, index), chunk
            chunk, index = [], index + 1
    if chunk:
        yield PartRef(country, index), chunk


def parse_range(spec: str | None, total: int) -> range:
    """`None`/`""`/`"all"` → every part; `"START:END"` (either side may be empty) → that slice.

    Slices past the end are allowed and simply shorter (an array task may get nothing to do).
    """
    if spec is None or str(spec).strip() in ("", "all", ":"):
        return range(total)
    match = re.match(r"^\s*(\d*)\s*:\s*(\d*)\s*$", str(spec))
    if not match:
        raise StageIOError(f"part range {spec!r} must look like START:END (e.g. 0:8)")
    start = int(match.group(1)) if match.group(1) else 0
    end = int(match.group(2)) if match.group(2) else total
    if end < start:
        raise StageIOError(f"part range {spec!r} ends before it starts")
    return range(min(start, total), min(end, total))


def require_complete(stage_dir: Path, what: str) -> dict[str, Any]:
    """The manifest of a finished stage, or a clear error telling which stage to run first."""
    path = Path(stage_dir) / MANIFEST_NAME
    if not path.exists():
        raise StageIOError(f"{what} output {stage_dir} is missing or incomplete (no {MANIFEST_NAME}): run it first")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise StageIOError(f"{path} is not valid JSON ({error.msg})") from None


@dataclass
class StageCounts:
    """What one run of a part-mapping stage did (parts this run wrote vs found already complete)."""

    parts_written: int = 0
    parts_already_done: int = 0
    records_in: int = 0
    records_out: int = 0
    reasons: Counter = field(default_factory=Counter)

    def add(self, stats: Mapping[str, Any]) -> None:
        self.records_in += int(stats.get("records_in", 0))
        self.records_out += int(stats.get("records_out", 0))
        self.reasons.update({str(k): int(v) for k, v in dict(stats.get("reasons", {})).items()})

    def as_dict(self) -> dict[str, Any]:
        return {
            "parts_written": self.parts_written,
            "parts_already_done": self.parts_already_done,
            "records_in": self.records_in,
            "records_out": self.records_out,
            "reasons": dict(sorted(self.reasons.items())),
        }


def map_parts(
    in_dir: Path,
    out_dir: Path,
    transform: Transform,
    part_range: str | None = None,
    show_progress: bool = False,
    desc: str = "parts",
) -> StageCounts:
    """Apply `transform` to every input part in `part_range` whose output part does not exist yet.

    `transform(ref, records) -> (kept_records, reasons)`; `reasons` counts what happened to the
    records (kept, dropped and why). Leftover temp files of a killed run are removed first.
    """
    in_dir, out_dir = Path(in_dir), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    remove_temp_files(out_dir)
    parts = list_parts(in_dir)
    selected = [parts[i] for i in parse_range(part_range, len(parts))]
    counts = StageCounts()
    for ref in progress(selected, desc=desc, unit="part", enabled=show_progress):
        if ref.path(out_dir).exists():
            counts.parts_already_done += 1
            counts.add(read_stats(out_dir, ref))
            continue
        records = read_part(ref.path(in_dir))
        kept, reasons = transform(ref, records)
        stats = {"records_in": len(records), "records_out": len(kept), "reasons": dict(sorted(reasons.items()))}
        write_part(out_dir, ref, kept, stats)
        counts.parts_written += 1
        counts.add(stats)
    return counts


def summarize(stage_dir: Path) -> dict[str, Any]:
    """Totals over every complete part of a stage (for its manifest), per country and overall."""
    total = StageCounts()
    per_country: dict[str, StageCounts] = {}
    parts = list_parts(stage_dir)
    for ref in parts:
        stats = read_stats(stage_dir, ref)
        total.add(stats)
        per_country.setdefault(ref.country, StageCounts()).add(stats)
    summary = {key: value for key, value in total.as_dict().items() if not key.startswith("parts_")}
    summary["parts"] = len(parts)
    summary["countries"] = {
        code: {"records_in": c.records_in, "records_out": c.records_out} for code, c in sorted(per_country.items())
    }
    return summary


def write_stage_manifest(stage_dir: Path, stage: str, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Write `<stage_dir>/manifest.json` (totals from the parts plus `extra`); call after the last part.

    Under the stage's manifest lock, so two array tasks completing the set together write in turn.
    """
    with manifest_lock(stage_dir):
        manifest = {"stage": stage, **summarize(stage_dir), **dict(extra or {})}
        atomic_write_json(Path(stage_dir) / MANIFEST_NAME, manifest)
    return manifest


SETTINGS_NAME = "settings.json"


def check_fingerprint(stage_dir: Path, fingerprint: dict[str, Any]) -> None:
    """Write `settings.json` on first use; refuse a different one later (naming the keys)."""
    path = Path(stage_dir) / SETTINGS_NAME
    if path.exists():
        try:
            previous = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as error:
            raise DataGenError(f"{path} is not valid JSON ({error.msg}); remove the stage folder") from None
        changed = sorted(key for key in set(previous) | set(fingerprint) if previous.get(key) != fingerprint.get(key))
        if changed:
            raise DataGenError(
                f"{stage_dir} was made with other settings ({', '.join(changed)} differ): "
                f"remove it or use another out_dir to redo it"
            )
        return
    Path(stage_dir).mkdir(parents=True, exist_ok=True)
    atomic_write_json(path, fingerprint)
