"""`stage=qa`: template QA records per country, as chunked resumable parts (data_gen/common/parts.py).

Input: `entities/<CC>.jsonl` (+ its manifest) and `images/<CC>.jsonl` (+ manifest); only images with
`status == "ok"` whose file exists are used. Output: `qa/<CC>/part-NNNNN.jsonl` with stats
sidecars, then `qa/manifest.json` once every country of the entities stage has all its parts.

Distractor pools span every country the entities stage wrote, whatever `countries=` selects, so a
country generated alone (a SLURM array task, a resume) gets exactly the records a full run gives it.

Resume: a country's last part says so in its stats (`"last": true`); a country whose parts
0..last all exist is skipped without work. Otherwise its stream is regenerated (cheap and
deterministic) and only missing parts are written. The skip counts of the stream are attributed to
the part being filled when they occur, so per-part stats are identical on every run.

A resume must be the same computation: `qa/settings.json` fingerprints the settings, the entity and
image records and the template files; a re-run with any of them changed is refused with the
differing keys named (remove `qa/` to regenerate), never mixing parts made two ways.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path, PurePosixPath
from typing import Any

from omegaconf import DictConfig

from data_gen.common.errors import DataGenError
from data_gen.common.jsonl import iter_jsonl
from data_gen.common.layout import Layout
from data_gen.common.parts import (
    PartRef,
    StageIOError,
    check_fingerprint,
    list_parts,
    read_stats,
    require_complete,
    write_part,
    write_stage_manifest,
)
from data_gen.common.progress import format_table, progress
from data_gen.common.settings import config_dict, progress_enabled, settings_from
from data_gen.common.stage_result import StageResult
from data_gen.qa.generate import DistractorPools, ImageRef, QAGenerator, QASettings, Record
from data_gen.qa.question_templates import LanguageTemplates, load_language, template_path
from data_gen.wikidata.config import explicit_countries
from data_gen.wikidata.properties import load_catalogue
from data_gen.wikidata.regions import load_regions
from shard_contract.atomic import remove_temp_files

STAGE = "qa"
IMAGE_PROVENANCE_FIELDS = ("file", "url", "author", "license", "placeholder")


def read_image_refs(out_dir: Path, country: str, counts: Counter | None = None) -> dict[str, list[ImageRef]]:
    """Usable images per QID (status ok, safe relative path, file present), in image-index order."""
    path = Layout(Path(out_dir)).image_records(country)
    if not path.exists():
        raise DataGenError(f"{path} is missing: run stage=images for {country} first")
    found: dict[str, list[tuple[int, ImageRef]]] = {}
    for line in iter_jsonl(path):
        row, number = line.record, line.number
        try:
            status, qid, relative = row["status"], row["qid"], row.get("path")  # type: ignore[index,union-attr]
        except KeyError as error:
            raise DataGenError(f"{path}:{number}: not an image record (no {error})") from None
        if status != "ok":
            continue
        if not isinstance(relative, str) or PurePosixPath(relative).is_absolute() or ".." in relative.split("/"):
            raise DataGenError(f"{path}:{number}: image path {relative!r} must be relative to out_dir")
        if not (Path(out_dir) / relative).is_file():
            if counts is not None:
                counts["image:file_missing"] += 1
            continue
        provenance = {name: row.get(name) for name in IMAGE_PROVENANCE_FIELDS}  # type: ignore[union-attr]
        provenance["placeholder"] = bool(provenance["placeholder"])
        found.setdefault(qid, []).append((int(row.get("index", 0)), ImageRef(relative, provenance)))  # type: ignore[union-attr]
    return {qid: [ref for _, ref in sorted(refs, key=lambda item: item[0])] for qid, refs in found.items()}


def country_complete(stage_dir: Path, country: str) -> bool:
    """True when the country's parts 0..last exist and the last one's stats say it is the last."""
    indices = {ref.index for ref in list_parts(stage_dir) if ref.country == country}
    for index in sorted(indices, reverse=True):
        try:
            stats = read_stats(stage_dir, PartRef(country, index))
        except StageIOError:
            return False
        if stats.get("last"):
            return indices >= set(range(index + 1))
    return False


def _part_stats(records: int, counts: Counter, last: bool) -> dict[str, Any]:
    skipped = sum(value for key, value in counts.items() if key.startswith(("pair:", "mcq:")))
    return {
        "records_in": records + skipped,
        "records_out": records,
        "reasons": dict(sorted(counts.items())),
        "last": last,
    }


def write_country_parts(
    stage_dir: Path, country: str, records: Iterable[Record], counts: Counter, chunk_size: int
) -> int:
    """Cut the stream into parts and write the missing ones; return how many parts were written."""
    written, index, chunk = 0, 0, []
    seen = Counter()

    def flush(last: bool) -> None:
        nonlocal written, index, seen
        ref = PartRef(country, index)
        delta = counts - seen
        seen = Counter(counts)
        if not ref.path(stage_dir).exists():
            write_part(stage_dir, ref, chunk, _part_stats(len(chunk), delta, last))
            written += 1
        index += 1

    for record in records:
        if len(chunk) == chunk_size:
            flush(last=False)
            chunk = []
        chunk.append(record)
    flush(last=True)
    return written


def _digest(paths: Iterable[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.name.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def fingerprint(out_dir: Path, settings: QASettings, languages: Iterable[str]) -> dict[str, Any]:
    """What a qa/ folder was made from: settings, input records, templates (JSON-normalised)."""
    return {
        "settings": json.loads(json.dumps(asdict(settings))),
        "entities_sha256": _digest(Layout(out_dir).country_record_files("entities")),
        "images_sha256": _digest(Layout(out_dir).country_record_files("images")),
        "templates_sha256": _digest(template_path(lang) for lang in sorted(languages)),
    }


def _input_countries(out_dir: Path) -> list[str]:
    """The countries of the finished entities stage (the images stage must be finished too)."""
    layout = Layout(out_dir)
    manifest = require_complete(layout.stage("entities"), "entities")
    require_complete(layout.stage("images"), "images")
    return sorted(manifest.get("countries", {}))


def country_entities(out_dir: Path, code: str) -> Iterator[dict[str, Any]]:
    """One country's entity records, streamed from its file when iterated (one record in memory at a
    time: at 1M entities the largest country's records alone would be over a GiB)."""
    try:
        for line in iter_jsonl(Layout(out_dir).entity_records(code)):
            yield line.record  # type: ignore[misc]
    except (OSError, StageIOError) as error:
        raise DataGenError(f"entities/{code}.jsonl is unreadable ({error}): run stage=entities again") from None


def generation_order(countries: Iterable[str], language_sets: Mapping[str, Sequence[str]]) -> list[str]:
    """The countries in an order that puts those sharing a language next to each other.

    A language's option lists are built over every country's values and kept only while a country
    still to come needs them (`DistractorPools.retain`); alphabetical order would drop Tamil after
    India and build it again for Sri Lanka, Malaysia and Singapore. Greedy: next is the country
    sharing most languages with those built and still needed, then the one adding fewest new
    languages, then the code. Records do not depend on the order (each country has its own seeded
    stream and the lists are the same whenever built), only time and memory do.
    """
    remaining = sorted(countries)
    order: list[str] = []
    built: set[str] = set()
    while remaining:
        alive = built & {lang for code in remaining for lang in language_sets[code]}
        chosen = min(
            remaining,
            key=lambda code, alive=alive: (
                -len(alive.intersection(language_sets[code])),
                len(set(language_sets[code]) - alive),
                code,
            ),
        )
        remaining.remove(chosen)
        order.append(chosen)
        built |= set(language_sets[chosen])
    return order


def run_qa(
    out_dir: Path,
    settings: QASettings,
    countries: Iterable[str] | None = None,
    show_progress: bool = False,
    config: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Generate QA parts for the selected countries (all by default); return the stage summary."""
    out_dir = Path(out_dir)
    available = _input_countries(out_dir)
    if countries is None:
        selected = available
    else:
        wanted = set(countries)
        missing = sorted(wanted - set(available))
        if missing:
            raise DataGenError(f"no entities output for {', '.join(missing)}: run stage=entities for them first")
        selected = [code for code in available if code in wanted]
    regions = load_regions()
    language_sets = {code: regions.by_key(code).label_languages(regions.always_include) for code in available}
    languages = sorted({lang for langs in language_sets.values() for lang in langs})
    templates: dict[str, LanguageTemplates] = {lang: load_language(lang) for lang in languages}
    lazily = {code: country_entities(out_dir, code) for code in available}
    pools = DistractorPools(lazily, templates, settings.label_fallback)
    generator = QAGenerator(settings, templates, pools, load_catalogue().pids)
    stage_dir = Layout(out_dir).stage(STAGE)
    stage_dir.mkdir(parents=True, exist_ok=True)
    remove_temp_files(stage_dir)
    check_fingerprint(stage_dir, fingerprint(out_dir, settings, languages))
    per_country: dict[str, dict[str, Any]] = {
        code: {"parts_written": 0} for code in selected if country_complete(stage_dir, code)
    }
    order = generation_order([code for code in selected if code not in per_country], language_sets)
    for position, code in enumerate(progress(order, desc="qa", unit="country", enabled=show_progress)):
        pools.retain({lang for later in order[position:] for lang in language_sets[later]})
        counts: Counter = Counter()
        images = read_image_refs(out_dir, code, counts)
        stream = generator.country(code, language_sets[code], country_entities(out_dir, code), images, counts)
        per_country[code] = {"parts_written": write_country_parts(stage_dir, code, stream, counts, settings.chunk_size)}
    per_country = dict(sorted(per_country.items()))
    done = [code for code in available if country_complete(stage_dir, code)]
    manifest = None
    if len(done) == len(available):
        extra = {"settings": asdict(settings), "languages": language_sets, "config": dict(config or {})}
        manifest = write_stage_manifest(stage_dir, STAGE, extra)
    return {
        "countries": per_country,
        "complete": manifest is not None,
        "manifest": manifest,
        "done": len(done),
        "total": len(available),
    }


def _summary(stage_dir: Path, summary: dict[str, Any]) -> str:
    reasons: dict[str, Counter] = {}
    for ref in list_parts(stage_dir):
        reasons.setdefault(ref.country, Counter()).update(read_stats(stage_dir, ref).get("reasons", {}))
    rows = []
    for code, counts in sorted(reasons.items()):
        skipped = sum(v for k, v in counts.items() if k.startswith(("pair:", "mcq:")))
        rows.append([code, counts["entity:used"], counts["kept:open"], counts["kept:mcq"], skipped])
    table = format_table(["country", "entities", "open", "mcq", "skipped"], rows, title="qa")
    if not summary["complete"]:
        table += f"\nqa: {summary['done']} of {summary['total']} countries complete; manifest not written yet"
    return table


def run(cfg: DictConfig) -> Any:
    """The CLI entry (`python -m data_gen stage=qa out_dir=D [countries=…] [qa.seed=…]`)."""

    settings = settings_from(QASettings, cfg.get("qa") or {})
    explicit = explicit_countries(cfg)
    codes = None if explicit is None else [country.code for country in explicit]
    summary = run_qa(Path(str(cfg.out_dir)), settings, codes, progress_enabled(cfg), config_dict(cfg))
    table = _summary(Layout.of(cfg).stage(STAGE), summary)
    return StageResult(manifest=summary.get("manifest") or {}, summary=table)
