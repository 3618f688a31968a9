"""The property catalogue: at least 70 culturally meaningful properties, typed, classed, validated."""

from __future__ import annotations

import copy
import json
from collections import Counter

import pytest

from data_gen.wikidata.properties import ANSWER_TYPES, REGISTRY, load_catalogue, parse_catalogue


def test_catalogue_is_large_typed_and_covers_every_answer_type():
    catalogue = load_catalogue()
    assert len(catalogue.properties) >= 70
    types = Counter(p.answer_type for p in catalogue.properties)
    assert set(types) == set(ANSWER_TYPES)
    assert types["item"] > types["time"] > 5 and types["quantity"] > 5
    visual = [p for p in catalogue.properties if p.visual]
    assert 15 <= len(visual) < len(catalogue.properties) / 2
    assert {"P149", "P186", "P462", "P180"} <= {p.pid for p in visual}  # style, material, colour, depicts
    assert not catalogue.get("P569").visual  # date of birth cannot be seen


def test_every_class_tag_has_a_wikidata_class_and_every_link_a_path():
    catalogue = load_catalogue()
    assert catalogue.classes["any"] is None
    assert catalogue.classes["dish"] == "Q746549" and catalogue.classes["person"] == "Q5"
    assert all(qid for tag, qid in catalogue.classes.items() if tag != "any")
    assert {link.pid for link in catalogue.links} == {"P17", "P495", "P131", "P27", "P2596"}
    assert catalogue.link("P131").path == "wdt:P131|wdt:P131/wdt:P17"
    with pytest.raises(KeyError, match="not a country link"):
        catalogue.link("P31")


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["properties"].append(dict(d["properties"][0])), "duplicate property"),
        (lambda d: d["properties"][0].update(type="url"), "answer type"),
        (lambda d: d["properties"][0].update(applies_to=["spaceship"]), "applies_to must name known classes"),
        (lambda d: d["properties"][0].update(pid="P17 ."), "not a Wikidata property ID"),
        (lambda d: d["links"][0].update(path="wdt:P17 ?x"), "truthy property path"),
        (lambda d: d["classes"].update(bad="Q1 }"), "not a Wikidata item ID"),
    ],
)
def test_a_bad_catalogue_fails_fast(mutate, message):
    data = copy.deepcopy(json.loads(REGISTRY.read_text(encoding="utf-8")))
    mutate(data)
    with pytest.raises(ValueError, match=message):
        parse_catalogue(data)
