"""Stage 1 end to end: the same queries on a real `oxigraph serve` and on the embedded store agree.

The hand-written snippet (tests/helpers/wikidata_snippet.py) is loaded into an `oxigraph serve`
process on loopback and into an in-process pyoxigraph store; `python -m data_gen stage=entities`
runs against the server through SPARQLWrapper, the library function against the store, and the
per-country files must be byte-identical. A re-run through the CLI is answered from the disk cache.
"""

from __future__ import annotations

import json

import pytest

from data_gen.entities import EntitySettings
from data_gen.entities_stage import run_entities
from data_gen.regions import load_regions
from data_gen.sparql import SparqlClient, StoreBackend
from tests.helpers.datagen_cli import AGENT, run_cli
from tests.helpers.oxigraph_server import OxigraphServer
from tests.helpers.wikidata_snippet import TURTLE, snippet_store

COUNTRIES = ("FR", "IN", "IL", "JP")


@pytest.fixture(scope="module")
def snippet_endpoint(tmp_path_factory):
    with OxigraphServer(tmp_path_factory.mktemp("oxigraph_snippet")) as server:
        server.load_turtle(TURTLE)
        yield server.query_url


def test_cli_on_oxigraph_serve_equals_the_embedded_store_and_reruns_from_cache(snippet_endpoint, tmp_path):
    served = tmp_path / "served"
    overrides = [
        "stage=entities", f"out_dir={served}", "source=endpoint", f"endpoint.url={snippet_endpoint}", AGENT,
        f"countries=[{','.join(COUNTRIES)}]",
    ]
    first = run_cli(*overrides)
    assert first.returncode == 0, first.stderr
    assert "entities: 9 entities in 4 countries" in first.stdout

    embedded = tmp_path / "embedded"
    run_entities(SparqlClient(StoreBackend(snippet_store())), load_regions().select(list(COUNTRIES)),
                 EntitySettings(), embedded)
    for code in COUNTRIES:
        file = f"entities/{code}.jsonl"
        assert (served / file).read_bytes() == (embedded / file).read_bytes()

    manifest = json.loads((served / "entities" / "manifest.json").read_text())
    assert manifest["run"]["sparql"]["requests"] == manifest["run"]["sparql"]["queries"] > 0
    assert manifest["config"]["stage"] == "entities" and manifest["config"]["source"] == "endpoint"

    before = {code: (served / "entities" / f"{code}.jsonl").read_bytes() for code in COUNTRIES}
    second = run_cli(*overrides)
    assert second.returncode == 0, second.stderr
    rerun = json.loads((served / "entities" / "manifest.json").read_text())["run"]["sparql"]
    assert rerun["requests"] == 0 and rerun["cache_hits"] == rerun["queries"] == manifest["run"]["sparql"]["queries"]
    assert {code: (served / "entities" / f"{code}.jsonl").read_bytes() for code in COUNTRIES} == before
