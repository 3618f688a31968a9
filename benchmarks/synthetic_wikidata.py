"""Synthetic Wikidata-shaped RDF at any size (N-Triples, WDQS vocabulary) for the data_gen scale run (issue 17 §4).

    python benchmarks/synthetic_wikidata.py --entities 100000 --out DIR [--seed 0] [--gzip]

writes `DIR/wikidata_<N>_s<seed>.nt` (or `.nt.gz`) and `….stats.json`, and prints triples and bytes.
Deterministic: the same N and seed give the same bytes (one seeded `random.Random`, no set or
hash-order iteration; value items use their own seeded generators so their text does not depend on
the order they are first used in).

What is in it (the vocabulary of `data_gen/wikidata/sample/sources/*.ttl`, never copied real data):
- N **entities** `wd:Q1000000xx`, spread over the registry's 42 countries by a Zipf law (exponent
  1 over a seeded permutation of the countries: the top country holds ~23 %), each of one class tag
  of the catalogue (`registries/properties.json`), with `wdt:P31` the catalogue class or a
  synthetic subclass of it (`wdt:P279`), sometimes two classes;
- **links** to the country as the catalogue's link paths find them: `P17` (2 % two countries),
  `P131` to a region whose `P17` is the country, `P495`, `P27` for people, `P2596` to a culture
  whose `P17`/`P495` is the country; ~2 % of entities link to no country at all;
- `P18` images (`http://commons.wikimedia.org/wiki/Special:FilePath/<percent-encoded name>`) on
  ~88 % of entities, 2–3 on some, a few file names shared between entities;
- 0–k other **catalogue properties** applicable to the class, k heavy-tailed (Pareto 1.3; ~12 %
  have none and are dropped by the stage as `too_few_properties`), ~15 % of them multi-valued;
  values of the property's answer type: items (regions for place properties, else a per-property
  pool of value items of size 2·√N drawn with a strong skew), `xsd:dateTime` (5 % BCE, negative
  years), `xsd:decimal`, language-tagged monolingual text, plain strings;
- `wikibase:sitelinks` heavy-tailed (P(s ≥ k) = (k+1)^-1.3: ~59 % have 0, ~90 % ≤ 5, a few in the
  hundreds) and exactly s **sitelink articles** as WDQS has them
  (`<https://xx.wikipedia.org/wiki/T> schema:about wd:Q… ; schema:isPartOf <https://xx.wikipedia.org/> ;
  schema:inLanguage "xx"`), the country's own-language wikis first (local bias), then English, then
  random other wikis among ~340;
- `rdfs:label` / `schema:description` / `skos:altLabel` in the country's Wikidata languages plus
  English, coverage uneven (Chinese as `zh`, `zh-hans` or `zh-hant`; Hebrew `he`; Norwegian `nb`),
  pseudo-words from per-script alphabets (Latin with each language's diacritics, Cyrillic, Greek,
  Arabic, Hebrew, Devanagari, Bengali, Tamil, Telugu, Sinhala, Thai, Ethiopic, Javanese, Hangul,
  Han, kana), some labels in unrelated languages;
- **value items** (classes, subclasses, regions, cultures, pool values) with labels; the 42
  country items (no image) with labels and sitelinks.

The traps (each forced on the first entities, so every run of ≥ 12 entities has all of them, then
at a low random rate):
- non-cultural classes mixed into `P31`: international airport Q644371, airport Q1248784,
  business Q4830453, railway station Q55488;
- facts that point back to the item (`P361`/`P138` = itself) and a city `P131`-located in a region
  with the city's own name whose `P131` is the city again (a cycle);
- labels with line breaks, tabs, carriage returns and other control characters, zero-width and
  bidi marks, and 300-character labels;
- BCE dates (`"-0500-01-01T00:00:00Z"^^xsd:dateTime`) and multi-valued properties.
"""

from __future__ import annotations

import argparse
import bisect
import gzip
import io
import json
import math
import random
import sys
import time
import unicodedata
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # before benchmarks/ (which holds a data_gen.py of its own)

from data_gen.wikidata.properties import load_catalogue  # noqa: E402
from data_gen.wikidata.regions import load_regions  # noqa: E402

WD = "http://www.wikidata.org/entity/"
WDT = "http://www.wikidata.org/prop/direct/"
RDFS_LABEL = "<http://www.w3.org/2000/01/rdf-schema#label>"
DESCRIPTION = "<http://schema.org/description>"
ALT_LABEL = "<http://www.w3.org/2004/02/skos/core#altLabel>"
SITELINKS = "<http://wikiba.se/ontology#sitelinks>"
ABOUT = "<http://schema.org/about>"
IS_PART_OF = "<http://schema.org/isPartOf>"
IN_LANGUAGE = "<http://schema.org/inLanguage>"
XSD = "http://www.w3.org/2001/XMLSchema#"
FILE_PATH = "http://commons.wikimedia.org/wiki/Special:FilePath/"

# Non-cultural classes that real Wikidata mixes into any country's items with images.
TRAP_CLASSES = {"Q644371": "international airport", "Q1248784": "airport", "Q4830453": "business",
                "Q55488": "railway station"}  # fmt: skip
COUNTRY_CLASS, REGION_CLASS, CULTURE_CLASS = "Q6256", "Q10864048", "Q2198779"

# QID ranges of the synthetic items (9 digits: far above the real QIDs the registries name).
ENTITY_BASE, VALUE_BASE, REGION_BASE, SUBCLASS_BASE, CULTURE_BASE = (10**8, 2 * 10**8, 3 * 10**8, 4 * 10**8, 5 * 10**8)
# Class tags with rough shares of items with images per country (people and buildings dominate).
TAG_WEIGHTS = {
    "person": 22, "building": 12, "settlement": 8, "artwork": 8, "creative_work": 7, "structure": 6,
    "organization": 5, "landform": 5, "place": 3, "body_of_water": 3, "heritage_site": 3, "taxon": 3,
    "event": 3, "dish": 3, "food": 2, "festival": 2, "sports_club": 2, "musical_instrument": 1,
    "clothing": 1, "tradition": 1,
}  # fmt: skip
# Item properties whose values are places: drawn from the country's regions, not from a pool.
PLACE_PROPERTIES = {"P276", "P19", "P20", "P119", "P159", "P740", "P1071", "P840", "P1001", "P36", "P1376"}
LINK_PROPERTIES = {"P17", "P131", "P495", "P27", "P2596", "P31", "P18"}
ORIGIN_TAGS = {"food", "dish", "creative_work", "artwork", "tradition", "clothing", "musical_instrument"}
CULTURE_TAGS = {"artwork", "structure", "heritage_site", "clothing", "musical_instrument"}
PLACE_TAGS = {"place", "building", "structure", "heritage_site", "settlement", "landform", "body_of_water"}
LABEL_TRAPS = (
    "line\nbreak", "carriage\r\nreturn", "tab\there", "bell\x07char", "escape\x1b[0m", "zero\u200bwidth",
    "bidi\u202emark", "nul-adjacent\x01\x02", 'back\\slash "quoted"', "LONG",
)  # fmt: skip


# ---------------------------------------------------------------- scripts and pseudo-words


def _chars(*ranges: tuple[int, int], categories: tuple[str, ...] = ("Lo", "Ll")) -> str:
    """Code points of long-assigned ranges, kept by Unicode category (stable across Python versions)."""
    points = (chr(c) for lo, hi in ranges for c in range(lo, hi + 1))
    return "".join(ch for ch in points if unicodedata.category(ch) in categories)


MARKS = ("Mn", "Mc")
# script → (base letters, vowel signs or vowels, kind): kind "alpha" alternates consonant/vowel,
# "abugida" puts an optional vowel sign after each consonant, "syllabic" strings syllables.
SCRIPTS: dict[str, tuple[str, str, str]] = {
    "Latin": ("bcdfghjklmnprstvwz", "aeiouy", "alpha"),
    "Cyrillic": ("бвгджзклмнпрстфхцчшщ", "аеиоуыэюя", "alpha"),
    "Greek": ("βγδζθκλμνξπρστφχψ", "αεηιουωάέίόύ", "alpha"),
    "Arabic": ("بتثجحخدذرزسشصضطظعغفقكلمنهي", "اوي", "alpha"),
    "Hebrew": ("בגדהזחטכלמנסעפצקרשת", "אויה", "alpha"),
    "Devanagari": (_chars((0x0915, 0x0939)), _chars((0x093E, 0x094C), categories=MARKS), "abugida"),
    "Bengali": (_chars((0x0995, 0x09B9)), _chars((0x09BE, 0x09CC), categories=MARKS), "abugida"),
    "Tamil": (_chars((0x0B95, 0x0BB9)), _chars((0x0BBE, 0x0BCC), categories=MARKS), "abugida"),
    "Telugu": (_chars((0x0C15, 0x0C39)), _chars((0x0C3E, 0x0C4C), categories=MARKS), "abugida"),
    "Sinhala": (_chars((0x0D9A, 0x0DC6)), _chars((0x0DCF, 0x0DDF), categories=MARKS), "abugida"),
    "Thai": (_chars((0x0E01, 0x0E2E)), _chars((0x0E30, 0x0E39), categories=("Lo", *MARKS)), "abugida"),
    "Javanese": (_chars((0xA984, 0xA9B2)), _chars((0xA9B4, 0xA9BD), categories=MARKS), "abugida"),
    "Ethiopic": (_chars((0x1200, 0x1248), (0x1260, 0x1286), (0x12A0, 0x12AE), (0x12C8, 0x12CE)), "", "syllabic"),
    "Hangul": ("".join(chr(c) for c in range(0xAC00, 0xD7A4, 7)), "", "syllabic"),
    "Han": ("".join(chr(c) for c in range(0x4E00, 0x7000, 3)), "", "syllabic"),
    "Kana": (_chars((0x3041, 0x3093)) + _chars((0x30A1, 0x30F3)), "", "syllabic"),
}
# Extra letters per Latin-script language (its diacritics), mixed into the vowels.
LATIN_EXTRA = {
    "fr": "éèêàç", "de": "äöüß", "es": "ñáéó", "pt": "ãõçá", "it": "àèò", "pl": "łźżąęó", "cs": "čřšžě",
    "ro": "ăîșț", "tr": "çğışöü", "vi": "ăâđêôơưạảấề", "ga": "áéíóú", "nb": "æøå", "no": "æøå", "ig": "ịọụ",
    "nl": "ĳ", "id": "", "ms": "", "jv": "é", "su": "é", "sw": "", "en": "",
}  # fmt: skip
LANG_SCRIPT = {
    "ru": "Cyrillic", "uk": "Cyrillic", "bg": "Cyrillic", "mn": "Cyrillic", "el": "Greek", "ar": "Arabic",
    "fa": "Arabic", "ur": "Arabic", "he": "Hebrew", "hi": "Devanagari", "bn": "Bengali", "ta": "Tamil",
    "te": "Telugu", "si": "Sinhala", "th": "Thai", "am": "Ethiopic", "ko": "Hangul", "zh": "Han",
    "zh-hans": "Han", "zh-hant": "Han", "zh-cn": "Han", "zh-tw": "Han", "ja": "Japanese",
}  # fmt: skip
NO_SPACES = {"Han", "Japanese", "Thai"}


def script_of(lang: str, rng: random.Random) -> str:
    if lang == "jv":  # Javanese labels on Wikidata are mostly Latin; some in the Javanese script
        return "Javanese" if rng.random() < 0.3 else "Latin"
    return LANG_SCRIPT.get(lang, "Latin")


def pseudo_word(rng: random.Random, script: str, lang: str = "en") -> str:
    if script == "Japanese":
        return pseudo_word(rng, "Han") + pseudo_word(rng, "Kana") if rng.random() < 0.6 else pseudo_word(rng, "Kana")
    letters, vowels, kind = SCRIPTS[script]
    if kind == "syllabic":
        return "".join(rng.choice(letters) for _ in range(rng.randint(1, 4)))
    if kind == "abugida":
        return "".join(
            rng.choice(letters) + (rng.choice(vowels) if rng.random() < 0.6 else "") for _ in range(rng.randint(2, 4))
        )
    if script == "Latin":
        vowels += LATIN_EXTRA.get(lang, "")
    word = "".join(rng.choice(letters) + rng.choice(vowels) for _ in range(rng.randint(1, 4)))
    return word.capitalize() if script in ("Latin", "Cyrillic", "Greek") else word


def pseudo_text(rng: random.Random, lang: str, words: tuple[int, int] = (1, 3)) -> str:
    script = script_of(lang, rng)
    parts = [pseudo_word(rng, script, lang) for _ in range(rng.randint(*words))]
    return "".join(parts) if script in NO_SPACES else " ".join(parts)


def trap_label(kind: str, rng: random.Random) -> str:
    if kind == "LONG":  # 300 characters, as Wikidata allows up to 250 and dumps hold longer
        text = ""
        while len(text) < 300:
            text += pseudo_word(rng, "Latin") + " "
        return text[:300]
    return f"{pseudo_word(rng, 'Latin')} {kind}"


# ---------------------------------------------------------------- N-Triples terms

_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}


def _escape(text: str) -> str:
    out = []
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return "".join(out)


def lang_literal(text: str, lang: str) -> str:
    return f'"{_escape(text)}"@{lang}'


def typed(value: str, datatype: str) -> str:
    return f'"{value}"^^<{XSD}{datatype}>'


def item(qid: str) -> str:
    return f"<{WD}{qid}>"


def prop(pid: str) -> str:
    return f"<{WDT}{pid}>"


# ---------------------------------------------------------------- the world


@dataclass
class Stats:
    entities: int = 0
    triples: int = 0
    bytes: int = 0
    per_country: dict[str, int] = field(default_factory=dict)
    with_image: int = 0
    articles: int = 0
    value_items: int = 0
    regions: int = 0
    traps: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


@dataclass
class CountryWorld:
    code: str
    qid: str
    wikidata_langs: tuple[str, ...]  # the country's own languages as Wikidata tags, preferred first
    regions: list[str] = field(default_factory=list)
    cultures: list[str] = field(default_factory=list)


class Writer:
    """Counts triples and bytes of what goes to the sink."""

    def __init__(self, sink: BinaryIO, stats: Stats) -> None:
        self.sink = sink
        self.stats = stats
        self.lines: list[str] = []

    def add(self, subject: str, predicate: str, obj: str) -> None:
        self.lines.append(f"{subject} {predicate} {obj} .\n")

    def flush(self) -> None:
        data = "".join(self.lines).encode("utf-8")
        self.stats.triples += len(self.lines)
        self.stats.bytes += len(data)
        self.sink.write(data)
        self.lines = []


def _wikis(regions_langs: list[str]) -> tuple[list[tuple[str, str]], dict[str, tuple[str, str]]]:
    """(host code, inLanguage) of ~340 wikis: Pangea's languages first, then synthetic codes."""
    real = [("no", "nb") if lang == "nb" else (lang.split("-")[0], lang.split("-")[0]) for lang in regions_langs]
    seen = {code for code, _ in real}
    letters = "abcdefghijklmnopqrstuvwxyz"
    extra = []
    for a in letters:
        for b in letters:
            code = a + b
            if code not in seen and (ord(a) * 31 + ord(b)) % 2 == 0:
                extra.append((code, code))
    wikis = list(dict.fromkeys(real)) + extra[:300]
    return wikis, {lang: w for lang, w in zip(regions_langs, real, strict=True)}


class World:
    """Everything shared between entities: countries, classes, pools, wikis."""

    def __init__(self, entities: int, seed: int) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        regions = load_regions()
        self.catalogue = load_catalogue()
        self.always = tuple(regions.always_include)
        preferred = [regions.wikidata_languages(lang)[0] for lang in regions.languages]
        self.all_langs = preferred
        self.wikis, self.wiki_of = _wikis(preferred)
        self.wiki_of["en"] = ("en", "en")
        countries = list(regions.countries)
        order = list(range(len(countries)))
        self.rng.shuffle(order)
        self.countries = [
            CountryWorld(c.code, c.qid, tuple(regions.wikidata_languages(lang)[0] for lang in c.languages))
            for c in countries
        ]
        weights = [0.0] * len(countries)
        for rank, index in enumerate(order, start=1):
            weights[index] = 1.0 / rank
        total = sum(weights)
        self.cum_weights = list(_accumulate([w / total for w in weights]))
        for country, weight in zip(self.countries, weights, strict=True):
            expected = entities * weight / total
            count = max(3, int(math.sqrt(expected) * 1.5))
            country.regions = [f"Q{REGION_BASE + 1 + len(self.countries) * i + self.countries.index(country)}"
                               for i in range(count)]  # fmt: skip
            country.cultures = [f"Q{CULTURE_BASE + 1 + 3 * self.countries.index(country) + i}" for i in range(2)]
        self.tags = list(TAG_WEIGHTS)
        self.tag_cum = list(_accumulate([TAG_WEIGHTS[t] for t in self.tags]))
        self.classes = {tag: qid for tag, qid in self.catalogue.classes.items() if qid}
        self.subclasses = {
            tag: [f"Q{SUBCLASS_BASE + 1 + 8 * i + j}" for j in range(6)] for i, tag in enumerate(self.tags)
        }
        self.pool_size = max(8, int(2 * math.sqrt(entities)))
        item_pids = [p.pid for p in self.catalogue.properties if p.answer_type == "item"]
        self.pool_base = {pid: VALUE_BASE + 1 + i * self.pool_size for i, pid in enumerate(item_pids)}
        self.used_values: set[int] = set()
        self.applicable = {
            tag: [p for p in self.catalogue.properties
                  if p.pid not in LINK_PROPERTIES and ("any" in p.applies_to or tag in p.applies_to)]
            for tag in self.tags
        }  # fmt: skip
        self.next_region = REGION_BASE + 50_000_000  # self-named regions of the city trap

    def country(self) -> CountryWorld:
        return self.countries[bisect.bisect(self.cum_weights, self.rng.random() * self.cum_weights[-1])]

    def tag(self) -> str:
        return self.tags[bisect.bisect(self.tag_cum, self.rng.random() * self.tag_cum[-1])]


def _accumulate(values: list[float]) -> Iterator[float]:
    total = 0.0
    for value in values:
        total += value
        yield total


def sitelink_count(rng: random.Random, cap: int) -> int:
    """P(s ≥ k) = (k+1)^-1.3: ~59 % zero, ~90 % at most 5, a few hundred at the top."""
    return min(cap, int((1.0 - rng.random()) ** (-1 / 1.3)) - 1)


def write_sitelinks(w: Writer, world: World, rng: random.Random, qid: str, count: int,
                    local: tuple[str, ...], titles: dict[str, str]) -> int:  # fmt: skip
    """`wikibase:sitelinks count` and exactly `count` articles, local-language wikis first."""
    w.add(item(qid), SITELINKS, typed(str(count), "integer"))
    chosen: list[tuple[str, str]] = []
    for position, lang in enumerate(local):
        if rng.random() < (0.9 if position == 0 else 0.5):
            chosen.append(world.wiki_of[lang])
    if rng.random() < 0.8 and ("en", "en") not in chosen:
        chosen.append(("en", "en"))
    chosen = list(dict.fromkeys(chosen))[:count]
    if len(chosen) < count:
        taken = set(chosen)
        rest = [wiki for wiki in world.wikis if wiki not in taken]
        chosen += rng.sample(rest, count - len(chosen))
    base = titles.get("en") or next(iter(titles.values()), qid)
    for code, lang in chosen:
        title = titles.get(lang, base)
        title = "".join(ch if ch.isprintable() and not ch.isspace() else "_" for ch in title)[:200]
        host = f"https://{code}.wikipedia.org/"
        article = f"<{host}wiki/{quote(title, safe='()_,-.')}>"
        w.add(article, ABOUT, item(qid))
        w.add(article, IS_PART_OF, f"<{host}>")
        w.add(article, IN_LANGUAGE, f'"{lang}"')
    return count


def write_texts(w: Writer, rng: random.Random, qid: str, langs: dict[str, float], trap: str | None = None,
                descriptions: float = 0.6, aliases: float = 0.25) -> dict[str, str]:  # fmt: skip
    """Labels (each language with its probability), descriptions, aliases; returns labels by language."""
    labels: dict[str, str] = {}
    for lang, chance in langs.items():
        if rng.random() < chance:
            labels[lang] = pseudo_text(rng, lang)
    if trap and labels:
        first = next(iter(labels))
        labels[first] = trap_label(trap, rng)
    for lang, text in labels.items():
        w.add(item(qid), RDFS_LABEL, lang_literal(text, lang))
        if rng.random() < descriptions:
            w.add(item(qid), DESCRIPTION, lang_literal(pseudo_text(rng, lang, (2, 6)), lang))
        if rng.random() < aliases:
            for _ in range(rng.randint(1, 2)):
                w.add(item(qid), ALT_LABEL, lang_literal(pseudo_text(rng, lang), lang))
    return labels


def entity_langs(world: World, country: CountryWorld, rng: random.Random) -> dict[str, float]:
    langs: dict[str, float] = {}
    for position, lang in enumerate(country.wikidata_langs):
        if lang == "zh":  # Chinese labels often only as zh-hans / zh-hant
            langs[rng.choice(("zh", "zh", "zh-hans", "zh-hant"))] = 0.9 if position == 0 else 0.5
        else:
            langs[lang] = 0.9 if position == 0 else 0.5
    langs.setdefault("en", 0.93)
    if rng.random() < 0.3:  # labels in unrelated languages, as popular items have
        for lang in rng.sample(world.all_langs, rng.randint(1, 3)):
            langs.setdefault(lang, 1.0)
    return langs


# ---------------------------------------------------------------- values


def time_value(rng: random.Random, bce: bool) -> str:
    if bce:
        return typed(f"-{rng.randint(1, 3000):04d}-01-01T00:00:00Z", "dateTime")
    year = int(2025 - 1000 * rng.random() ** 2.5)
    return typed(f"{year:04d}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T00:00:00Z", "dateTime")


def quantity_value(rng: random.Random) -> str:
    amount = math.exp(rng.uniform(-1, 14)) * (-1 if rng.random() < 0.03 else 1)
    return typed(f"{amount:.{rng.randint(0, 2)}f}", "decimal")


def pool_value(world: World, rng: random.Random, pid: str) -> str:
    index = int(world.pool_size * rng.random() ** 3)  # strongly skewed: a few values are very common
    number = world.pool_base[pid] + index
    world.used_values.add(number)
    return f"Q{number}"


def item_value(world: World, rng: random.Random, pid: str, country: CountryWorld) -> str:
    if pid in PLACE_PROPERTIES:
        return item(rng.choice(country.regions))
    if pid == "P30":
        return item(rng.choice(("Q46", "Q48", "Q15", "Q18", "Q49", "Q538")))
    return item(pool_value(world, rng, pid))


def value_term(world: World, rng: random.Random, pid: str, kind: str, country: CountryWorld, bce: bool) -> str:
    """A value of the property's answer type (item, time, quantity, monolingual, string)."""
    if kind == "item":
        return item_value(world, rng, pid, country)
    if kind == "time":
        return time_value(rng, bce)
    if kind == "quantity":
        return quantity_value(rng)
    if kind == "monolingual":
        lang = "mul" if rng.random() < 0.05 else (country.wikidata_langs[0] if rng.random() < 0.8 else "en")
        return lang_literal(pseudo_text(rng, lang), lang)
    return f'"{_escape(pseudo_text(rng, "en"))}"'


# ---------------------------------------------------------------- entities

FORCED_TRAPS = (  # (kind, detail) for entity 0, 1, 2 …: every run of ≥ 12 entities has each trap
    ("class", "Q644371"), ("class", "Q1248784"), ("class", "Q4830453"), ("class", "Q55488"),
    ("self", "P361"), ("city", ""), ("label", "line\nbreak"), ("label", "LONG"), ("label", "bell\x07char"),
    ("bce", ""), ("multi", ""), ("self", "P138"),
)  # fmt: skip


def _trap(world: World, index: int) -> tuple[str, str]:
    """(kind, detail) of the entity's trap: forced for the first entities, then drawn at a low rate."""
    if index < len(FORCED_TRAPS):
        return FORCED_TRAPS[index]
    rng, draw = world.rng, world.rng.random()
    if draw < 0.03:
        return "class", rng.choice(sorted(TRAP_CLASSES))
    if draw < 0.035:
        return "label", rng.choice(LABEL_TRAPS)
    if draw < 0.037:
        return "self", rng.choice(("P361", "P138"))
    return ("city", "") if draw < 0.039 else ("", "")


def _write_classes(w: Writer, world: World, s: str, tag: str, trap: tuple[str, str]) -> None:
    rng = world.rng
    classes = [world.classes[tag] if rng.random() < 0.3 else rng.choice(world.subclasses[tag])]
    if rng.random() < 0.2:
        classes.append(rng.choice(world.subclasses[tag]))
    if trap[0] == "class":
        classes = [trap[1]] if rng.random() < 0.5 else [*classes, trap[1]]
    for cls in dict.fromkeys(classes):
        w.add(s, prop("P31"), item(cls))


def _write_links(w: Writer, world: World, s: str, tag: str, country: CountryWorld, city_trap: bool) -> None:
    """The link paths to the country (2 % of items have none: never candidates)."""
    rng = world.rng
    if rng.random() < 0.02:
        return
    if rng.random() < 0.9 or tag == "settlement":
        w.add(s, prop("P17"), item(country.qid))
        if rng.random() < 0.02:  # cross-border items: two countries
            w.add(s, prop("P17"), item(world.country().qid))
    if tag in PLACE_TAGS and rng.random() < 0.6 and not city_trap:
        w.add(s, prop("P131"), item(rng.choice(country.regions)))
    if tag in ORIGIN_TAGS and rng.random() < 0.8:
        w.add(s, prop("P495"), item(country.qid))
    if tag == "person" and rng.random() < 0.9:
        w.add(s, prop("P27"), item(country.qid))
    if tag in CULTURE_TAGS and rng.random() < 0.2:
        w.add(s, prop("P2596"), item(rng.choice(country.cultures)))


def _write_images(w: Writer, world: World, s: str, index: int, country: CountryWorld, forced: bool) -> bool:
    rng = world.rng
    if not (rng.random() < 0.88 or forced):
        return False
    count = 1 if rng.random() < 0.95 else rng.randint(2, 3)
    for number in range(count):
        if rng.random() < 0.01:  # one of a few files that several items use
            name = f"Shared picture {rng.randrange(1 + index // 100)}.jpg"
        else:
            name = f"{pseudo_text(rng, rng.choice((*country.wikidata_langs, 'en')))} {index} {number}.jpg"
        name = name.replace("/", " ").replace(":", " ")
        w.add(s, prop("P18"), f"<{FILE_PATH}{quote(name, safe='()_,-.')}>")
    return True


def _write_properties(w: Writer, world: World, s: str, tag: str, country: CountryWorld, trap: str,
                      forced: bool) -> None:  # fmt: skip
    """0–k catalogue properties (heavy-tailed k), some multi-valued."""
    rng = world.rng
    applicable = world.applicable[tag]
    degree = 0 if rng.random() < 0.12 else min(len(applicable), int(rng.paretovariate(1.3)))
    if forced and degree == 0:
        degree = 2
    bce_left = 1 if trap == "bce" else 0
    for position, p in enumerate(rng.sample(applicable, degree)):
        values = 1 if rng.random() < 0.85 and not (trap == "multi" and position == 0) else rng.randint(2, 3)
        for _ in range(values):
            bce = p.answer_type == "time" and (bce_left > 0 or rng.random() < 0.05)
            if bce and bce_left:
                bce_left -= 1
            w.add(s, prop(p.pid), value_term(world, rng, p.pid, p.answer_type, country, bce))
    if bce_left:
        w.add(s, prop("P571"), time_value(rng, True))


def _write_city_trap(w: Writer, world: World, s: str, country: CountryWorld, labels: dict[str, str]) -> None:
    """The city is located in a region with its own name, which is located in the city."""
    region = f"Q{world.next_region}"
    world.next_region += 1
    w.add(s, prop("P131"), item(region))
    w.add(item(region), prop("P31"), item(REGION_CLASS))
    w.add(item(region), prop("P17"), item(country.qid))
    w.add(item(region), prop("P131"), s)
    for lang, text in labels.items():
        w.add(item(region), RDFS_LABEL, lang_literal(text, lang))


def write_entity(w: Writer, world: World, index: int, stats: Stats) -> None:
    rng = world.rng
    qid = f"Q{ENTITY_BASE + 1 + index}"
    s = item(qid)
    country = world.country()
    tag = world.tag()
    forced = index < len(FORCED_TRAPS)
    trap = _trap(world, index)
    if trap[0] == "city":
        tag = "settlement"
    if trap[0]:
        stats.traps[trap[0]] = stats.traps.get(trap[0], 0) + 1
    _write_classes(w, world, s, tag, trap)
    _write_links(w, world, s, tag, country, trap[0] == "city")
    stats.with_image += _write_images(w, world, s, index, country, forced)
    _write_properties(w, world, s, tag, country, trap[0], forced)
    if trap[0] == "self":
        w.add(s, prop(trap[1]), s)
    langs = entity_langs(world, country, rng)
    if forced:
        langs["en"] = 1.0
    labels = write_texts(w, rng, qid, langs, trap[1] if trap[0] == "label" else None)
    if trap[0] == "city":
        _write_city_trap(w, world, s, country, labels)
        stats.regions += 1
    sitelinks = sitelink_count(rng, len(world.wikis))
    stats.articles += write_sitelinks(w, world, rng, qid, sitelinks, country.wikidata_langs, labels)
    stats.per_country[country.code] = stats.per_country.get(country.code, 0) + 1
    stats.entities += 1


# ---------------------------------------------------------------- value items


def _value_rng(world: World, qid: str) -> random.Random:
    return random.Random(f"{world.seed}-{qid}")


def write_value_item(w: Writer, world: World, qid: str, langs: dict[str, float], stats: Stats,
                     facts: tuple[tuple[str, str], ...] = ()) -> None:  # fmt: skip
    rng = _value_rng(world, qid)
    for pid, obj in facts:
        w.add(item(qid), prop(pid), obj)
    labels = write_texts(w, rng, qid, langs, descriptions=0.4, aliases=0.1)
    count = min(len(world.wikis), int((1.0 - rng.random()) ** (-1 / 1.0)) - 1)
    stats.articles += write_sitelinks(w, world, rng, qid, count, tuple(lang for lang in langs if lang != "en"),
                                      labels)  # fmt: skip
    stats.value_items += 1


def write_world(w: Writer, world: World, stats: Stats) -> None:
    """Countries, classes, subclasses, regions, cultures and the value items the entities used."""
    every = {lang: 0.35 for lang in world.all_langs}
    every["en"] = 0.97
    for country in world.countries:
        langs = {lang: 1.0 for lang in (*country.wikidata_langs, "en")}
        write_value_item(w, world, country.qid, langs, stats, (("P31", item(COUNTRY_CLASS)),))
        for region in country.regions:
            local = {lang: 0.9 for lang in country.wikidata_langs} | {"en": 0.95}
            write_value_item(w, world, region, local, stats,
                             (("P31", item(REGION_CLASS)), ("P17", item(country.qid))))  # fmt: skip
            stats.regions += 1
        for position, culture in enumerate(country.cultures):
            link = "P17" if position == 0 else "P495"
            write_value_item(w, world, culture, {**every}, stats,
                             (("P31", item(CULTURE_CLASS)), (link, item(country.qid))))  # fmt: skip
        w.flush()
    full = {lang: 0.9 for lang in world.all_langs} | {"en": 1.0}
    for tag, qid in sorted(world.classes.items()):
        write_value_item(w, world, qid, full, stats)
        for sub in world.subclasses.get(tag, []):
            write_value_item(w, world, sub, every, stats, (("P279", item(qid)),))
    for qid in (*sorted(TRAP_CLASSES), COUNTRY_CLASS, REGION_CLASS, CULTURE_CLASS, "Q46", "Q48", "Q15", "Q18", "Q49",
                "Q538"):  # fmt: skip
        write_value_item(w, world, qid, full, stats)
    w.flush()
    for number in sorted(world.used_values):
        write_value_item(w, world, f"Q{number}", every, stats)
        if len(w.lines) > 20_000:
            w.flush()
    w.flush()


def generate(entities: int, seed: int, sink: BinaryIO) -> Stats:
    """Write the whole graph as N-Triples to `sink`; return what was written."""
    start = time.perf_counter()
    stats = Stats()
    world = World(entities, seed)
    w = Writer(sink, stats)
    for index in range(entities):
        write_entity(w, world, index, stats)
        if len(w.lines) > 20_000:
            w.flush()
    w.flush()
    write_world(w, world, stats)
    stats.per_country = dict(sorted(stats.per_country.items(), key=lambda kv: (-kv[1], kv[0])))
    stats.seconds = round(time.perf_counter() - start, 3)
    return stats


def generate_bytes(entities: int, seed: int = 0) -> bytes:
    """The whole graph in memory (small sizes: tests)."""
    buffer = io.BytesIO()
    generate(entities, seed, buffer)
    return buffer.getvalue()


def output_path(out: Path, entities: int, seed: int, compress: bool) -> Path:
    return Path(out) / f"wikidata_{entities}_s{seed}.nt{'.gz' if compress else ''}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entities", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--gzip", action="store_true", help="write .nt.gz (slower to write and load)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    path = output_path(args.out, args.entities, args.seed, args.gzip)
    partial = path.with_name(path.name + ".partial")
    with open(partial, "wb") as raw:
        sink = gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=3, mtime=0) if args.gzip else raw
        stats = generate(args.entities, args.seed, sink)
        if args.gzip:
            sink.close()
    partial.replace(path)
    path.with_name(path.name.split(".nt")[0] + ".stats.json").write_text(
        json.dumps({**asdict(stats), "file": path.name, "file_bytes": path.stat().st_size}, indent=1) + "\n",
        encoding="utf-8",
    )
    print(f"{path}: {args.entities} entities, {stats.triples} triples, {stats.bytes} bytes "
          f"({path.stat().st_size} on disk), {stats.articles} sitelink articles, {stats.value_items} value items, "
          f"{stats.seconds:.1f} s")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
