"""Stage 1 on a hand-written Wikidata-shaped graph: queries, selection, caps, records, manifest."""

from __future__ import annotations

import json
import re

import pytest

from data_gen.entities.selection import (
    EntitySettings,
    candidate_query,
    commons_file_name,
    facts_query,
    labels_query,
    texts_query,
)
from data_gen.entities.stage import read_entities, run_entities, summary_table
from data_gen.wikidata.client import SparqlClient, StoreBackend
from data_gen.wikidata.regions import load_regions
from tests.helpers.recording_sparql import RecordingBackend
from tests.helpers.wikidata_snippet import snippet_store, store_from_turtle, synthetic_country_turtle

REGIONS = load_regions()


@pytest.fixture(scope="module")
def snippet():
    return snippet_store()


# The mechanics tests below pin the broad catalogue and ranking by total sitelinks, which the
# snippet's expectations were written for; the cultural profile and regional ranking (the defaults)
# have their own tests in test_entity_significance.py.
BY_SITELINKS = {"properties": "broad", "ranking": "global"}


def _run(store, tmp_path, countries=("FR", "JP", "IN", "IL"), **settings):
    backend = RecordingBackend(store)
    client = SparqlClient(backend)
    chosen = EntitySettings(**{**BY_SITELINKS, **settings})
    manifest = run_entities(client, REGIONS.select(list(countries)), chosen, tmp_path)
    return manifest, backend.queries


def test_queries_are_portable_sparql_without_the_wdqs_label_service(snippet, tmp_path):
    _, queries = _run(snippet, tmp_path)
    for query in queries:
        assert query.startswith("PREFIX wd: <http://www.wikidata.org/entity/>")
        assert "wikibase:label" not in query and "SERVICE" not in query
    label_queries = [q for q in queries if "rdfs:label ?text" in q]
    assert label_queries and all("FILTER(LANG(?text) IN (" in q and "VALUES ?item {" in q for q in label_queries)
    assert '"he"' in label_queries[0] and '"iw"' not in label_queries[0]  # Pangea iw asked as Wikidata he
    # facts: one VALUES block (the items) and the properties as a filter — two VALUES blocks joined on
    # one pattern made Oxigraph scan past ~130 items (10 s vs 0.07 s per batch; benchmarks/scale.py --facts-plan)
    facts = [q for q in queries if "?item ?p ?value" in q]
    assert facts and all(q.count("VALUES") == 1 and "FILTER(?p IN (wdt:P" in q for q in facts)


def test_selection_ranks_by_sitelinks_and_drops_items_without_enough_properties(snippet, tmp_path):
    manifest, _ = _run(snippet, tmp_path)
    france = read_entities(tmp_path, "FR")
    assert [r["qid"] for r in france] == ["Q243", "Q12418", "Q2981", "Q1000003", "Q1000004"]
    assert [r["rank"] for r in france] == [1, 2, 3, 4, 5]
    assert manifest["countries"]["FR"]["dropped"] == {"too_few_properties": 1}  # Q1000001 has only P17/P31
    assert france[4]["links"] == ["P131"]  # found through P131 → Paris → P17 France
    assert "Q1000002" not in {r["qid"] for r in france}  # no image: never a candidate


def test_class_and_country_caps(snippet, tmp_path):
    manifest, _ = _run(snippet, tmp_path / "a", countries=("FR",), max_per_class=1)
    kept = [r["qid"] for r in read_entities(tmp_path / "a", "FR")]
    assert kept == ["Q243", "Q12418", "Q2981"]  # one tower, one painting, one cathedral
    assert manifest["countries"]["FR"]["dropped"]["class_cap"] == 2
    manifest, _ = _run(snippet, tmp_path / "b", countries=("FR",), max_per_country=2)
    assert [r["qid"] for r in read_entities(tmp_path / "b", "FR")] == ["Q243", "Q12418"]
    assert manifest["countries"]["FR"]["dropped"]["country_cap"] == 3


def test_records_carry_names_facts_and_images_in_pangea_codes(snippet, tmp_path):
    _run(snippet, tmp_path)
    eiffel = read_entities(tmp_path, "FR")[0]
    assert eiffel["labels"] == {"fr": "tour Eiffel", "en": "Eiffel Tower"}  # no ja: not a French language
    assert eiffel["aliases"] == {"fr": ["La dame de fer"], "en": ["Iron Lady"]}
    assert eiffel["descriptions"]["fr"] == "tour de fer puddlé à Paris"
    assert eiffel["images"] == ["Tour Eiffel Wikimedia Commons.jpg"]
    facts = {f["property"]: f for f in eiffel["facts"]}
    assert facts["P84"] == {"property": "P84", "type": "item", "value": "Q20882",
                            "labels": {"en": "Gustave Eiffel", "fr": "Gustave Eiffel"}}
    assert facts["P571"] == {"property": "P571", "type": "time", "value": "1887-01-28T00:00:00Z"}
    assert facts["P2048"]["type"] == "quantity" and facts["P1448"]["lang"] == "fr"
    wall = read_entities(tmp_path, "IL")[0]
    assert wall["labels"] == {"iw": "הכותל המערבי", "ar": "حائط البراق", "en": "Western Wall"}
    assert {f["property"]: f for f in wall["facts"]}["P140"]["labels"] == {"iw": "יהדות", "en": "Judaism"}
    taj = read_entities(tmp_path, "IN")[0]
    assert taj["labels"] == {"hi": "ताज महल", "ta": "தாஜ் மகால்", "en": "Taj Mahal"}
    assert read_entities(tmp_path, "JP")[1]["images"] == ["Sushi platter.jpg"]


def test_every_line_is_sorted_json_and_the_manifest_counts_it(snippet, tmp_path):
    manifest, queries = _run(snippet, tmp_path)
    for code in ("FR", "JP", "IN", "IL"):
        lines = (tmp_path / "entities" / f"{code}.jsonl").read_text(encoding="utf-8").splitlines()
        assert all(line == json.dumps(json.loads(line), ensure_ascii=False, sort_keys=True) for line in lines)
        assert manifest["countries"][code]["entities"] == len(lines)
    assert manifest["total_entities"] == 9 and manifest["run"]["sparql"]["queries"] == len(queries)
    assert not list((tmp_path / "entities").glob(".*.tmp"))
    table = summary_table(manifest)
    assert re.search(r"FR\s+6\s+5\s+6\s+1", table) and "dropped:too_few_properties" in table


def test_array_style_runs_add_up_in_one_manifest_and_reruns_are_identical(snippet, tmp_path):
    _run(snippet, tmp_path, countries=("FR",))
    first = (tmp_path / "entities" / "FR.jsonl").read_bytes()
    manifest, _ = _run(snippet, tmp_path, countries=("JP",))
    assert set(manifest["countries"]) == {"FR", "JP"} and manifest["total_entities"] == 7
    assert manifest["run"]["countries_this_run"] == ["JP"]
    _run(snippet, tmp_path, countries=("FR",))
    assert (tmp_path / "entities" / "FR.jsonl").read_bytes() == first


def test_labels_for_a_thousand_entities_take_a_handful_of_batched_queries(tmp_path):
    india = REGIONS.by_key("IN")
    wikidata_langs = tuple(code for lang in india.label_languages() for code in REGIONS.wikidata_languages(lang))
    store = store_from_turtle(synthetic_country_turtle(india.qid, 1000, wikidata_langs))
    manifest, queries = _run(store, tmp_path, countries=("IN",), links=("P17",))
    assert manifest["countries"]["IN"]["entities"] == 1000
    assert manifest["run"]["sparql"]["label_queries"] <= 10  # 2 for items + 1 for value items
    assert len(queries) <= 10
    record = read_entities(tmp_path, "IN")[0]
    assert set(record["labels"]) == {"hi", "bn", "ta", "te", "ur", "en"}


def test_query_builders_refuse_unchecked_values():
    france = REGIONS.by_key("FR")
    with pytest.raises(ValueError):
        candidate_query(france, "wdt:P17 ?x . ?x", 10)
    with pytest.raises(ValueError):
        candidate_query(france, "wdt:P17", 10, sitelinks_path="wikibase:sitelinks }")
    with pytest.raises(ValueError):
        facts_query(["Q1"], ["P31 ."])
    with pytest.raises(ValueError):
        texts_query(["Q1"], ['en") || true || ("'])
    with pytest.raises(ValueError):
        labels_query(["Q1 }"], ["en"])
    with pytest.raises(ValueError, match="sitelinks_path"):
        EntitySettings(sitelinks_path="wikibase:statements")
    assert "^schema:about/wikibase:sitelinks" in candidate_query(
        france, "wdt:P17", 5, sitelinks_path="^schema:about/wikibase:sitelinks"
    )


def test_commons_file_names_from_filepath_iris():
    term = {"type": "uri", "value": "http://commons.wikimedia.org/wiki/Special:FilePath/Taj%20Mahal_(2).jpg"}
    assert commons_file_name(term) == "Taj Mahal (2).jpg"
    assert commons_file_name({"type": "literal", "value": term["value"]}) is None
    assert commons_file_name({"type": "uri", "value": "http://example.org/x.jpg"}) is None


def test_progress_bars_go_to_stderr_only_when_asked(snippet, tmp_path, capsys):
    run_entities(SparqlClient(StoreBackend(snippet)), REGIONS.select(["FR"]), EntitySettings(), tmp_path / "a")
    assert capsys.readouterr().err == ""
    run_entities(SparqlClient(StoreBackend(snippet)), REGIONS.select(["FR"]), EntitySettings(), tmp_path / "b",
                 show_progress=True)
    err = capsys.readouterr().err
    assert "entities: candidates+facts" in err and "entities: labels" in err


def test_countries_written_in_groups_equal_one_group_and_bound_what_is_held(snippet, tmp_path):
    """`write_every` (issue 17 §4: the stage held every country's selected entities until one label
    phase at the end, 780 MiB at 100k synthetic entities): groups of countries are labelled and
    written in turn, with the same files as one group."""
    whole, _ = _run(snippet, tmp_path / "whole")
    grouped, _ = _run(snippet, tmp_path / "grouped", write_every=1)
    for code in ("FR", "JP", "IN", "IL"):
        assert (tmp_path / "grouped" / "entities" / f"{code}.jsonl").read_bytes() == (
            tmp_path / "whole" / "entities" / f"{code}.jsonl").read_bytes()  # fmt: skip
    assert grouped["run"]["countries_this_run"] == whole["run"]["countries_this_run"] == ["FR", "IN", "IL", "JP"]
    assert grouped["run"]["labelled_entities_this_run"] == whole["run"]["labelled_entities_this_run"]
    # one label phase per country instead of one for all: more, smaller label queries
    assert grouped["run"]["sparql"]["label_queries"] > whole["run"]["sparql"]["label_queries"]
