"""Stage 1, `entities`: the queries, selection rules and output records (driver: entities_stage.py).

Per country:
1. **candidates**: items tied to the country by each link path of the catalogue (P17 country,
   P495 country of origin, P131 located in, P27 citizenship, P2596 culture), that have an image
   (P18), best sitelinks first, `candidates_per_link` each;
2. **facts**: every catalogue property (plus P31 and P18) of the candidates, `VALUES` batches of
   `facts_batch_size` items: one query per batch, never one per item;
3. **selection**: items with at least `min_properties` non-trivial catalogue properties and no
   denied class (`registries/class_filter.json`, `data_gen/wikidata/class_filter.py`), ranked by
   regional significance in popularity strata (`data_gen/entities/significance.py`; `ranking=global`:
   by total sitelinks), capped per country and per class. An item counts against its *primary
   class*, the P31 value most common among the country's candidates (ties: lower QID), so the
   dominant class (say "human" or "church building") cannot swamp a country.
The catalogue is the `cultural` profile by default (`entities.properties`, see
`data_gen/wikidata/properties.py`). Images: up to `max_images` (1–3) per entity, P18 values first,
then the entity's other image properties in `image_properties` order (interior, night view, aerial…).
Then, for all countries at once (fewer queries: batches mix countries, sorted so each batch is
mostly one country), labels, descriptions and aliases of the selected items in their country's
languages plus English, and labels of every value item, in `label_batch_size` batches.

Labels use `rdfs:label` + `FILTER(LANG())`, never the WDQS label service, so the same text runs on
any endpoint. Languages are Pangea codes in the output (`iw`, `no`), mapped from Wikidata tags
(`he`, `nb`; `zh-hans` counts for `zh` when plain `zh` is missing). Truthy (`wdt:`) values only:
quantities lose their unit and times their precision; templates must phrase answers accordingly.
Monolingual facts (official name, native label…) keep their language as a Pangea code, or `mul`.
Sitelinks are read with `entities.sitelinks_path`: `wikibase:sitelinks` on WDQS and the sample,
`^schema:about/wikibase:sitelinks` on endpoints loaded from the raw RDF dumps (QLever).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from data_gen.common.progress import progress
from data_gen.entities.significance import RANKINGS, LongTailReport, long_tail_report, rank
from data_gen.wikidata.class_filter import default_denied_classes, is_denied
from data_gen.wikidata.client import SparqlClient
from data_gen.wikidata.identifiers import (
    PREFIXES,
    WD,
    WDT,
    check_path,
    check_pid,
    check_qid,
    lang_list,
    qid_number,
    values_clause,
)
from data_gen.wikidata.properties import PROFILES, Catalogue
from data_gen.wikidata.regions import Country, Regions

FILE_PATH_PREFIXES = (
    "http://commons.wikimedia.org/wiki/Special:FilePath/",
    "https://commons.wikimedia.org/wiki/Special:FilePath/",
)
XSD_DATETIME = "http://www.w3.org/2001/XMLSchema#dateTime"
# WDQS (and the sample) put the sitelink count on the item; the raw RDF dumps (QLever, an Oxigraph
# loaded from the dumps) keep it on the item's data node, `data:Q1 schema:about wd:Q1`.
SITELINKS_PATHS = ("wikibase:sitelinks", "^schema:about/wikibase:sitelinks")
# P18 first, then other image properties of an entity, in this order: image of interior, nighttime
# view, aerial view, panoramic view, winter view, collage image.
IMAGE_PROPERTIES = ("P18", "P5775", "P3451", "P8592", "P4291", "P5252", "P2716")
MAX_IMAGES_PER_ENTITY = 3  # the paper: 1–3 images per entity


@dataclass(frozen=True)
class EntitySettings:
    """The `entities:` block of configs/data_gen.yaml."""

    links: tuple[str, ...] = ("P17", "P495", "P131", "P27", "P2596")
    candidates_per_link: int = 3000
    max_per_country: int = 1000
    max_per_class: int = 150
    min_properties: int = 1
    trivial_properties: tuple[str, ...] = ("P17", "P27", "P495", "P31")
    facts_batch_size: int = 200
    label_batch_size: int = 500
    max_images: int = 3
    sitelinks_path: str = "wikibase:sitelinks"
    properties: str = "cultural"
    ranking: str = "regional"
    popularity_bands: int = 4
    deny_classes: tuple[str, ...] | None = None  # None: registries/class_filter.json; () keeps every class
    allow_classes: tuple[str, ...] = ()
    image_properties: tuple[str, ...] = IMAGE_PROPERTIES
    write_every: int = 100_000  # label and write countries in groups of about this many selected entities

    def __post_init__(self) -> None:
        for pid in (*self.links, *self.trivial_properties, *self.image_properties):
            check_pid(pid)
        for qid in (*(self.deny_classes or ()), *self.allow_classes):
            check_qid(qid)
        if self.properties not in PROFILES:
            raise ValueError(f"entities.properties must be one of {PROFILES}, got {self.properties!r}")
        if self.ranking not in RANKINGS:
            raise ValueError(f"entities.ranking must be one of {RANKINGS}, got {self.ranking!r}")
        if not self.image_properties or self.image_properties[0] != "P18":
            raise ValueError("entities.image_properties must start with P18 (candidates are items with a P18 image)")
        if not 1 <= self.max_images <= MAX_IMAGES_PER_ENTITY:
            raise ValueError(f"entities.max_images must be 1–{MAX_IMAGES_PER_ENTITY} (the paper's images per entity)")
        if self.popularity_bands < 1 or self.write_every < 1:
            raise ValueError("entities.popularity_bands and entities.write_every must be at least 1")
        if self.sitelinks_path not in SITELINKS_PATHS:
            raise ValueError(f"entities.sitelinks_path must be one of {SITELINKS_PATHS}, got {self.sitelinks_path!r}")
        numbers = (self.candidates_per_link, self.max_per_country, self.max_per_class, self.facts_batch_size)
        if min(*numbers, self.label_batch_size, self.max_images) < 1 or self.min_properties < 0:
            raise ValueError("entities: limits and batch sizes must be positive")


@dataclass
class Candidate:
    qid: str
    sitelinks: int = 0
    local_sitelinks: int = 0
    links: set[str] = field(default_factory=set)
    facts: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    @property
    def classes(self) -> list[str]:
        return sorted({term_qid(term) for pid, term in self.facts if pid == "P31"} - {None}, key=qid_number)

    def image_files(self, image_properties: Sequence[str] = ("P18",)) -> list[str]:
        """Commons files of the image properties in their order (each property's files sorted), no repeats."""
        files: dict[str, None] = {}
        for image_pid in image_properties:
            names = {name for pid, term in self.facts if pid == image_pid and (name := commons_file_name(term))}
            files.update(dict.fromkeys(sorted(names)))
        return list(files)

    @property
    def images(self) -> list[str]:
        return self.image_files()


def term_qid(term: dict[str, str]) -> str | None:
    if term.get("type") != "uri" or not term["value"].startswith(WD):
        return None
    tail = term["value"][len(WD):]
    return tail if tail[:1] == "Q" and tail[1:].isdigit() else None


def commons_file_name(term: dict[str, str]) -> str | None:
    """`…/Special:FilePath/Tour%20Eiffel.jpg` → `Tour Eiffel.jpg` (None for other values)."""
    value = term.get("value", "")
    for prefix in FILE_PATH_PREFIXES:
        if term.get("type") == "uri" and value.startswith(prefix):
            return unquote(value[len(prefix):]).replace("_", " ")
    return None


# ---------------------------------------------------------------- query text


def candidate_query(
    country: Country, link_path: str, limit: int, sitelinks_path: str = SITELINKS_PATHS[0]
) -> str:
    """Items tied to `country` by `link_path` that have an image, best sitelinks first."""
    if sitelinks_path not in SITELINKS_PATHS:
        raise ValueError(f"unsupported sitelinks path {sitelinks_path!r}")
    return PREFIXES + f"""SELECT DISTINCT ?item ?sitelinks WHERE {{
  ?item {check_path(link_path)} wd:{check_qid(country.qid)} .
  FILTER EXISTS {{ ?item wdt:P18 ?image }}
  OPTIONAL {{ ?item {sitelinks_path} ?sitelinks }}
}} ORDER BY DESC(?sitelinks) ?item LIMIT {int(limit)}"""


def facts_query(qids: Sequence[str], pids: Sequence[str]) -> str:
    """Every truthy value of the given properties for a batch of items.

    The properties are a `FILTER(?p IN …)`, not a second `VALUES` block: Oxigraph 0.5 plans two
    `VALUES` joined on one triple pattern as a scan past ~130 items (200 items × 139 properties:
    10 s, against 0.07 s with the filter on the 100k synthetic store; `benchmarks/scale.py --facts-plan`).
    """
    properties = ", ".join(f"wdt:{check_pid(pid)}" for pid in pids)
    return PREFIXES + f"""SELECT ?item ?p ?value WHERE {{
  {values_clause("item", list(qids))}
  ?item ?p ?value .
  FILTER(?p IN ({properties}))
}}"""


def texts_query(qids: Sequence[str], languages: Sequence[str]) -> str:
    """Labels, descriptions and aliases of a batch of items in the given (Wikidata) languages."""
    return PREFIXES + f"""SELECT ?item ?kind ?text WHERE {{
  {values_clause("item", list(qids))}
  {{ ?item rdfs:label ?text . BIND("label" AS ?kind) }}
  UNION {{ ?item schema:description ?text . BIND("description" AS ?kind) }}
  UNION {{ ?item skos:altLabel ?text . BIND("alias" AS ?kind) }}
  FILTER(LANG(?text) IN ({lang_list(list(languages))}))
}}"""


def labels_query(qids: Sequence[str], languages: Sequence[str]) -> str:
    """Labels only (for value items), in the given (Wikidata) languages."""
    return PREFIXES + f"""SELECT ?item ?text WHERE {{
  {values_clause("item", list(qids))}
  ?item rdfs:label ?text .
  FILTER(LANG(?text) IN ({lang_list(list(languages))}))
}}"""


def batched(items: Sequence[Any], size: int) -> Iterable[list[Any]]:
    for start in range(0, len(items), size):
        yield list(items[start:start + size])


# ---------------------------------------------------------------- fetching


def collect_candidates(
    client: SparqlClient, country: Country, catalogue: Catalogue, settings: EntitySettings
) -> dict[str, Candidate]:
    """Candidates of one country over every configured link, merged by QID."""
    candidates: dict[str, Candidate] = {}
    for pid in settings.links:
        link = catalogue.link(pid)
        query = candidate_query(country, link.path, settings.candidates_per_link, settings.sitelinks_path)
        for row in client.select(query):
            qid = term_qid(row.get("item", {}))
            if qid is None or qid == country.qid:
                continue
            candidate = candidates.setdefault(qid, Candidate(qid))
            candidate.links.add(pid)
            candidate.sitelinks = max(candidate.sitelinks, _count(row.get("sitelinks", {}).get("value")))
    return candidates


def _count(value: object) -> int:
    """A non-negative integer literal, 0 for anything else (absent, blank node, garbage)."""
    try:
        return max(0, int(float(str(value))))
    except (TypeError, ValueError, OverflowError):
        return 0


def fetch_facts(
    client: SparqlClient, candidates: dict[str, Candidate], catalogue: Catalogue, settings: EntitySettings
) -> None:
    """Fill `Candidate.facts` with (pid, term) pairs, batch by batch."""
    pids = sorted({*catalogue.pids, "P31", *settings.image_properties}, key=lambda pid: int(pid[1:]))
    qids = sorted(candidates, key=qid_number)
    for batch in batched(qids, settings.facts_batch_size):
        for row in client.select(facts_query(batch, pids)):
            qid = term_qid(row.get("item", {}))
            prop = row.get("p", {}).get("value", "")
            if qid in candidates and prop.startswith(WDT) and "value" in row:
                candidates[qid].facts.append((prop[len(WDT):], row["value"]))


def fetch_texts(
    client: SparqlClient,
    wanted: list[tuple[str, tuple[str, ...]]],
    batch_size: int,
    with_descriptions: bool,
    show_progress: bool = False,
) -> dict[str, dict[str, dict[str, list[str]]]]:
    """Texts of items: `{qid: {kind: {wikidata_lang: [texts]}}}`; `wanted` is (qid, wikidata langs)."""
    found: dict[str, dict[str, dict[str, list[str]]]] = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    desc = "entities: labels" if with_descriptions else "entities: value labels"
    batches = list(batched(wanted, batch_size))
    for batch in progress(batches, desc=desc, unit="query", enabled=show_progress):
        qids = [qid for qid, _ in batch]
        languages = sorted({lang for _, langs in batch for lang in langs})
        query = texts_query(qids, languages) if with_descriptions else labels_query(qids, languages)
        for row in client.select(query):
            qid = term_qid(row.get("item", {}))
            text = row.get("text", {})
            kind = row.get("kind", {}).get("value", "label")
            if qid and text.get("xml:lang"):
                found[qid][kind][text["xml:lang"]].append(text["value"])
    return found


# ---------------------------------------------------------------- selection


def _counted_properties(candidate: Candidate, catalogue: Catalogue, trivial: set[str]) -> set[str]:
    catalogue_pids = set(catalogue.pids)
    return {pid for pid, _ in candidate.facts if pid in catalogue_pids and pid not in trivial}


def denied_class_set(settings: EntitySettings) -> frozenset[str]:
    if settings.deny_classes is None:
        return frozenset(entry.qid for entry in default_denied_classes())
    return frozenset(settings.deny_classes)


def eligible_candidates(
    candidates: dict[str, Candidate], catalogue: Catalogue, settings: EntitySettings
) -> tuple[list[Candidate], Counter]:
    """Candidates with an image, no denied class and enough catalogue properties; why others were dropped."""
    dropped: Counter = Counter()
    trivial = set(settings.trivial_properties)
    deny, allow = denied_class_set(settings), frozenset(settings.allow_classes)
    eligible = []
    for candidate in candidates.values():
        if not candidate.images:
            dropped["no_image"] += 1
        elif is_denied(candidate.classes, deny, allow):
            dropped["denied_class"] += 1
        elif len(_counted_properties(candidate, catalogue, trivial)) < settings.min_properties:
            dropped["too_few_properties"] += 1
        else:
            eligible.append(candidate)
    return eligible, dropped


@dataclass
class Selection:
    """One country's selection: the kept items in rank order, drop reasons, bands and the long-tail report."""

    selected: list[Candidate]
    dropped: Counter
    bands: dict[str, int]
    long_tail: LongTailReport


def select_entities(eligible: list[Candidate], dropped: Counter, settings: EntitySettings) -> Selection:
    """Rank and cap one country's eligible candidates (`eligible_candidates`; `local_sitelinks` already
    set for regional ranking); `dropped` holds the filter's reasons and gets the caps' added."""
    class_frequency = Counter(cls for candidate in eligible for cls in candidate.classes)

    def capped(ordered: list[Candidate], counts: Counter | None = None) -> list[Candidate]:
        per_class: Counter = Counter()
        kept: list[Candidate] = []
        for candidate in ordered:
            primary = primary_class(candidate.classes, class_frequency)
            if len(kept) >= settings.max_per_country:
                reason = "country_cap"
            elif per_class[primary] >= settings.max_per_class:
                reason = "class_cap"
            else:
                per_class[primary] += 1
                kept.append(candidate)
                continue
            if counts is not None:
                counts[reason] += 1
        return kept

    ordered, bands = rank(eligible, settings.ranking, settings.popularity_bands)
    selected = capped(ordered, dropped)
    return Selection(selected, dropped, bands, long_tail_report(eligible, selected, capped))


def primary_class(classes: Sequence[str], class_frequency: Counter) -> str:
    """Of an item's P31 values, the one most common in its country (ties: lower QID); "" if none."""
    if not classes:
        return ""
    return min(classes, key=lambda cls: (-class_frequency[cls], qid_number(cls)))


# ---------------------------------------------------------------- records


class LanguagePicker:
    """Maps Wikidata language tags back to Pangea codes with the registry's preference order."""

    def __init__(self, regions: Regions) -> None:
        self.regions = regions

    def wikidata_codes(self, pangea_codes: Iterable[str]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(code for lang in pangea_codes for code in self.regions.wikidata_languages(lang)))

    def pick(self, by_lang: dict[str, list[str]], pangea_codes: Iterable[str]) -> dict[str, list[str]]:
        """`{pangea_code: texts}` taking, per Pangea code, the first Wikidata code that has texts."""
        chosen: dict[str, list[str]] = {}
        for lang in pangea_codes:
            for code in self.regions.wikidata_languages(lang):
                if by_lang.get(code):
                    chosen[lang] = sorted(set(by_lang[code]))
                    break
        return chosen


def _fact_record(
    pid: str, term: dict[str, str], kind: str, value_labels: dict[str, dict[str, str]], languages: set, picker: Any
) -> dict[str, Any] | None:
    """One fact as written to the output, or None for values the templates cannot use."""
    if kind == "item":
        qid = term_qid(term)
        if qid is None:
            return None
        labels = {lang: text for lang, text in value_labels.get(qid, {}).items() if lang in languages}
        return {"property": pid, "type": kind, "value": qid, "labels": labels}
    if term.get("type") != "literal":
        return None  # unknown/blank values
    if kind == "monolingual":
        return _monolingual(pid, term, languages, picker)
    if kind == "time" and term.get("datatype") not in (None, XSD_DATETIME):
        return None
    return {"property": pid, "type": kind, "value": term["value"]}


def _monolingual(pid: str, term: dict[str, str], languages: set, picker: Any) -> dict[str, Any] | None:
    tag = term.get("xml:lang", "")
    lang = "mul" if tag == "mul" else picker.regions.pangea_language(tag)
    if lang is None or (lang != "mul" and lang not in languages):
        return None
    return {"property": pid, "type": "monolingual", "value": term["value"], "lang": lang}


def build_record(
    candidate: Candidate,
    rank: int,
    country: Country,
    catalogue: Catalogue,
    texts: dict[str, dict[str, list[str]]],
    value_labels: dict[str, dict[str, str]],
    picker: LanguagePicker,
    settings: EntitySettings,
    band: int | None = None,
) -> dict[str, Any]:
    """One output line for one selected item (languages as Pangea codes)."""
    languages = country.label_languages(picker.regions.always_include)
    types = {prop.pid: prop.answer_type for prop in catalogue.properties}
    facts = []
    for pid, term in candidate.facts:
        if pid in types:
            record = _fact_record(pid, term, types[pid], value_labels, set(languages), picker)
            if record is not None:
                facts.append(record)
    facts = sorted({_freeze(f): f for f in facts}.values(), key=lambda f: (int(f["property"][1:]), str(f["value"])))
    labels = picker.pick(texts.get("label", {}), languages)
    descriptions = picker.pick(texts.get("description", {}), languages)
    return {
        "qid": candidate.qid,
        "country": country.code,
        "rank": rank,
        "sitelinks": candidate.sitelinks,
        "local_sitelinks": candidate.local_sitelinks,
        "popularity_stratum": band,  # 0 = the least popular stratum of the country's candidates (significance.py)
        "links": sorted(candidate.links, key=lambda pid: int(pid[1:])),
        "classes": candidate.classes,
        "labels": {lang: values[0] for lang, values in labels.items()},
        "descriptions": {lang: values[0] for lang, values in descriptions.items()},
        "aliases": picker.pick(texts.get("alias", {}), languages),
        "images": candidate.image_files(settings.image_properties)[: settings.max_images],
        "facts": facts,
    }


def _freeze(fact: dict[str, Any]) -> tuple:
    return (fact["property"], fact["type"], fact["value"], fact.get("lang"))
