"""Stage 2 driver: `python -m data_gen stage=images out_dir=D [countries=…] [images.origin=commons …]`.

Reads `entities/<CC>.jsonl` (the entities stage must have finished) and, per country:
1. **plan**: one item per (entity, image) in rank order; an item whose previous record is final
   (any status but `retry_statuses`, and `ok` only while its JPEG exists) is not fetched again,
   nor is a file already planned earlier in the country (it will be a `duplicate`);
2. **metadata** for the files left: author, licence and size (Commons API, batched);
3. **fetch** in a thread pool (`workers`), each file checked and stored by `images.normalize_image`
   as `images/<CC>/<qid>-<index>.jpg` (atomic write), its record appended to the journal
   `images/.<CC>.journal.jsonl`; network politeness lives in `commons.PoliteHttp`;
4. **finalize**: near-duplicates decided in rank order, `images/<CC>.jsonl` written atomically,
   the journal removed, then JPEGs of duplicates and of no record deleted.
`images/manifest.json` (counts per country and status) is rebuilt from every `<CC>.jsonl` present.

Crash safety: a `kill -9` leaves finished JPEGs, a journal whose lines are complete records (a
torn last line is cut) and perhaps hidden temp files (removed on the next run). The re-run loads
the journal, fetches only what has no final record, and finalizes; because duplicates are decided
on the full list, the files equal those of an uninterrupted run. The finalize order (write the
country file, drop the journal, then delete files) keeps every intermediate state resumable.

Origins: `commons` (network, needs `user_agent`), `placeholder` (a local folder, generated
deterministically, see placeholder_images.py) and `auto` = placeholder for `source=sample`.
The ≤ 3-per-host limit holds per process: against Commons run this stage as one job (SLURM array
tasks each get their own limit; with N tasks set `images.concurrency_per_host=1` and N ≤ 3).
Images per entity are its P18 values (1–3, `entities.max_images`); pictures from the entity's
Commons category (P373) are not fetched: they are less reliably of the entity itself.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from data_gen.common.errors import DataGenError, StageIOError
from data_gen.common.jsonl import read_jsonl
from data_gen.common.layout import Layout
from data_gen.common.locks import manifest_lock
from data_gen.common.progress import format_table, progress
from data_gen.common.stage_result import StageResult
from data_gen.images.checks import (
    STATUSES,
    ImageLimits,
    ImageRejected,
    Journal,
    image_record,
    near_duplicates,
    normalize_image,
    read_image_records,
    record_key,
)
from data_gen.images.commons_client import (
    CommonsSettings,
    CommonsSource,
    FetchFailure,
    HttpSettings,
    ImageMeta,
    PoliteHttp,
    UrlPolicy,
)
from data_gen.images.placeholders import PlaceholderSource
from shard_contract.atomic import atomic_write_bytes, atomic_write_json, atomic_write_jsonl, remove_temp_files
from shard_contract.manifest import MANIFEST_NAME

STAGE = "images"
OWN_IMAGE_NAME = re.compile(r"^Q[1-9][0-9]*-[0-9]+\.jpg$")  # PlannedImage.relative_path


@dataclass(frozen=True)
class ImageSettings:
    """The `images:` block of configs/data_gen.yaml (its `commons:` sub-block is CommonsSettings)."""

    origin: str = "auto"
    placeholder_dir: str = "placeholder_commons"
    generate_placeholders: bool = True
    width: int = 500
    max_width: int = 1280
    min_short_side: int = 336
    max_bytes: int = 25_000_000
    max_pixels: int = 60_000_000
    max_side: int = 12_000
    max_aspect: float = 6.0
    concurrency_per_host: int = 3
    workers: int = 0
    timeout_s: float = 30.0
    max_attempts: int = 4
    backoff_base_s: float = 1.0
    backoff_max_s: float = 30.0
    max_retry_after_s: float = 120.0
    phash_max_distance: int = 4
    retry_statuses: tuple[str, ...] = ("rate_limited", "unavailable")
    jpeg_quality: int = 90
    api_batch_size: int = 50

    def __post_init__(self) -> None:
        if self.origin not in ("auto", "commons", "placeholder"):
            raise ValueError(f"images.origin must be auto, commons or placeholder, got {self.origin!r}")
        unknown = set(self.retry_statuses) - set(STATUSES)
        if unknown or "ok" in self.retry_statuses:
            raise ValueError(f"images.retry_statuses must be failure statuses among {STATUSES}")
        if self.min_short_side < 1 or self.workers < 0 or not 0 <= self.phash_max_distance <= 64:
            raise ValueError("images: min_short_side ≥ 1, workers ≥ 0, 0 ≤ phash_max_distance ≤ 64 required")

    @property
    def limits(self) -> ImageLimits:
        names = {f.name for f in fields(ImageLimits)}
        return ImageLimits(**{name: getattr(self, name) for name in names})


@dataclass(frozen=True)
class PlannedImage:
    qid: str
    country: str
    index: int
    file: str

    @property
    def key(self) -> tuple[str, int, str]:
        return (self.qid, self.index, self.file)

    @property
    def relative_path(self) -> str:
        return Layout.image_file(self.country, f"{self.qid}-{self.index}.jpg")


def plan_country(out_dir: Path, country: str) -> tuple[int, list[PlannedImage]]:
    """Entities of one country and their images in rank order, from the entities stage's output."""
    path = Layout(Path(out_dir)).entity_records(country)
    if not path.exists():
        raise StageIOError(f"{path} is missing: run stage=entities for {country} first")
    entities = read_jsonl(path)
    entities.sort(key=lambda entity: int(entity["rank"]))
    planned = [
        PlannedImage(entity["qid"], country, index, str(name))
        for entity in entities
        for index, name in enumerate(entity.get("images") or [])
    ]
    return len(entities), planned


class CountryRun:
    """Fetch, store and finalize one country's images."""

    def __init__(self, out_dir: Path, country: str, source: Any, settings: ImageSettings) -> None:
        self.out_dir = Path(out_dir)
        self.country = country
        self.source = source
        self.settings = settings
        layout = Layout(self.out_dir)
        self.folder = layout.image_folder(country)
        self.final_path = layout.image_records(country)
        self.journal = Journal(layout.image_journal(country))

    def previous_records(self) -> dict[tuple[str, int, str], dict[str, Any]]:
        """Records of earlier (possibly killed) runs: the journal if one exists, else the country file."""
        if self.journal.path.exists():
            records = self.journal.load()
        elif self.final_path.exists():
            records = read_image_records(self.out_dir, self.country)
            self.journal.start(records)
        else:
            records = []
            self.journal.start(records)
        return {record_key(record): record for record in records}

    def is_final(self, record: dict[str, Any] | None) -> bool:
        if record is None or record["status"] in self.settings.retry_statuses:
            return False
        if record["status"] == "duplicate":
            return record["phash"] is not None  # a same-file duplicate that is now first needs its own fetch
        return record["status"] != "ok" or (self.out_dir / record["path"]).exists()

    def run(self, planned: list[PlannedImage], show_progress: bool) -> list[dict[str, Any]]:
        previous = self.previous_records()
        first_of_file: dict[str, PlannedImage] = {}
        todo = []
        for item in planned:
            if item.file in first_of_file:
                continue
            first_of_file[item.file] = item
            if not self.is_final(previous.get(item.key)):
                todo.append(item)
        metas = self.source.metadata(sorted({item.file for item in todo})) if todo else {}
        if todo:
            self.folder.mkdir(parents=True, exist_ok=True)
        workers = self.settings.workers or (
            min(4, os.cpu_count() or 1) if self.source.placeholder else 2 * self.settings.concurrency_per_host
        )
        with ThreadPoolExecutor(max_workers=workers) as pool:
            jobs = pool.map(lambda item: self._fetch_one(item, metas[item.file]), todo)
            for record in progress(jobs, desc=f"images {self.country}", unit="file", enabled=show_progress,
                                   total=len(todo)):
                previous[record_key(record)] = record
        return self.finalize(planned, previous, first_of_file)

    def _fetch_one(self, item: PlannedImage, meta: ImageMeta | FetchFailure) -> dict[str, Any]:
        common = {"placeholder": self.source.placeholder}
        if isinstance(meta, FetchFailure):
            record = image_record(*_ids(item), meta.status, detail=meta.detail, **common)
        else:
            common.update(url=meta.url, author=meta.author, license=meta.license, license_url=meta.license_url)
            try:
                stored = normalize_image(self.source.fetch(item.file, meta), self.settings.limits)
            except (FetchFailure, ImageRejected) as failure:
                record = image_record(*_ids(item), failure.status, detail=failure.detail, **common)
            else:
                atomic_write_bytes(self.out_dir / item.relative_path, stored.data)
                record = image_record(
                    *_ids(item), "ok", path=item.relative_path, width=stored.width, height=stored.height,
                    sha256=stored.sha256, phash=stored.phash, **common,
                )
        self.journal.append(record)
        return record

    def finalize(
        self, planned: list[PlannedImage], records: dict, first_of_file: dict[str, PlannedImage]
    ) -> list[dict[str, Any]]:
        """Duplicates in rank order, the country file, then cleanup (see the module docstring)."""
        final = []
        for item in planned:
            first = first_of_file[item.file]
            if first.key != item.key:
                final.append(image_record(*_ids(item), "duplicate", placeholder=self.source.placeholder,
                                          detail="same file as an earlier entity image",
                                          duplicate_of=f"{first.qid}#{first.index}"))
            else:
                final.append(dict(records[item.key]))
        candidates = [r["phash"] if r["status"] in ("ok", "duplicate") and r["phash"] else None for r in final]
        for position, original in enumerate(near_duplicates(candidates, self.settings.phash_max_distance)):
            self._settle(final, position, original)
        atomic_write_jsonl(self.final_path, final)
        self.journal.remove()
        keep = {self.out_dir / r["path"] for r in final if r["status"] == "ok"}
        for path in self.folder.glob("*.jpg") if self.folder.is_dir() else []:
            if path not in keep and OWN_IMAGE_NAME.match(path.name):  # never a file this stage did not write
                path.unlink()
        return final

    def _settle(self, final: list[dict[str, Any]], position: int, original: int | None) -> None:
        record = final[position]
        if record["phash"] is None or record["status"] not in ("ok", "duplicate"):
            return
        item = PlannedImage(record["qid"], record["country"], record["index"], record["file"])
        if original is not None:
            first = final[original]
            record.update(status="duplicate", path=None, detail=f"near-duplicate of {first['file']}",
                          duplicate_of=f"{first['qid']}#{first['index']}")
        elif (self.out_dir / item.relative_path).exists():
            record.update(status="ok", path=item.relative_path, detail=None, duplicate_of=None)
        else:  # was a duplicate of an image that is no longer kept; its own file is gone
            record.update(status="unavailable", path=None, detail="needs a new download (was a duplicate)",
                          duplicate_of=None)


def _ids(item: PlannedImage) -> tuple[str, str, int, str]:
    return (item.qid, item.country, item.index, item.file)


def make_source(settings: ImageSettings, commons: CommonsSettings, source: str, user_agent: str | None,
                out_dir: Path) -> Any:
    """The image origin for this run (see the module docstring)."""
    origin = settings.origin if settings.origin != "auto" else ("placeholder" if source == "sample" else "commons")
    if origin == "placeholder":
        folder = Path(settings.placeholder_dir)
        return PlaceholderSource(folder if folder.is_absolute() else out_dir / folder, settings.generate_placeholders)
    http = PoliteHttp(
        HttpSettings(
            user_agent=user_agent or "", concurrency_per_host=settings.concurrency_per_host,
            timeout_s=settings.timeout_s, max_attempts=settings.max_attempts, backoff_base_s=settings.backoff_base_s,
            backoff_max_s=settings.backoff_max_s, max_retry_after_s=settings.max_retry_after_s,
            max_bytes=settings.max_bytes,
        ),
        UrlPolicy(commons),
    )
    widths = (settings.width, settings.max_width, settings.min_short_side)
    return CommonsSource(http, commons, settings.api_batch_size, widths)


def country_counts(records: list[dict[str, Any]], entities: int) -> dict[str, Any]:
    statuses = Counter(record["status"] for record in records)
    return {"entities": entities, "files": len(records), "statuses": dict(sorted(statuses.items()))}


def write_manifest(out_dir: Path, run_info: dict[str, Any], settings: ImageSettings, config: dict | None) -> dict:
    """`images/manifest.json` from every `images/<CC>.jsonl` present plus what this run did.

    Under the stage's manifest lock: array tasks finishing together each see the others' countries.
    """
    folder = Layout(Path(out_dir)).stage(STAGE)
    with manifest_lock(folder):
        countries = {}
        for path in Layout(Path(out_dir)).country_record_files(STAGE):
            code = path.stem
            records = read_image_records(out_dir, code)
            countries[code] = country_counts(records, len({r["qid"] for r in records}))
        totals = Counter()
        for entry in countries.values():
            totals.update(entry["statuses"])
        manifest = {
            "stage": STAGE,
            "countries": countries,
            "totals": dict(sorted(totals.items())),
            "run": run_info,
            "settings": asdict(settings),
            "config": config or {},
        }
        atomic_write_json(folder / MANIFEST_NAME, manifest)
    return manifest


def run_images(
    source: Any,
    countries: list[str],
    settings: ImageSettings,
    out_dir: Path,
    show_progress: bool = False,
    config: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run stage 2 for `countries` (ISO codes); return the manifest."""
    out_dir = Path(out_dir)
    plans = {country: plan_country(out_dir, country) for country in countries}  # fail before any write
    remove_temp_files(Layout(out_dir).stage(STAGE))
    this_run = {}
    for country in countries:
        entities, planned = plans[country]
        records = CountryRun(out_dir, country, source, settings).run(planned, show_progress)
        this_run[country] = country_counts(records, entities)
    run_info = {"countries_this_run": this_run, "placeholder": bool(source.placeholder)}
    if hasattr(source, "http"):
        run_info["http"] = source.http.counters.as_dict()
    if hasattr(source, "generated"):
        run_info["placeholders_generated"] = source.generated
    return write_manifest(out_dir, run_info, settings, config)


def summary_table(manifest: dict[str, Any]) -> str:
    """Per country: entities, files, ok, and every failure status."""
    failures = [s for s in STATUSES if s != "ok" and any(s in e["statuses"] for e in manifest["countries"].values())]
    rows = [
        [code, entry["entities"], entry["files"], entry["statuses"].get("ok", 0),
         *[entry["statuses"].get(status, 0) for status in failures]]
        for code, entry in manifest["countries"].items()
    ]
    totals = manifest["totals"]
    title = f"images: {totals.get('ok', 0)} stored of {sum(totals.values())} files in {len(rows)} countries"
    if manifest["run"].get("placeholder"):
        title += " (placeholders)"
    return format_table(["country", "entities", "files", "ok", *failures], rows, title=title)


def selected_codes(cfg: DictConfig, out_dir: Path) -> list[str]:
    """ISO codes to run: the configured selection, or every country the entities stage wrote."""
    from data_gen.wikidata.config import explicit_countries

    manifest_path = Layout(out_dir).manifest("entities")
    if not manifest_path.exists():
        raise DataGenError(f"{manifest_path} is missing: run stage=entities first")
    done = set(json.loads(manifest_path.read_text(encoding="utf-8"))["countries"])
    explicit = explicit_countries(cfg)
    codes = sorted(done) if explicit is None else [country.code for country in explicit]
    missing = [code for code in codes if code not in done]
    if missing:
        folder = Layout(out_dir).stage("entities")
        raise DataGenError(f"no entities for {', '.join(missing)} in {folder}: run stage=entities first")
    return codes


def run(cfg: DictConfig) -> Any:
    """The stage function (registered in data_gen.pipeline.registry)."""
    from data_gen.common.settings import config_dict, progress_enabled, settings_from

    block = OmegaConf.to_container(cfg.images, resolve=True)
    commons = settings_from(CommonsSettings, block.pop("commons", {}))
    settings = settings_from(ImageSettings, block)
    out_dir = Path(str(cfg.out_dir))
    codes = selected_codes(cfg, out_dir)
    source = make_source(settings, commons, str(cfg.source), cfg.get("user_agent"), out_dir)
    manifest = run_images(source, codes, settings, out_dir, progress_enabled(cfg), config=config_dict(cfg))
    return StageResult(manifest=manifest, summary=summary_table(manifest))
