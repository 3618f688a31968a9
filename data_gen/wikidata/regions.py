"""The 42 countries and 39 languages of CulturalPangea, loaded from `registries/countries.json`.

Data, not code: the registry file lists each country's ISO 3166-1 alpha-2 code, Wikidata QID,
English name and its languages among Pangea's 39 codes (sources in `registries/README.md`).
Pangea's codes differ from Wikidata's in places (`iw` is Wikidata `he`, `no` is `nb`) and Chinese
labels often exist only as `zh-hans`/`zh-hant`, so each Pangea code maps to an ordered list of
Wikidata codes: the first present wins. Everything is validated on load; a bad registry fails fast.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from data_gen.common.errors import DataGenError
from data_gen.wikidata.identifiers import check_lang, check_qid

REGISTRY = Path(__file__).resolve().parent / "registries" / "countries.json"


class UnknownCountryError(DataGenError, ValueError):
    """A country name, code or QID that is not one of the 42."""


@dataclass(frozen=True)
class Country:
    """One country: ISO code (the key used in file names), Wikidata item, name, Pangea languages."""

    code: str
    qid: str
    name: str
    languages: tuple[str, ...]

    def label_languages(self, always: tuple[str, ...] = ("en",)) -> tuple[str, ...]:
        """The country's languages plus the always-included ones (English), without repeats."""
        return tuple(dict.fromkeys((*self.languages, *always)))


@dataclass(frozen=True)
class Regions:
    """The whole registry: countries in file order, the language list and the code map."""

    countries: tuple[Country, ...]
    languages: tuple[str, ...]
    wikidata_codes: dict[str, tuple[str, ...]]
    always_include: tuple[str, ...]

    def __post_init__(self) -> None:
        _validate(self)

    def wikidata_languages(self, pangea_code: str) -> tuple[str, ...]:
        """Wikidata language codes for a Pangea code, preferred first (`iw` → `he`)."""
        if pangea_code not in self.languages:
            raise ValueError(f"{pangea_code!r} is not one of Pangea's {len(self.languages)} languages")
        return self.wikidata_codes.get(pangea_code, (pangea_code,))

    def pangea_language(self, wikidata_code: str) -> str | None:
        """The Pangea code a Wikidata language tag counts for, or None."""
        for code in self.languages:
            if wikidata_code in self.wikidata_languages(code):
                return code
        return None

    def by_key(self, key: str) -> Country:
        """Find a country by ISO code, QID or English name (case-insensitive)."""
        wanted = str(key).strip().casefold()
        for country in self.countries:
            if wanted in (country.code.casefold(), country.qid.casefold(), country.name.casefold()):
                return country
        raise UnknownCountryError(f"unknown country {key!r}; known: {', '.join(c.code for c in self.countries)}")

    def select(self, keys: str | list[str] | tuple[str, ...] | None) -> tuple[Country, ...]:
        """`"all"`/None → every country; else the named ones in registry order, without repeats."""
        if keys is None or (isinstance(keys, str) and keys.strip().casefold() == "all"):
            return self.countries
        if isinstance(keys, str):
            keys = [part for part in keys.split(",") if part.strip()]
        chosen = {self.by_key(key).code for key in keys}
        if not chosen:
            raise UnknownCountryError("no country selected")
        return tuple(country for country in self.countries if country.code in chosen)


def _validate(regions: Regions) -> None:
    if len(set(regions.languages)) != len(regions.languages):
        raise ValueError("duplicate language codes in the registry")
    for code in (*regions.languages, *regions.always_include):
        check_lang(code)
    for code, targets in regions.wikidata_codes.items():
        if code not in regions.languages or not targets:
            raise ValueError(f"language map entry {code!r} must be a Pangea code with Wikidata codes")
        for target in targets:
            check_lang(target)
    seen: set[str] = set()
    for country in regions.countries:
        check_qid(country.qid)
        if len(country.code) != 2 or not country.code.isupper():
            raise ValueError(f"country code {country.code!r} is not ISO 3166-1 alpha-2")
        if not country.languages or set(country.languages) - set(regions.languages):
            raise ValueError(f"{country.name}: languages {country.languages} must be among Pangea's")
        for key in (country.code, country.qid, country.name):
            if key in seen:
                raise ValueError(f"duplicate country key {key!r}")
            seen.add(key)


def parse_regions(data: dict) -> Regions:
    """Build (and validate) the registry from its JSON object."""
    return Regions(
        countries=tuple(
            Country(code=c["code"], qid=c["qid"], name=c["name"], languages=tuple(c["languages"]))
            for c in data["countries"]
        ),
        languages=tuple(data["pangea_languages"]),
        wikidata_codes={k: tuple(v) for k, v in data.get("wikidata_language_codes", {}).items()},
        always_include=tuple(data.get("always_include", ["en"])),
    )


@lru_cache(maxsize=1)
def load_regions(path: Path | None = None) -> Regions:
    """The shipped registry (cached)."""
    return parse_regions(json.loads(Path(path or REGISTRY).read_text(encoding="utf-8")))
