"""Entity selection as the paper describes it (issue 17, item 1): the cultural property profile, the
class deny list, regional significance in popularity strata with its long-tail report, and 1–3
images per entity (P18 first, then the entity's other image properties).

Every case runs the real entities stage on a Wikidata-shaped graph in pyoxigraph (the WDQS
vocabulary, sitelink articles as `schema:about` / `schema:isPartOf` as WDQS and the dumps have them).
"""

from __future__ import annotations

import pytest

from data_gen.entities.selection import EntitySettings
from data_gen.entities.significance import country_wikis, popularity_bands, regional_order
from data_gen.entities.stage import read_entities, run_entities
from data_gen.wikidata.class_filter import default_denied_classes
from data_gen.wikidata.client import SparqlClient
from data_gen.wikidata.properties import CULTURAL_PROPERTY_COUNT, load_catalogue
from data_gen.wikidata.regions import load_regions
from tests.helpers.recording_sparql import RecordingBackend
from tests.helpers.wikidata_snippet import PREFIXES, store_from_turtle

REGIONS = load_regions()
TOWER = "Q12323"
AIRPORT = "Q644371"  # international airport: on the default deny list


def _item(number: int, sitelinks: int, wikis: tuple[str, ...], cls: str = TOWER, extra: str = "") -> str:
    qid = f"Q{7_000_000 + number}"
    articles = "".join(
        f"<https://{wiki}.wikipedia.org/wiki/T{number}> schema:about wd:{qid} ;"
        f" schema:isPartOf <https://{wiki}.wikipedia.org/> .\n"
        for wiki in wikis
    )
    return (
        f'wd:{qid} rdfs:label "Objet {number}"@fr, "Thing {number}"@en ;\n'
        f'  wikibase:sitelinks "{sitelinks}"^^xsd:integer ; wdt:P31 wd:{cls} ; wdt:P17 wd:Q142 ;\n'
        f'  wdt:P571 "1900-01-01T00:00:00Z"^^xsd:dateTime ;\n'
        f"  wdt:P18 <http://commons.wikimedia.org/wiki/Special:FilePath/Thing%20{number}.jpg> {extra}.\n"
        + articles
    )


# Eight French towers: four famous (articles in many wikis, one of them in French), four from the
# long tail (an article only in the French Wikipedia, or none), plus an airport more famous than all.
GLOBAL_WIKIS = ("en", "de", "es", "it", "ja", "ru", "zh", "pt")
ITEMS = [
    _item(1, 200, ("fr", *GLOBAL_WIKIS)),
    _item(2, 150, ("fr", *GLOBAL_WIKIS)),
    _item(3, 100, GLOBAL_WIKIS),  # no French article
    _item(4, 100, ("fr", *GLOBAL_WIKIS)),
    _item(5, 5, ("fr",)),
    _item(6, 4, ("fr",)),
    _item(7, 3, ("fr",)),
    _item(8, 2, ()),
    _item(9, 500, ("fr", *GLOBAL_WIKIS), cls=AIRPORT),
]
GRAPH = (
    PREFIXES
    + 'wd:Q142 rdfs:label "France"@fr . wd:Q12323 rdfs:label "tour"@fr, "tower"@en .\n'
    + f'wd:{AIRPORT} rdfs:label "aéroport international"@fr .\n'
    + "".join(ITEMS)
).encode("utf-8")


@pytest.fixture(scope="module")
def store():
    return store_from_turtle(GRAPH)


def _run(store, tmp_path, **settings):
    backend = RecordingBackend(store)
    manifest = run_entities(
        SparqlClient(backend), REGIONS.select(["FR"]), EntitySettings(**settings), tmp_path
    )
    return manifest, read_entities(tmp_path, "FR"), backend.queries


def test_the_cultural_profile_is_the_papers_76_properties_each_with_a_reason():
    catalogue = load_catalogue()
    cultural = catalogue.profile("cultural")
    assert len(cultural.properties) == CULTURAL_PROPERTY_COUNT == 76
    assert all(prop.cultural in catalogue.cultural_reasons for prop in cultural.properties)
    assert catalogue.profile("broad") is catalogue and len(catalogue.properties) == 138
    dropped = set(catalogue.pids) - set(cultural.pids)
    # civic and economic facts the issue named are out; what ties an item to a culture is in
    assert {"P1082", "P102", "P54", "P1128", "P38", "P6375"} <= dropped
    assert {"P17", "P495", "P2596", "P149", "P2012", "P140", "P1705"} <= set(cultural.pids)
    with pytest.raises(ValueError, match=r"entities\.properties"):
        catalogue.profile("popular")


def test_denied_classes_are_dropped_and_counted_by_default(store, tmp_path):
    manifest, records, _ = _run(store, tmp_path / "default")
    assert "Q7000009" not in {r["qid"] for r in records}
    assert manifest["countries"]["FR"]["dropped"]["denied_class"] == 1
    assert AIRPORT in {entry.qid for entry in default_denied_classes()}
    _, records, _ = _run(store, tmp_path / "all", deny_classes=())
    assert "Q7000009" in {r["qid"] for r in records}
    _, records, _ = _run(store, tmp_path / "allowed", allow_classes=(AIRPORT,))
    assert {r["qid"] for r in records} == {"Q7000009"}  # an allow list keeps only its classes


def test_regional_selection_keeps_the_long_tail_that_global_ranking_drops(store, tmp_path):
    manifest, records, queries = _run(store, tmp_path / "regional", max_per_country=4)
    # the filter's reasons and the caps' in one count: 1 airport denied, 4 of the 8 towers over the cap
    assert manifest["countries"]["FR"]["dropped"] == {"denied_class": 1, "country_cap": 4}
    # one item per popularity band (8 towers → 4 bands of 2), most popular band first; inside a band
    # the larger share of French-Wikipedia articles wins (Q…2: 1/150 before Q…1: 1/200; Q…4 before Q…3,
    # which has no French article; Q…6: 1/4 before Q…5: 1/5; Q…7: 1/3 before Q…8: none)
    assert [r["qid"] for r in records] == ["Q7000002", "Q7000004", "Q7000006", "Q7000007"]
    assert [r["popularity_stratum"] for r in records] == [3, 2, 1, 0]
    assert [r["local_sitelinks"] for r in records] == [1, 1, 1, 1]
    tail = manifest["countries"]["FR"]["long_tail"]
    assert tail["median_sitelinks"] == 52.5
    assert (tail["at_or_below_median_share"], tail["at_or_below_median_share_by_global_ranking"]) == (0.5, 0.0)
    assert manifest["long_tail"]["at_or_below_median"] == 2 and manifest["long_tail"]["selected_by_global_ranking"] == 4
    local_queries = [q for q in queries if "schema:isPartOf" in q]
    assert local_queries and all("<https://fr.wikipedia.org/>" in q and "en.wikipedia" not in q for q in local_queries)
    # one VALUES block (the items), the wikis as a filter: two VALUES blocks make Oxigraph scan
    assert all(q.count("VALUES") == 1 and "FILTER(?wiki IN (<https://fr.wikipedia.org/>))" in q for q in local_queries)

    manifest, records, queries = _run(store, tmp_path / "global", max_per_country=4, ranking="global")
    assert [r["qid"] for r in records] == ["Q7000001", "Q7000002", "Q7000003", "Q7000004"]
    assert manifest["countries"]["FR"]["long_tail"]["at_or_below_median_share"] == 0.0
    assert not [q for q in queries if "schema:isPartOf" in q]  # no local-sitelink queries when not ranking by them


def test_bands_are_equal_sized_and_one_band_means_local_share_order():
    class C:
        def __init__(self, qid, sitelinks, local):
            self.qid, self.sitelinks, self.local_sitelinks = qid, sitelinks, local

    items = [C(f"Q{n}", n * 10, n % 2) for n in range(1, 9)]
    bands = popularity_bands(items, 4)
    assert [bands[f"Q{n}"] for n in range(1, 9)] == [0, 0, 1, 1, 2, 2, 3, 3]
    ordered = regional_order(items, popularity_bands(items, 1), 1)
    assert [c.qid for c in ordered] == ["Q1", "Q3", "Q5", "Q7", "Q8", "Q6", "Q4", "Q2"]


def test_country_wikis_are_its_own_languages_not_english_added_to_every_country():
    assert country_wikis(REGIONS.select(["IL"])[0], REGIONS) == ("https://he.wikipedia.org/", "https://ar.wikipedia.org/")
    assert country_wikis(REGIONS.select(["NO"])[0], REGIONS) == ("https://no.wikipedia.org/",)  # nb → no
    assert country_wikis(REGIONS.select(["GB"])[0], REGIONS) == ("https://en.wikipedia.org/",)


def test_up_to_three_images_p18_first_then_the_other_image_properties(tmp_path):
    fp = "<http://commons.wikimedia.org/wiki/Special:FilePath/"
    extra = f"; wdt:P18 {fp}B%20front.jpg> ; wdt:P5775 {fp}Inside.jpg> ; wdt:P3451 {fp}Night.jpg> "
    graph = (PREFIXES + 'wd:Q142 rdfs:label "France"@fr .\n' + _item(1, 10, ("fr",), extra=extra)).encode("utf-8")
    _, records, _ = _run(store_from_turtle(graph), tmp_path / "three")
    assert records[0]["images"] == ["B front.jpg", "Thing 1.jpg", "Inside.jpg"]
    _, records, _ = _run(store_from_turtle(graph), tmp_path / "one", max_images=1)
    assert records[0]["images"] == ["B front.jpg"]
    for bad in ({"max_images": 4}, {"max_images": 0}, {"image_properties": ("P5775", "P18")}):
        with pytest.raises(ValueError):
            EntitySettings(**bad)
