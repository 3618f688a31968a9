"""The synthetic Wikidata generator of the scale benchmark (benchmarks/synthetic_wikidata.py), at 200 entities.

Same seed, same bytes; every item's `wikibase:sitelinks` equals its number of sitelink articles;
every trap of issue 17 is in the graph (non-cultural classes, self-references, control characters,
300-character labels, BCE dates, multi-valued properties, many scripts); and the real `entities`
stage, run in-process on a pyoxigraph store of it, keeps entities in every country that has candidates.
"""

from __future__ import annotations

import json

import pytest
from pyoxigraph import RdfFormat, Store

from benchmarks.synthetic_wikidata import TRAP_CLASSES, generate_bytes, main
from data_gen.entities.selection import EntitySettings
from data_gen.entities.stage import run_entities
from data_gen.wikidata.client import SparqlClient, StoreBackend
from data_gen.wikidata.identifiers import PREFIXES
from data_gen.wikidata.regions import load_regions

N = 200


@pytest.fixture(scope="module")
def graph() -> bytes:
    return generate_bytes(N, seed=3)


@pytest.fixture(scope="module")
def store(graph) -> Store:
    store = Store()
    store.load(graph, format=RdfFormat.N_TRIPLES)
    return store


def select(store: Store, query: str) -> list[dict[str, str]]:
    solutions = store.query(PREFIXES + query)
    names = [variable.value for variable in solutions.variables]
    return [{name: row[name].value for name in names if row[name] is not None} for row in solutions]


def test_the_same_seed_gives_the_same_bytes_and_the_cli_writes_them(graph, tmp_path, capsys):
    assert generate_bytes(N, seed=3) == graph
    assert generate_bytes(N, seed=4) != graph
    assert main(["--entities", "20", "--out", str(tmp_path), "--seed", "3"]) == 0
    assert (tmp_path / "wikidata_20_s3.nt").read_bytes() == generate_bytes(20, seed=3)
    stats = json.loads((tmp_path / "wikidata_20_s3.stats.json").read_text())
    assert stats["entities"] == 20 and f"{stats['triples']} triples" in capsys.readouterr().out


def test_sitelink_count_equals_the_articles_of_every_item(store):
    rows = select(
        store,
        """SELECT ?item ?count (COUNT(?article) AS ?articles) WHERE {
      ?item wikibase:sitelinks ?count OPTIONAL { ?article schema:about ?item }
    } GROUP BY ?item ?count""",
    )
    assert len(rows) > N
    assert all(int(row["count"]) == int(row["articles"]) for row in rows)
    counts = sorted(int(row["count"]) for row in rows)
    assert counts[len(counts) // 2] <= 5 < counts[-1]  # heavy-tailed: most small, a few large
    wikis = select(store, "SELECT ?a ?wiki ?lang WHERE { ?a schema:isPartOf ?wiki ; schema:inLanguage ?lang }")
    assert all(row["wiki"].startswith("https://") and row["wiki"].endswith(".wikipedia.org/") for row in wikis)


def test_every_trap_is_in_the_graph(store):
    classes = {row["c"] for row in select(store, "SELECT DISTINCT ?c WHERE { ?i wdt:P18 ?f ; wdt:P31 ?c }")}
    assert {f"http://www.wikidata.org/entity/{qid}" for qid in TRAP_CLASSES} <= classes
    assert select(store, "SELECT ?i WHERE { ?i wdt:P361|wdt:P138 ?i }")
    assert select(
        store,
        """SELECT ?city WHERE { ?city wdt:P131 ?region . ?region wdt:P131 ?city .
      ?city rdfs:label ?name . ?region rdfs:label ?name }""",
    )
    labels = [row["l"] for row in select(store, "SELECT ?l WHERE { ?i rdfs:label ?l }")]
    assert any("\n" in label for label in labels) and any("\x07" in label for label in labels)
    assert max(len(label) for label in labels) >= 300
    dates = [row["d"] for row in select(store, "SELECT ?d WHERE { ?i wdt:P571|wdt:P569|wdt:P585 ?d }")]
    assert any(date.startswith("-") for date in dates)
    assert select(
        store,
        """SELECT ?i ?p WHERE { ?i ?p ?v . FILTER(STRSTARTS(STR(?p), STR(wdt:)) && ?p != wdt:P31)
      } GROUP BY ?i ?p HAVING (COUNT(?v) > 1)""",
    )
    text = "".join(labels)
    for first, last in ((0x0600, 0x06FF), (0x0900, 0x097F), (0x4E00, 0x9FFF), (0x0400, 0x04FF), (0x1200, 0x137F),
                        (0xA980, 0xA9DF), (0xAC00, 0xD7A3), (0x0B80, 0x0BFF)):  # fmt: skip
        assert any(first <= ord(ch) <= last for ch in text), hex(first)


def test_the_entities_stage_keeps_entities_in_every_country_with_candidates(store, tmp_path):
    wide = EntitySettings(candidates_per_link=N, max_per_country=N, max_per_class=N)
    manifest = run_entities(SparqlClient(StoreBackend(store)), load_regions().countries, wide, tmp_path)
    countries = manifest["countries"]
    with_candidates = {code: entry for code, entry in countries.items() if entry["candidates"] >= 3}
    assert len(with_candidates) >= 10
    assert all(entry["entities"] > 0 for entry in with_candidates.values()), with_candidates
    assert 0.6 * sum(e["candidates"] for e in countries.values()) < manifest["total_entities"]
    assert manifest["run"]["sparql"]["queries"] > 5 * len(countries)
