"""Counts of the embedded Wikidata sample, by SPARQL on the in-process store (for the demo report).

`python -m data_gen.wikidata.sample_stats <out.json>` writes items with an image per country (linked by
P17 country, P495 country of origin, P27 citizenship or P2596 culture), distinct properties, and
label languages; written atomically. Countries are keyed by their ISO code when the country registry
has them (the codes the shards use), else by the country's QID, with `outside_registry` listing
those; label languages are Wikidata's tags, with `dataset_languages` mapping each to the Pangea
code the pipeline writes (`he` → `iw`, `zh-hans` → `zh`; null for a language Pangea lacks).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from shard_contract.atomic import atomic_write_json

PREFIXES = """PREFIX wd: <http://www.wikidata.org/entity/>
PREFIX wdt: <http://www.wikidata.org/prop/direct/>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
"""
PER_COUNTRY = PREFIXES + """SELECT ?country (SAMPLE(?label) AS ?countryLabel) (COUNT(DISTINCT ?item) AS ?n) WHERE {
  ?item wdt:P18 ?image .
  VALUES ?link { wdt:P17 wdt:P495 wdt:P27 wdt:P2596 }
  ?item ?link ?country .
  OPTIONAL { ?country rdfs:label ?label FILTER(LANG(?label) = "en") }
} GROUP BY ?country ORDER BY DESC(?n) ?country"""
TOTAL = PREFIXES + "SELECT (COUNT(DISTINCT ?item) AS ?n) WHERE { ?item wdt:P18 ?image }"
PROPERTIES = PREFIXES + """SELECT DISTINCT ?p WHERE { ?item wdt:P18 ?image ; ?p ?v .
  FILTER(STRSTARTS(STR(?p), "http://www.wikidata.org/prop/direct/")) }"""
LANGUAGES = PREFIXES + "SELECT DISTINCT (LANG(?l) AS ?lang) WHERE { ?item wdt:P18 ?i ; rdfs:label ?l } ORDER BY ?lang"


def _values(store: Any, query: str) -> list[list[str]]:
    return [[term.value for term in solution] for solution in store.query(query)]


def sample_stats() -> dict[str, Any]:
    from data_gen.wikidata.regions import load_regions
    from data_gen.wikidata.sample_store import load_sample_store

    store = load_sample_store()
    regions = load_regions()
    code_of = {country.qid: country.code for country in regions.countries}
    per_country: dict[str, int] = {}
    outside: dict[str, str] = {}
    for uri, label, count in _values(store, PER_COUNTRY):
        qid = uri.rsplit("/", 1)[-1]
        key = code_of.get(qid, qid)
        per_country[key] = int(count)
        if qid not in code_of:
            outside[qid] = label or qid
    languages = [row[0] for row in _values(store, LANGUAGES)]
    return {
        "items_with_image": int(_values(store, TOTAL)[0][0]),
        "items_per_country": per_country,
        "outside_registry": outside,
        "properties": len(_values(store, PROPERTIES)),
        "label_languages": languages,
        "dataset_languages": {tag: regions.pangea_language(tag) for tag in languages},
    }


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        raise SystemExit("usage: python -m data_gen.wikidata.sample_stats <out.json>")
    out = Path(args[0])
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out, sample_stats())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
