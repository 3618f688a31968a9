"""The embedded Wikidata sample: its counts (checked by SPARQL on the loaded store), its identifiers,
its untidy parts, and a build that is reproducible and reports broken sources precisely."""

from __future__ import annotations

import gzip
import re

import pytest

from data_gen.wikidata import sample_store
from data_gen.wikidata.identifiers import PREFIXES
from data_gen.wikidata.properties import load_catalogue
from data_gen.wikidata.regions import load_regions
from data_gen.wikidata.sample_store import SampleError, build_bytes, build_sample, load_sample_store, parse_turtle

WD = "http://www.wikidata.org/entity/"


def _rows(store, query: str) -> list[list[str]]:
    return [[term.value if term is not None else None for term in row] for row in store.query(PREFIXES + query)]


def _linked_items(store, country_qid: str) -> set[str]:
    """Items with an image tied to the country by any link path of the catalogue (as entities.py does)."""
    found: set[str] = set()
    for link in load_catalogue().links:
        rows = _rows(store, f"SELECT DISTINCT ?item WHERE {{ ?item {link.path} wd:{country_qid} . "
                            "FILTER EXISTS { ?item wdt:P18 ?image } }")
        found.update(row[0] for row in rows if row[0] != WD + country_qid)
    return found


@pytest.fixture(scope="module")
def linked() -> dict[str, set[str]]:
    store = load_sample_store()
    return {country.code: items for country in load_regions().countries if (items := _linked_items(store, country.qid))}


def test_at_least_300_items_with_an_image():
    rows = _rows(load_sample_store(), "SELECT (COUNT(DISTINCT ?item) AS ?n) WHERE { ?item wdt:P18 ?image }")
    assert int(rows[0][0]) >= 300


def test_at_least_ten_registry_countries_have_linked_items(linked):
    covered = {code: len(items) for code, items in linked.items() if len(items) >= 10}
    assert len(covered) >= 10, {code: len(items) for code, items in linked.items()}


def test_at_least_25_catalogue_properties_are_used():
    rows = _rows(load_sample_store(), "SELECT DISTINCT ?p WHERE { ?item wdt:P18 ?image ; ?p ?value }")
    used = {row[0].rsplit("/", 1)[-1] for row in rows if row[0].startswith("http://www.wikidata.org/prop/direct/")}
    assert len(used & set(load_catalogue().pids)) >= 25, sorted(used)


def test_labels_in_each_country_language_and_english(linked):
    store, regions = load_sample_store(), load_regions()
    for country in regions.countries:
        if len(linked.get(country.code, ())) < 10:
            continue  # a country reached only through a few border items (Italy via Mont Blanc)
        values = " ".join(f"<{qid}>" for qid in sorted(linked[country.code]))
        query = f"SELECT DISTINCT (LANG(?l) AS ?lang) WHERE {{ VALUES ?item {{ {values} }} ?item rdfs:label ?l }}"
        rows = _rows(store, query)
        tags = {row[0] for row in rows}
        for lang in country.label_languages(regions.always_include):
            assert tags & set(regions.wikidata_languages(lang)), f"{country.code}: no label in {lang}"


def test_some_item_lacks_a_label_in_one_of_its_country_languages(linked):
    store, regions = load_sample_store(), load_regions()
    gaps = []
    for country in regions.countries:
        for item in sorted(linked.get(country.code, ())):
            tags = {row[0] for row in _rows(store, f"SELECT (LANG(?l) AS ?t) WHERE {{ <{item}> rdfs:label ?l }}")}
            for lang in country.languages:
                if not tags & set(regions.wikidata_languages(lang)):
                    gaps.append((country.code, item, lang))
    assert gaps


def test_untidy_parts_of_real_data_are_present():
    store = load_sample_store()
    several = _rows(store, """SELECT ?item ?p WHERE { ?item wdt:P18 ?i ; ?p ?v .
        FILTER(STRSTARTS(STR(?p), "http://www.wikidata.org/prop/direct/") && ?p != wdt:P18) }
        GROUP BY ?item ?p HAVING (COUNT(DISTINCT ?v) > 1)""")
    assert len(several) >= 20
    unlabelled = _rows(store, """SELECT DISTINCT ?v WHERE { ?item wdt:P18 ?i ; ?p ?v .
        FILTER(STRSTARTS(STR(?v), "http://www.wikidata.org/entity/Q")) FILTER NOT EXISTS { ?v rdfs:label ?l } }""")
    assert unlabelled
    aliases = _rows(store, "SELECT (COUNT(*) AS ?n) WHERE { ?item wdt:P18 ?i ; skos:altLabel ?a }")
    assert int(aliases[0][0]) >= 50
    descriptions = _rows(
        store, "SELECT (COUNT(DISTINCT ?item) AS ?n) WHERE { ?item wdt:P18 ?i ; schema:description ?d }"
    )
    assert int(descriptions[0][0]) >= 250


def test_values_have_the_wdqs_shapes():
    store = load_sample_store()
    xsd = "http://www.w3.org/2001/XMLSchema#"
    sitelinks = _rows(store, "SELECT DISTINCT (DATATYPE(?s) AS ?t) WHERE { ?item wikibase:sitelinks ?s }")
    assert sitelinks == [[xsd + "integer"]]
    images = _rows(store, "SELECT ?image WHERE { ?item wdt:P18 ?image }")
    file_path = re.compile(r"http://commons\.wikimedia\.org/wiki/Special:FilePath/[A-Za-z0-9%._~-]+")
    assert images and all(file_path.fullmatch(row[0]) for row in images)
    times = _rows(store, "SELECT DISTINCT (DATATYPE(?v) AS ?t) WHERE { ?item wdt:P571|wdt:P569|wdt:P570 ?v }")
    assert times == [[xsd + "dateTime"]]
    quantities = _rows(store, "SELECT DISTINCT (DATATYPE(?v) AS ?t) WHERE { ?item wdt:P2048|wdt:P2044|wdt:P1082 ?v }")
    assert quantities == [[xsd + "decimal"]]


def test_every_identifier_is_well_formed_and_countries_use_registry_qids():
    text = sample_store.sample_turtle_bytes().decode("utf-8")
    for qid in re.findall(r"\bwd:(\S+?)(?=[\s,;.])", text):
        assert re.fullmatch(r"Q[1-9][0-9]*", qid), qid
    for pid in re.findall(r"\bwdt:(\S+?)(?=[\s,;.])", text):
        assert re.fullmatch(r"P[1-9][0-9]*", pid), pid
    store = load_sample_store()
    rows = _rows(store, """SELECT ?c ?name WHERE { ?c wdt:P31 wd:Q6256 .
        { ?c rdfs:label ?name } UNION { ?c skos:altLabel ?name } FILTER(LANG(?name) = "en") }""")
    names = {}
    for qid, name in rows:
        names.setdefault(name, set()).add(qid.rsplit("/", 1)[-1])
    for country in load_regions().countries:
        if country.name in names:
            assert names[country.name] == {country.qid}, country


def test_shipped_sample_equals_a_fresh_build():
    assert sample_store.sample_path().read_bytes() == build_bytes(sample_store.SOURCES_DIR)
    assert len(sample_store.sample_path().read_bytes()) < 2 * 1024 * 1024


def test_build_is_reproducible_and_atomic(tmp_path):
    sources = tmp_path / "sources"
    sources.mkdir()
    (sources / "b.ttl").write_text('<http://x/b> <http://x/p> "b" .\n')
    (sources / "a.ttl").write_text('<http://x/a> <http://x/p> "a" .\n')
    first = build_sample(sources, tmp_path / "one.ttl.gz").read_bytes()
    second = build_sample(sources, tmp_path / "two.ttl.gz").read_bytes()
    assert first == second
    text = gzip.decompress(first).decode()
    assert text.index("source: a.ttl") < text.index("source: b.ttl")
    assert len(parse_turtle(gzip.decompress(first), tmp_path)) == 2
    (sources / "c.ttl").write_text('<http://x/c> <http://x/p> "broken .\n')
    with pytest.raises(SampleError, match=r"c\.ttl: line 1: invalid Turtle"):
        build_sample(sources, tmp_path / "one.ttl.gz")
    assert (tmp_path / "one.ttl.gz").read_bytes() == first
    assert not list(tmp_path.glob(".*.tmp"))


def test_missing_or_corrupt_sample_gives_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(sample_store, "SAMPLE_FILE", tmp_path / "absent.ttl.gz")
    with pytest.raises(SampleError, match=r"absent\.ttl\.gz is missing"):
        sample_store.sample_path()
    corrupt = tmp_path / "corrupt.ttl.gz"
    corrupt.write_bytes(b"not gzip")
    with pytest.raises(SampleError, match=r"corrupt\.ttl\.gz: not a readable gzip file"):
        sample_store.sample_turtle_bytes(corrupt)


def test_command_line_build_and_check(tmp_path, capsys):
    sources = tmp_path / "sources"
    sources.mkdir()
    (sources / "a.ttl").write_text('<http://x/a> <http://x/p> "a" .\n')
    out = tmp_path / "sample.ttl.gz"
    assert sample_store.main(["check", "--sources", str(sources), "--out", str(out)]) == 1
    assert sample_store.main(["build", "--sources", str(sources), "--out", str(out)]) == 0
    assert sample_store.main(["check", "--sources", str(sources), "--out", str(out)]) == 0
    (sources / "a.ttl").write_text("<http://x/a> <http://x/p> .\n")
    assert sample_store.main(["build", "--sources", str(sources), "--out", str(out)]) == 2
    assert "a.ttl: line 1" in capsys.readouterr().err


def test_sample_stats_key_countries_and_languages_as_the_shards_do():
    """Issue 19 §6: the demo report named countries by label here and by code in the shard tables,
    and Hebrew `he` here and `iw` there."""
    from data_gen.wikidata.regions import load_regions
    from data_gen.wikidata.sample_stats import sample_stats

    stats = sample_stats()
    codes = {country.code for country in load_regions().countries}
    assert set(stats["items_per_country"]) <= codes | set(stats["outside_registry"])
    assert all(key.startswith("Q") for key in stats["outside_registry"])
    assert "JP" in stats["items_per_country"] and "Japan" not in stats["items_per_country"]
    assert stats["dataset_languages"]["he"] == "iw"
    assert stats["dataset_languages"]["zh-hans"] == stats["dataset_languages"]["zh-hant"] == "zh"
    assert set(stats["dataset_languages"]) == set(stats["label_languages"])
