"""The loopback SPARQL endpoint fixture: a real `oxigraph serve` process that answers SPARQL-JSON."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request

from tests.helpers.oxigraph_server import OxigraphServer

TURTLE = b"""
@prefix wd: <http://www.wikidata.org/entity/> .
@prefix wdt: <http://www.wikidata.org/prop/direct/> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
wd:Q243 wdt:P17 wd:Q142 ; rdfs:label "Eiffel Tower"@en, "tour Eiffel"@fr .
wd:Q142 rdfs:label "France"@en .
"""


def _select(url: str, query: str) -> list[dict]:
    request = urllib.request.Request(
        f"{url}?{urllib.parse.urlencode({'query': query})}",
        headers={"Accept": "application/sparql-results+json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)["results"]["bindings"]


def test_server_starts_loads_turtle_and_answers_queries(tmp_path):
    with OxigraphServer(tmp_path / "db") as server:
        server.load_turtle(TURTLE)
        rows = _select(
            server.query_url,
            "PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#> "
            "SELECT ?label WHERE { <http://www.wikidata.org/entity/Q243> rdfs:label ?label "
            "FILTER(LANG(?label) = 'fr') }",
        )
        assert [row["label"]["value"] for row in rows] == ["tour Eiffel"]
        assert rows[0]["label"]["xml:lang"] == "fr"
    assert server._process is None


def test_session_fixture_serves_the_embedded_sample(oxigraph_server):
    rows = _select(
        oxigraph_server,
        "PREFIX wdt: <http://www.wikidata.org/prop/direct/> SELECT (COUNT(DISTINCT ?item) AS ?n) "
        "WHERE { ?item wdt:P18 ?image }",
    )
    assert int(rows[0]["n"]["value"]) >= 300
