"""The country/language registry and the identifier checks that guard every SPARQL query."""

from __future__ import annotations

import copy
import json

import pytest

from data_gen.wikidata.identifiers import check_lang, check_path, check_pid, check_qid, lang_list, qid_of, values_clause
from data_gen.wikidata.regions import REGISTRY, UnknownCountryError, load_regions, parse_regions

PANGEA_39 = frozenset([
    "am", "ar", "bg", "bn", "cs", "de", "el", "en", "es", "fa", "fr", "ga", "hi", "id", "ig", "it", "iw", "ja", "jv",
    "ko", "nl", "mn", "ms", "no", "pl", "pt", "ro", "ru", "si", "su", "sw", "ta", "te", "th", "tr", "uk", "ur", "vi",
    "zh",
])


def test_shipped_registry_has_42_countries_and_pangeas_39_languages():
    regions = load_regions()
    assert len(regions.countries) == 42
    assert set(regions.languages) == PANGEA_39 and len(regions.languages) == 39
    assert len({c.qid for c in regions.countries}) == 42
    used = {lang for c in regions.countries for lang in c.languages}
    assert used <= PANGEA_39
    assert regions.by_key("Netherlands").qid == "Q55" and regions.by_key("Q17").code == "JP"


def test_language_codes_map_to_wikidata_tags_and_back():
    regions = load_regions()
    assert regions.wikidata_languages("iw") == ("he",)
    assert regions.wikidata_languages("no")[0] == "nb"
    assert regions.wikidata_languages("fr") == ("fr",)
    assert regions.pangea_language("he") == "iw" and regions.pangea_language("zh-hant") == "zh"
    assert regions.pangea_language("xx") is None
    with pytest.raises(ValueError, match="not one of Pangea"):
        regions.wikidata_languages("he")


def test_country_selection_by_code_qid_or_name_in_registry_order():
    regions = load_regions()
    assert [c.code for c in regions.select("jp, France")] == ["FR", "JP"]
    assert [c.code for c in regions.select(["Q668", "jp", "JP"])] == ["IN", "JP"]
    assert len(regions.select("all")) == 42 and len(regions.select(None)) == 42
    assert regions.by_key("IN").label_languages() == ("hi", "bn", "ta", "te", "ur", "en")
    with pytest.raises(UnknownCountryError, match="unknown country 'Atlantis'"):
        regions.select(["Atlantis"])


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["countries"][0].update(qid="Q0x"), "not a Wikidata item ID"),
        (lambda d: d["countries"][0].update(languages=["xx"]), "must be among Pangea"),
        (lambda d: d["countries"][1].update(code="BD"), "duplicate country key"),
        (lambda d: d["countries"][0].update(code="bgd"), "ISO 3166-1"),
        (lambda d: d["wikidata_language_codes"].update(he=["he"]), "must be a Pangea code"),
    ],
)
def test_a_bad_registry_fails_fast(mutate, message):
    data = copy.deepcopy(json.loads(REGISTRY.read_text(encoding="utf-8")))
    mutate(data)
    with pytest.raises(ValueError, match=message):
        parse_regions(data)


@pytest.mark.parametrize(
    ("check", "good", "bad"),
    [
        (check_qid, ["Q1", "Q243", "Q123456789"], ["Q0", "q42", "Q42 ", "Q42}", "P31", "Q1;DROP", ""]),
        (check_pid, ["P31", "P2596"], ["P0", "Q31", "P31 .", "wdt:P31"]),
        (check_lang, ["en", "zh-hans", "be-tarask", "sr-el"], ["EN", 'en"', "e", "en) || true", "zh_hans"]),
        (check_path, ["wdt:P17", "wdt:P131|wdt:P131/wdt:P17"], ["wdt:P17 ?x", "wdt:P17/*", "p:P17", "wdt:P17 ."]),
    ],
)
def test_identifier_checks_refuse_anything_that_could_change_a_query(check, good, bad):
    for value in good:
        assert check(value) == value
    for value in bad:
        with pytest.raises(ValueError):
            check(value)


def test_values_and_language_lists_are_built_only_from_checked_values():
    assert values_clause("item", ["Q1", "Q2"]) == "VALUES ?item { wd:Q1 wd:Q2 }"
    assert lang_list(["en", "zh-hans"]) == '"en", "zh-hans"'
    with pytest.raises(ValueError):
        values_clause("item", ["Q1", "Q2 } ?x ?y ?z {"])
    with pytest.raises(ValueError):
        values_clause("item }", ["Q1"])
    assert qid_of("http://www.wikidata.org/entity/Q42") == "Q42"
    assert qid_of("http://www.wikidata.org/entity/P31") is None
    assert qid_of("http://example.org/Q42") is None
