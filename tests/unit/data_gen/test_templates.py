"""The per-language template files (data_gen/qa/templates/*.json) and their validation."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from data_gen.qa.question_templates import (
    PROVENANCE_HAND_CHECKED,
    TemplateError,
    load_language,
    parse_language_templates,
    placeholders,
    template_path,
)
from data_gen.wikidata.properties import load_catalogue
from data_gen.wikidata.regions import load_regions

LANGUAGES = load_regions().languages


def _valid_file() -> dict:
    return json.loads(template_path("en").read_text(encoding="utf-8"))


def test_there_is_one_file_per_pangea_language_and_nothing_else() -> None:
    folder = template_path("en").parent
    assert sorted(p.stem for p in folder.glob("*.json")) == sorted(LANGUAGES)
    assert len(LANGUAGES) == 39


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_catalogue_property_has_stems_in_every_language(language: str) -> None:
    templates = load_language(language)
    catalogue = set(load_catalogue().pids)
    assert set(templates.properties) == catalogue, sorted(catalogue - set(templates.properties))
    assert templates.recognition.open and templates.mcq.instruction
    assert templates.mcq.letters == ("A", "B", "C", "D")
    stems = Counter(stem for entry in templates.properties.values() for stem in entry.open)
    assert [stem for stem, n in stems.items() if n > 1] == []  # each property asks its own question
    assert all(not placeholders(stem) for entry in templates.properties.values() for stem in entry.open + entry.mcq)
    assert "{year}" in templates.values["bce_year"]


SAMPLE_COUNTRIES = """PREFIX wdt: <http://www.wikidata.org/prop/direct/>
SELECT ?country (COUNT(DISTINCT ?item) AS ?n) WHERE {
  ?item wdt:P18 ?image . VALUES ?link { wdt:P17 wdt:P495 wdt:P27 wdt:P2596 } ?item ?link ?country .
} GROUP BY ?country"""


def test_english_and_the_languages_of_the_sample_countries_are_hand_checked() -> None:
    from data_gen.wikidata.sample_store import load_sample_store

    regions = load_regions()
    known = {country.qid: country for country in regions.countries}
    solutions = load_sample_store().query(SAMPLE_COUNTRIES)
    rows = [(s["country"].value.rsplit("/", 1)[-1], int(s["n"].value)) for s in solutions]
    countries = [known[qid] for qid, items in rows if qid in known and items >= 2]  # 1 item: an incidental link
    assert len(countries) >= 10
    sample_languages = {lang for country in countries for lang in country.languages} | {"en"}
    hand = {lang for lang in LANGUAGES if load_language(lang).hand_checked}
    assert sample_languages <= hand, sorted(sample_languages - hand)
    for language in set(LANGUAGES) - hand:
        assert load_language(language).provenance == "machine-translated, unreviewed"
    assert load_language("en").provenance == PROVENANCE_HAND_CHECKED


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["properties"]["P149"].update(open=["What style is {answer}?"]), "unknown placeholder"),
        (lambda d: d["properties"]["P149"].update(open=["What is {entity}?"]), "unknown placeholder"),
        (lambda d: d["properties"]["P149"].update(open=[]), "non-empty list"),
        (lambda d: d["properties"].update(P999999999={"open": ["x?"]}), "not a property ID"),
        (lambda d: d["properties"].update(P1={"open": ["x?"]}), "not in the property catalogue"),
        (lambda d: d["mcq"].update(option="{letter}) {choice}"), "unknown placeholder"),
        (lambda d: d["mcq"].update(option="{letter}."), "missing placeholder"),
        (lambda d: d["mcq"].update(letters=["A", "A", "B", "C"]), "distinct letters"),
        (lambda d: d["values"].update(bce_year="BC"), "missing placeholder"),
        (lambda d: d["recognition"].update(open=["What is shown? {"]), "bad braces"),
        (lambda d: d.update(extra=1), "unknown top-level key"),
    ],
)
def test_bad_templates_are_refused_naming_the_entry(mutate, message: str) -> None:
    data = _valid_file()
    mutate(data)
    with pytest.raises(TemplateError, match=message):
        parse_language_templates(data, "en.json", load_catalogue().pids)


def test_missing_language_file_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(TemplateError, match="no templates for language 'xx'"):
        load_language("xx", tmp_path)
