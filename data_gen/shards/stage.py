"""`stage=shards`: the final records → WebDataset tars in `shards/open/` and `shards/mcq/`.

    python -m data_gen stage=shards out_dir=D [shards.input=filter|refine|qa] [shards.max_samples=10000]

- **Input** is the last record stage of the recipe, `filter/`; `shards.input=qa` shards the
  template-only data and `shards.input=refine` the unfiltered data (ablations).
- **Two folders**, one per question type, because the training mixture weighs open-ended and
  multiple-choice data as separate sources (`configs/data/*.yaml`). Each has its tars, `sizes.json`
  and `manifest.json` (counts per language, country, property, question type; data_gen/shards/writer.py).
- **A held-out split**, `shards/heldout/` (both question types): every record of the entities whose
  keyed hash of the QID falls under `heldout_fraction`. Held out *by entity*, not by record, so
  neither the entity's images nor any of its facts are seen in training; the in-domain evaluation
  (`culturalpangea.eval`, benchmark `culturalground`) reads it. Records without a QID (imports)
  are never held out.
- **Order**: samples are written in record-ID order. QA IDs start with a keyed hash (data_gen/qa/generate.py),
  so a shard is a pseudo-random mix of countries, languages and properties, not one country's run,
  and the order is a pure function of the records: a re-run writes byte-identical tars.
- **Fields.** A shard sample is the contract sample (data_gen/contract.py) with the provenance the
  record stages added. Dropped: `question` (the stem: already inside the human turn), `image` (a path
  on the machine that generated the data; the picture itself is the sample's `.jpg` member) and
  `answer_aliases` (an input of the refinement guards; often an empty list, which also makes HF
  `datasets` infer a null-typed column from the first samples and fail on the first non-empty one).
- **Scale.** An index of (group, ID, part, byte offset) is sorted in memory, one packed string per
  record: measured 131 bytes per record at peak with the duplicate check's 8-byte hashes (155
  grouped; 293 and 365 with one object per record and a set of the IDs), so ≈ 1.5 GiB for the 12M
  records of 1M entities. The sorted index is cut into windows (`READ_WINDOW` entries, never
  splitting a grouped sample), and one more pass over the input, front to back, copies each
  record's line into its window's spool file (`shards/.spool/`, data_gen/shards/spool.py); each
  window then reads its spool in one sequential read. Read where they lay instead, the records were
  random reads, and at 1M entities the inputs were read from disk about five times over
  (benchmarks/RESULTS.md). Written tars are dropped from the page cache, which is left to the images.
  While tars are written the index is hidden from the cyclic garbage collector (`gc.freeze`): its
  full collections walked the 9.3M index strings each time, which made the write loop quadratic
  (`_out_of_gc_sight`). Every image path is checked before the first tar is written, so a missing
  file stops the stage with its record named and nothing half-written.
- **Grouping** (`shards.group=image_language`, issue 18): instead of one sample per QA pair, one
  sample per (image, language, question type) whose turns are that image's QA pairs, in an order
  shuffled by a seed derived from the group (so re-runs are byte-identical), at most
  `shards.max_turns` per sample (the rest go to further samples `…_01`, `…_02`). The image is
  stored once per sample instead of once per pair; the placeholder stays in the first human turn;
  per-pair fields move to the sample's `qa` list (shard_contract.sample). Group keys start with a
  hash of the group, so shards stay a pseudo-random mix. The held-out split is never grouped: the
  in-domain evaluation asks one question per item, and a held-out entity's pairs are all held out
  either way. `group=none` (the default) writes exactly what it wrote before.
- **Dataset card.** `shards/README.md` declares the HF `datasets` configs and features (from
  `shard_contract.schema`), so `load_dataset("<out_dir>/shards")` loads every folder in one call
  with nothing dropped (data_gen/shards/card.py); a sample with a field the schema does not declare
  stops the stage, naming the sample and the field.
- **Done marker.** `shards/manifest.json` (input stage, its manifest's sha256, totals per folder) is
  written last; `stage=all` treats the stage as finished only when it exists.
"""

from __future__ import annotations

import gc
import hashlib
import itertools
import json
import random
from array import array
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
from omegaconf import DictConfig

from data_gen.common.errors import DataGenError
from data_gen.common.jsonl import iter_jsonl
from data_gen.common.layout import HELDOUT, Layout
from data_gen.common.parts import PartRef, list_parts, require_complete
from data_gen.common.progress import format_table
from data_gen.common.settings import settings_from
from data_gen.common.stage_result import StageResult
from data_gen.shards.card import write_card
from data_gen.shards.spool import Spool, spool_records
from data_gen.shards.writer import ShardSample, ShardSpec, write_shards
from shard_contract.atomic import atomic_write_json
from shard_contract.manifest import MANIFEST_NAME
from shard_contract.sample import QUESTION_TYPES
from shard_contract.schema import schema_problem
from shard_contract.tokens import IMAGE_TOKEN

STAGE = "shards"
INPUT_STAGES = ("filter", "refine", "qa")
DROPPED_FIELDS = ("question", "image", "answer_aliases")
GROUPINGS = ("none", "image_language")
SAMPLE_LEVEL_FIELDS = ("qid", "country", "language", "question_type")  # shared by every pair of a group
READ_WINDOW = 100_000  # index entries whose records are spooled and read together
SPOOL_FOLDER = ".spool"  # under the stage folder: the records reordered by window (data_gen/shards/spool.py)


@dataclass(frozen=True)
class ShardsSettings:
    """The `shards:` block of configs/data_gen.yaml."""

    input: str = "filter"
    max_samples: int = 10_000
    max_bytes: int = 1_000_000_000
    heldout_fraction: float = 0.02
    group: str = "none"  # none | image_language: one sample per image, language and question type
    max_turns: int = 8  # QA pairs per grouped sample (more go to further samples)

    def __post_init__(self) -> None:
        if self.group not in GROUPINGS:
            raise ValueError(f"shards.group must be one of {GROUPINGS}, got {self.group!r}")
        if self.max_turns < 1:
            raise ValueError(f"shards.max_turns must be at least 1, got {self.max_turns}")
        if self.input not in INPUT_STAGES:
            raise ValueError(f"shards.input must be one of {INPUT_STAGES}, got {self.input!r}")
        if not 0.0 <= self.heldout_fraction < 1.0:
            raise ValueError(f"shards.heldout_fraction must be in [0, 1), got {self.heldout_fraction}")
        ShardSpec(self.max_samples, self.max_bytes)  # validates the sizes


@dataclass(frozen=True, order=True)
class IndexEntry:
    key: str
    part: int
    offset: int
    group: str = ""  # the record's (image, language, question type) group key, when grouping


def group_key(record: dict[str, Any]) -> str:
    """`g<16 hex>_<language>_<question type>`: a hash of the image path first, so groups mix in a shard."""
    image, language, question_type = str(record["image"]), str(record["language"]), str(record["question_type"])
    digest = hashlib.sha256(f"{image}\0{language}\0{question_type}".encode()).hexdigest()[:16]
    return f"g{digest}_{language.replace('.', '-')}_{question_type}"


def is_held_out(qid: Any, fraction: float) -> bool:
    """Whether an entity belongs to the held-out split (a keyed hash: stable across runs and machines)."""
    if not isinstance(qid, str) or fraction <= 0:
        return False
    digest = hashlib.sha256(f"culturalground-heldout/{qid}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction


def shard_sample_fields(record: dict[str, Any]) -> dict[str, Any]:
    """The record as it goes into a shard: internal fields dropped (see module docstring)."""
    return {name: value for name, value in record.items() if name not in DROPPED_FIELDS}


def _image_path(out_dir: Path, record: dict[str, Any], where: str) -> Path:
    relative = record.get("image")
    if not isinstance(relative, str) or not relative:
        raise DataGenError(f"{where}: record {record.get('id')!r} has no image path")
    if PurePosixPath(relative).is_absolute() or ".." in relative.split("/"):
        raise DataGenError(f"{where}: record {record.get('id')!r} has an unsafe image path {relative!r}")
    path = out_dir / relative
    if not path.is_file():
        raise DataGenError(f"{where}: image {relative!r} of record {record.get('id')!r} is missing")
    return path


def _packed(key: str, part: int, offset: int, group: str) -> str:
    """One index entry as one string, `group NUL key NUL part NUL offset` (hex): sorting these sorts by
    group, then ID — the order the folder is written in — and one string per record held 113 bytes
    where an IndexEntry object with its fields held 239 (the index is the stage's memory at scale)."""
    return f"{group}\0{key}\0{part:x}\0{offset:x}"


def unpack(packed: str) -> IndexEntry:
    """The IndexEntry a packed index string stands for."""
    group, key, part, offset = packed.split("\0")
    return IndexEntry(key, int(part, 16), int(offset, 16), group)


def _refuse_duplicates(in_dir: Path, parts: list[PartRef], index: dict[str, list[str]], hashes: array) -> None:
    """A record ID twice in the input stops the stage, naming both places. Checked on 64-bit hashes of
    the IDs (8 bytes a record, sorted with numpy) instead of a set of the IDs (≈ 60 bytes a record);
    an equal hash is confirmed on the IDs themselves before anything is refused."""
    if len(hashes) < 2:
        return
    ordered = np.sort(np.frombuffer(hashes, dtype=np.int64))
    suspects = set(ordered[1:][ordered[1:] == ordered[:-1]].tolist())
    if not suspects:
        return
    places: dict[str, list[IndexEntry]] = defaultdict(list)
    for packed in (packed for entries in index.values() for packed in entries):
        entry = unpack(packed)
        if hash(entry.key) in suspects:
            places[entry.key].append(entry)
    for key, found in sorted(places.items()):
        if len(found) > 1:
            where = " and ".join(f"{parts[e.part].path(in_dir)} at byte {e.offset}" for e in sorted(found)[:2])
            raise DataGenError(f"record {key!r} appears twice in {in_dir.name}/ ({where})")


def build_index(out_dir: Path, in_dir: Path, parts: list[PartRef], heldout_fraction: float = 0.0,
                grouped: bool = False) -> dict[str, list[str]]:
    """Per output folder (question type, or `heldout`), every record's packed (group, ID, part, offset),
    sorted (`unpack` reads one back). Every image path is checked on the way."""
    index: dict[str, list[str]] = {qt: [] for qt in (*QUESTION_TYPES, HELDOUT)}
    hashes = array("q")
    for number, ref in enumerate(parts):
        path = ref.path(in_dir)
        for line in iter_jsonl(path):
            record, where = line.record, f"{path}:{line.number}"
            try:
                key, question_type = record["id"], record["question_type"]  # type: ignore[index]
            except KeyError as error:
                raise DataGenError(f"{where}: not a QA record (no {error})") from None
            if question_type not in QUESTION_TYPES:
                raise DataGenError(f"{where}: record {key!r} has question_type {question_type!r}")
            if not isinstance(key, str) or not key or "\0" in key:
                raise DataGenError(f"{where}: record ID {key!r} is not a non-empty string without NUL")
            _image_path(out_dir, record, where)  # type: ignore[arg-type]
            folder = HELDOUT if is_held_out(record.get("qid"), heldout_fraction) else question_type  # type: ignore[union-attr]
            group = group_key(record) if grouped and folder != HELDOUT else ""  # type: ignore[arg-type]
            index[folder].append(_packed(key, number, line.offset, group))
            hashes.append(hash(key))
    _refuse_duplicates(in_dir, parts, index, hashes)
    for entries in index.values():
        entries.sort()
    return index


def _group_of(packed: str) -> str:
    return packed[:packed.index("\0")]


def _window_spans(packed: list[str], by_group: bool) -> list[range]:
    """The sorted index cut into consecutive windows of about `READ_WINDOW` entries, never splitting a
    group (a grouped sample's pairs are read in one window)."""
    spans, start = [], 0
    while start < len(packed):
        stop = min(start + READ_WINDOW, len(packed))
        while by_group and stop < len(packed) and _group_of(packed[stop]) == _group_of(packed[stop - 1]):
            stop += 1
        spans.append(range(start, stop))
        start = stop
    return spans


def plan_windows(index: dict[str, list[str]], grouped: bool) -> dict[str, list[tuple[int, range]]]:
    """Per folder, its windows as (spool number, span of the folder's index), numbered across folders."""
    numbers = itertools.count()
    return {folder: [(next(numbers), span) for span in _window_spans(packed, grouped and folder != HELDOUT)]
            for folder, packed in index.items()}


def _spool(spool_folder: Path, paths: list[Path], index: dict[str, list[str]],
           windows: dict[str, list[tuple[int, range]]]) -> Spool:
    """Every record's line copied into the spool file of its window (data_gen/shards/spool.py)."""
    parts, offsets, numbers = array("i"), array("q"), array("i")
    for folder, planned in windows.items():
        for number, span in planned:
            for packed in index[folder][span.start:span.stop]:
                _, part, offset = packed.rsplit("\0", 2)
                parts.append(int(part, 16))
                offsets.append(int(offset, 16))
                numbers.append(number)
    as_numpy = [np.frombuffer(values, dtype=values.typecode) for values in (parts, offsets, numbers)]
    return spool_records(spool_folder, paths, *as_numpy)


def _windows(packed: list[str], planned: list[tuple[int, range]], spool: Spool
             ) -> Iterator[tuple[list[IndexEntry], list[bytes]]]:
    """Each window's index entries with their raw lines, in index order. Raw lines, not parsed
    records: a window of `READ_WINDOW` holds ≈ 90 MB of them; each is parsed when its sample is built."""
    for number, span in planned:
        entries = [unpack(entry) for entry in packed[span.start:span.stop]]
        spooled = spool.take(number)  # in (part, offset) order
        if len(spooled) != len(entries):
            raise DataGenError(f"shards: spool window {number} holds {len(spooled)} records, "
                               f"the index {len(entries)}; run the stage again")
        lines = [b""] * len(entries)
        for position, line in zip(sorted(range(len(entries)), key=lambda n: (entries[n].part, entries[n].offset)),
                                  spooled, strict=True):
            lines[position] = line
        yield entries, lines


def _samples(out_dir: Path, windows: Iterator[tuple[list[IndexEntry], list[bytes]]]) -> Iterator[ShardSample]:
    for window, lines in windows:
        for entry, line in zip(window, lines, strict=True):
            record = json.loads(line)
            image = _image_path(out_dir, record, f"record {entry.key}").read_bytes()
            yield ShardSample(entry.key, shard_sample_fields(record), image)


def turn_order(group: str, entries: list[IndexEntry], max_turns: int) -> list[tuple[str, list[IndexEntry]]]:
    """A group's pairs in an order seeded by the group key, cut into samples of at most `max_turns`."""
    ordered = sorted(entries)
    random.Random(group).shuffle(ordered)
    return [(f"{group}_{start // max_turns:02d}", ordered[start:start + max_turns])
            for start in range(0, len(ordered), max_turns)]


def grouped_sample(key: str, records: list[dict[str, Any]]) -> dict[str, Any]:
    """One multi-turn sample from QA records about one image (shard_contract.sample, grouped form)."""
    first = records[0]
    conversations = []
    for index, record in enumerate(records):
        turns = [dict(turn) for turn in record["conversations"]]
        if index:  # the image placeholder stays in the first human turn only
            turns[0]["value"] = turns[0]["value"].replace(f"{IMAGE_TOKEN}\n", "").replace(IMAGE_TOKEN, "").strip()
        conversations += turns
    pairs = []
    for record in records:
        pair = {k: v for k, v in shard_sample_fields(record).items()
                if k not in (*SAMPLE_LEVEL_FIELDS, "conversations")}
        provenance = dict(pair.get("provenance") or {})
        provenance.pop("image", None)  # the sample's own, below
        pairs.append({**pair, "provenance": provenance})
    return {
        "id": key, **{name: first.get(name) for name in SAMPLE_LEVEL_FIELDS}, "property": None,
        "conversations": conversations, "qa": pairs,
        "provenance": {"image": (first.get("provenance") or {}).get("image")},
    }


def _grouped_samples(out_dir: Path, windows: Iterator[tuple[list[IndexEntry], list[bytes]]], max_turns: int
                     ) -> Iterator[ShardSample]:
    """Packed entries sort by group, then ID: each group is one run of a window, taken in turn."""
    for window, window_lines in windows:
        lines = dict(zip(((entry.part, entry.offset) for entry in window), window_lines, strict=True))
        for group, entries in itertools.groupby(window, key=lambda entry: entry.group):
            for key, chunk in turn_order(group, list(entries), max_turns):
                records = [json.loads(lines[entry.part, entry.offset]) for entry in chunk]
                image = _image_path(out_dir, records[0], f"record {chunk[0].key}").read_bytes()
                yield ShardSample(key, grouped_sample(key, records), image)


def declared(samples: Iterator[ShardSample]) -> Iterator[ShardSample]:
    """The samples, refusing one with a field `shard_contract.schema` does not declare (HF would drop it)."""
    for item in samples:
        problem = schema_problem(item.sample)
        if problem:
            raise DataGenError(f"shards: sample {item.key!r}: {problem}")
        yield item


@contextmanager
def _out_of_gc_sight() -> Iterator[None]:
    """Hide every object alive now (the record index above all) from the cyclic garbage collector
    until the block ends (`gc.freeze`). Each full collection walks every tracked container, and the
    index is lists of 9.3M strings at 1M entities: 0.5 s a walk, and the tars' samples trigger a full
    collection every few thousand samples, so the write loop spent time ∝ records² there (one of the
    two causes of the stage's superlinear growth, see benchmarks/RESULTS.md). The index holds no
    cycles; reference counting still frees it when the stage ends."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _write_folders(out_dir: Path, layout: Layout, index: dict[str, list[str]],
                   windows: dict[str, list[tuple[int, range]]], spool: Spool, settings: ShardsSettings
                   ) -> dict[str, Any]:
    """Each folder's tars (open, mcq, heldout) from its sorted index; what `write_shards` reported."""
    grouped = settings.group != "none"
    folders: dict[str, Any] = {}
    for question_type, entries in index.items():
        spec = ShardSpec(settings.max_samples, settings.max_bytes, prefix=question_type)
        windowed = _windows(entries, windows[question_type], spool)
        samples = (_grouped_samples(out_dir, windowed, settings.max_turns)
                   if grouped and question_type != HELDOUT else _samples(out_dir, windowed))
        report = write_shards(declared(samples), layout.shard_folder(question_type), spec)
        folders[question_type] = {
            "samples": report.total_samples,
            "qa_pairs": sum(shard["qa_pairs"] for shard in report.shards),
            "shards": len(report.shards),
            "bytes": sum(shard["bytes"] for shard in report.shards),
            "written": report.written,
            "reused": report.reused,
        }
    return folders


def run_shards(out_dir: Path, settings: ShardsSettings) -> dict[str, Any]:
    """Write both shard folders and the stage's done marker; return the marker's content."""
    out_dir = Path(out_dir)
    layout = Layout(out_dir)
    in_dir = layout.stage(settings.input)
    require_complete(in_dir, settings.input)
    parts = list_parts(in_dir)
    index = build_index(out_dir, in_dir, parts, settings.heldout_fraction, settings.group != "none")
    windows = plan_windows(index, settings.group != "none")
    spool = _spool(layout.stage(STAGE) / SPOOL_FOLDER, [ref.path(in_dir) for ref in parts], index, windows)
    try:
        with _out_of_gc_sight():
            folders = _write_folders(out_dir, layout, index, windows, spool, settings)
    finally:
        spool.remove()
    write_card(layout.stage(STAGE), {qt: {"samples": entry["samples"], "bytes": entry["bytes"]}
                                     for qt, entry in folders.items()})
    manifest = {
        "stage": STAGE,
        "input": settings.input,
        "input_manifest_sha256": hashlib.sha256((in_dir / MANIFEST_NAME).read_bytes()).hexdigest(),
        "folders": {qt: {"samples": entry["samples"], "qa_pairs": entry["qa_pairs"], "shards": entry["shards"]}
                    for qt, entry in folders.items()},
        "dropped_fields": list(DROPPED_FIELDS),
        "settings": asdict(settings),
    }
    atomic_write_json(layout.manifest(STAGE), manifest)
    return {**manifest, "this_run": {qt: {k: entry[k] for k in ("written", "reused")} for qt, entry in folders.items()}}


def summary_table(result: dict[str, Any]) -> str:
    rows = [
        [qt, entry["samples"], entry["qa_pairs"], entry["shards"], result["this_run"][qt]["written"],
         result["this_run"][qt]["reused"]]
        for qt, entry in result["folders"].items()
    ]
    title = f"shards: from {result['input']}/ into shards/open, shards/mcq and shards/heldout"
    return format_table(["folder", "samples", "QA pairs", "shards", "written", "reused"], rows, title=title)


def run(cfg: DictConfig) -> Any:
    """The stage function (registered in data_gen.pipeline.registry)."""

    settings = settings_from(ShardsSettings, cfg.get(STAGE) or {})
    result = run_shards(Path(str(cfg.out_dir)), settings)
    return StageResult(manifest=result, summary=summary_table(result))
