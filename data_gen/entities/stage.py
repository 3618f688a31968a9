"""Stage 1 driver: `python -m data_gen stage=entities out_dir=D [countries=FR,JP] [source=endpoint …]`.

Runs the queries of `data_gen/entities/selection.py` country by country (candidates, facts, selection), then
a label phase for the selected items and their value items, batched across countries, and writes
per country, each atomically (countries are labelled and written in groups of about
`entities.write_every` selected entities, so memory holds one group, not the whole run):

    entities/<CC>.stats.json   candidates, entities, images, dropped-by-reason, long tail (written first)
    entities/<CC>.jsonl        the records, rank order (written second: its presence means done)
    entities/manifest.json     totals over every country present + this run's SPARQL counters

The manifest is recomputed from all `<CC>.stats.json` files in the folder, so SLURM array tasks
that each run a few countries (`countries=FR,JP`) leave a manifest covering everything finished,
whichever task ends last. `long_tail` (per country, and summed in the manifest) is the effect of
regional selection: the share of selected entities at or below the median total sitelinks of the
country's eligible candidates, as selected and as ranking by total sitelinks would have selected.
A killed run leaves at most hidden temp files (removed on the next run);
re-running is cheap because every SPARQL answer is cached on disk (`cache.dir`). Nothing is written
before the first query has succeeded, so a bad endpoint or country leaves no files behind.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from data_gen.common.jsonl import read_jsonl
from data_gen.common.layout import Layout
from data_gen.common.locks import manifest_lock
from data_gen.common.progress import format_table, progress
from data_gen.common.stage_result import StageResult
from data_gen.entities.selection import (
    EntitySettings,
    LanguagePicker,
    Selection,
    build_record,
    collect_candidates,
    eligible_candidates,
    fetch_facts,
    fetch_texts,
    select_entities,
    term_qid,
)
from data_gen.entities.significance import country_wikis, fetch_local_sitelinks
from data_gen.wikidata.client import SparqlClient
from data_gen.wikidata.identifiers import qid_number
from data_gen.wikidata.properties import load_catalogue
from data_gen.wikidata.regions import Country, load_regions
from shard_contract.atomic import atomic_write_json, atomic_write_jsonl, remove_temp_files
from shard_contract.manifest import MANIFEST_NAME

STAGE = "entities"


@dataclass
class CountryResult:
    country: Country
    candidates: int
    selection: Selection

    @property
    def selected(self) -> list:
        return self.selection.selected


def _label_phase(
    client: SparqlClient, results: list[CountryResult], picker: LanguagePicker, batch_size: int, show: bool
) -> tuple[dict, dict[str, dict[str, str]]]:
    """Texts of every selected item and labels of every value item, batched across countries."""
    always = picker.regions.always_include
    wanted = [
        (candidate.qid, picker.wikidata_codes(result.country.label_languages(always)))
        for result in results
        for candidate in result.selected
    ]
    texts = fetch_texts(client, wanted, batch_size, with_descriptions=True, show_progress=show)
    value_langs: dict[str, set[str]] = defaultdict(set)
    for result in results:
        langs = result.country.label_languages(always)
        for candidate in result.selected:
            for pid, term in candidate.facts:
                qid = term_qid(term)
                if qid and pid != "P18":
                    value_langs[qid].update(langs)
    value_wanted = [
        (qid, picker.wikidata_codes(sorted(value_langs[qid]))) for qid in sorted(value_langs, key=qid_number)
    ]
    raw = fetch_texts(client, value_wanted, batch_size, with_descriptions=False, show_progress=show)
    all_langs = picker.regions.languages
    value_labels = {
        qid: {lang: values[0] for lang, values in picker.pick(raw[qid]["label"], all_langs).items()} for qid in raw
    }
    return texts, value_labels


def _country_records(
    result: CountryResult, texts: dict, value_labels: dict, picker: LanguagePicker, settings: EntitySettings
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The records of one country (items without any label in its languages dropped) and its stats."""
    catalogue = load_catalogue().profile(settings.properties)
    bands = result.selection.bands
    records = [
        build_record(
            c, rank, result.country, catalogue, texts.get(c.qid, {}), value_labels, picker, settings, bands.get(c.qid)
        )
        for rank, c in enumerate(result.selected, start=1)
    ]
    named = [record for record in records if record["labels"]]
    for rank, record in enumerate(named, start=1):
        record["rank"] = rank
    dropped = Counter(result.selection.dropped)
    if len(named) < len(records):
        dropped["no_label"] += len(records) - len(named)
    stats = {
        "candidates": result.candidates,
        "entities": len(named),
        "images": sum(len(r["images"]) for r in named),
        "dropped": dict(sorted(dropped.items())),
        "long_tail": result.selection.long_tail.as_dict(),
    }
    return named, stats


def run_entities(
    client: SparqlClient,
    countries: tuple[Country, ...] | list[Country],
    settings: EntitySettings,
    out_dir: Path,
    show_progress: bool = False,
    config: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run stage 1 and write `out_dir/entities/`; return the manifest."""
    catalogue = load_catalogue().profile(settings.properties)
    regions = load_regions()
    layout = Layout(Path(out_dir))
    folder = layout.stage(STAGE)
    remove_temp_files(folder)
    picker = LanguagePicker(regions)
    results: list[CountryResult] = []
    written: list[str] = []
    labelled = label_queries = 0

    def label_and_write() -> None:
        """Label the pending countries' entities (batched across them), write their files, free them."""
        nonlocal labelled, label_queries
        before = client.counters.queries
        texts, value_labels = _label_phase(client, results, picker, settings.label_batch_size, show_progress)
        label_queries += client.counters.queries - before
        folder.mkdir(parents=True, exist_ok=True)
        for result in results:
            records, stats = _country_records(result, texts, value_labels, picker, settings)
            atomic_write_json(folder / f"{result.country.code}.stats.json", stats)
            atomic_write_jsonl(layout.entity_records(result.country.code), records)
            written.append(result.country.code)
            labelled += len(result.selected)
        results.clear()

    for country in progress(countries, desc="entities: candidates+facts", unit="country", enabled=show_progress):
        candidates = collect_candidates(client, country, catalogue, settings)
        fetch_facts(client, candidates, catalogue, settings)
        eligible, dropped = eligible_candidates(candidates, catalogue, settings)
        if settings.ranking == "regional":
            fetch_local_sitelinks(client, eligible, country_wikis(country, regions), settings.facts_batch_size)
        results.append(CountryResult(country, len(candidates), select_entities(eligible, dropped, settings)))
        if sum(len(result.selected) for result in results) >= settings.write_every:
            label_and_write()
    if results:
        label_and_write()
    run_info = {
        "countries_this_run": written,
        "sparql": {**client.counters.as_dict(), "label_queries": label_queries},
        "labelled_entities_this_run": labelled,
    }
    return write_manifest(folder, run_info, settings, config)


def write_manifest(
    folder: Path, run_info: dict[str, Any], settings: EntitySettings, config: dict[str, Any] | None
) -> dict[str, Any]:
    """`manifest.json` from every country's stats in the folder plus what this run did.

    Under the stage's manifest lock: array tasks finishing together each see the others' countries.
    """
    with manifest_lock(folder):
        countries = {}
        for path in sorted(folder.glob("*.stats.json")):
            code = path.name.split(".")[0]
            if (folder / f"{code}.jsonl").exists():
                countries[code] = json.loads(path.read_text(encoding="utf-8"))
        manifest = {
            "stage": STAGE,
            "countries": countries,
            "total_entities": sum(entry["entities"] for entry in countries.values()),
            "total_images": sum(entry["images"] for entry in countries.values()),
            "long_tail": long_tail_totals(countries),
            "run": run_info,
            "settings": asdict(settings),
            "config": config or {},
        }
        atomic_write_json(folder / MANIFEST_NAME, manifest)
    return manifest


def long_tail_totals(countries: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Every country's selected entities below its median sitelinks: as selected vs by global ranking."""
    keys = ("selected", "at_or_below_median", "selected_by_global_ranking", "at_or_below_median_by_global_ranking")
    sums = {key: sum(entry.get("long_tail", {}).get(key, 0) for entry in countries.values()) for key in keys}

    def share(part: int, whole: int) -> float:
        return round(part / whole, 4) if whole else 0.0

    return {
        **sums,
        "at_or_below_median_share": share(sums["at_or_below_median"], sums["selected"]),
        "at_or_below_median_share_by_global_ranking": share(
            sums["at_or_below_median_by_global_ranking"], sums["selected_by_global_ranking"]
        ),
    }


def read_entities(out_dir: Path, country_code: str) -> list[dict[str, Any]]:
    """The records of one country written by this stage."""
    return read_jsonl(Layout(Path(out_dir)).entity_records(country_code))


def summary_table(manifest: dict[str, Any]) -> str:
    """Per country: candidates, entities kept, image references, and why the others were dropped."""
    reasons = sorted({reason for entry in manifest["countries"].values() for reason in entry["dropped"]})
    rows = [
        [code, entry["candidates"], entry["entities"], entry["images"], *[entry["dropped"].get(r, 0) for r in reasons]]
        for code, entry in manifest["countries"].items()
    ]
    sparql = manifest["run"]["sparql"]
    tail = manifest.get("long_tail", {})
    title = (
        f"entities: {manifest['total_entities']} entities in {len(rows)} countries; SPARQL {sparql['queries']} "
        f"queries ({sparql['cache_hits']} cached, {sparql['requests']} requests, {sparql['retries']} retries); "
        f"at or below their country's median sitelinks: {tail.get('at_or_below_median_share', 0):.0%} selected "
        f"vs {tail.get('at_or_below_median_share_by_global_ranking', 0):.0%} by global ranking"
    )
    headers = ["country", "candidates", "entities", "images", *[f"dropped:{r}" for r in reasons]]
    return format_table(headers, rows, title=title)


def run(cfg: DictConfig) -> Any:
    """The stage function (registered in data_gen.pipeline.registry)."""
    from data_gen.common.settings import config_dict, progress_enabled, settings_from
    from data_gen.wikidata.config import selected_countries, sparql_client

    settings = settings_from(EntitySettings, cfg.entities)
    countries = selected_countries(cfg)
    client = sparql_client(cfg)
    manifest = run_entities(
        client, countries, settings, Path(str(cfg.out_dir)), progress_enabled(cfg), config=config_dict(cfg)
    )
    return StageResult(manifest=manifest, summary=summary_table(manifest))
