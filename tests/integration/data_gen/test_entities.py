"""Stage 1 end to end: the same queries on a real `oxigraph serve` and on the embedded store agree.

The hand-written snippet (tests/helpers/wikidata_snippet.py) is loaded into an `oxigraph serve`
process on loopback and into an in-process pyoxigraph store; `python -m data_gen stage=entities`
runs against the server through SPARQLWrapper, the library function against the store, and the
per-country files must be byte-identical. A re-run through the CLI is answered from the disk cache.
On the shipped sample (fixtures `oxigraph_server`, `sample_store`): every query the stage sends is
replayed on `oxigraph serve` with equal results, and the CLI runs entities + images on it.
"""

from __future__ import annotations

import json

from data_gen.entities.selection import EntitySettings
from data_gen.entities.stage import run_entities
from data_gen.images.checks import read_image_records
from data_gen.wikidata.client import SparqlClient, StoreBackend
from data_gen.wikidata.regions import load_regions
from tests.helpers.datagen_cli import AGENT, run_cli
from tests.helpers.wikidata_snippet import snippet_store

COUNTRIES = ("FR", "IN", "IL", "JP")


def test_cli_on_oxigraph_serve_equals_the_embedded_store_and_reruns_from_cache(snippet_endpoint, tmp_path):
    served = tmp_path / "served"
    overrides = [
        "stage=entities", f"out_dir={served}", "source=endpoint", f"endpoint.url={snippet_endpoint}", AGENT,
        f"countries=[{','.join(COUNTRIES)}]",
    ]
    first = run_cli(*overrides)
    assert first.returncode == 0, first.stderr
    assert "entities: 8 entities in 4 countries" in first.stdout  # Mount Fuji: no cultural property

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


def _sorted_rows(rows: list[dict]) -> list[str]:
    return sorted(json.dumps(row, sort_keys=True, ensure_ascii=False) for row in rows)


def test_every_stage_query_gives_equal_results_on_oxigraph_serve_and_the_embedded_sample(
    oxigraph_server, sample_store, tmp_path
):
    """Record every query the stage sends to the embedded sample, replay each on `oxigraph serve`."""
    from data_gen.wikidata.client import EndpointBackend, SparqlSettings
    from tests.helpers.datagen_cli import TEST_AGENT
    from tests.helpers.recording_sparql import RecordingBackend

    embedded = RecordingBackend(sample_store)
    embedded_client = SparqlClient(embedded)
    manifest = run_entities(embedded_client, load_regions().countries, EntitySettings(), tmp_path)
    assert manifest["total_entities"] >= 200 and len(embedded.queries) > 100
    settings = SparqlSettings(url=oxigraph_server, user_agent=TEST_AGENT)
    served = SparqlClient(EndpointBackend(settings), settings)
    mine = SparqlClient(StoreBackend(sample_store))
    nonempty = 0
    for query in embedded.queries:
        expected = mine.select(query)
        assert _sorted_rows(served.select(query)) == _sorted_rows(expected), query[:300]
        nonempty += bool(expected)
    assert nonempty > 50 and served.counters.requests == len(embedded.queries)


def test_cli_entities_and_images_on_the_embedded_sample_match_the_endpoint_run(oxigraph_server, tmp_path):
    sample_dir, endpoint_dir = tmp_path / "sample", tmp_path / "endpoint"
    entities = run_cli("stage=entities", f"out_dir={sample_dir}")
    images = run_cli("stage=images", f"out_dir={sample_dir}")
    assert entities.returncode == 0 and images.returncode == 0, entities.stderr + images.stderr
    manifest = json.loads((sample_dir / "entities" / "manifest.json").read_text())
    assert manifest["total_entities"] >= 200 and manifest["run"]["sparql"]["label_queries"] <= 4
    served = run_cli(
        "stage=entities", f"out_dir={endpoint_dir}", "source=endpoint", f"endpoint.url={oxigraph_server}", AGENT
    )
    assert served.returncode == 0, served.stderr
    for path in sorted((sample_dir / "entities").glob("*.jsonl")):
        assert (endpoint_dir / "entities" / path.name).read_bytes() == path.read_bytes(), path.name

    image_manifest = json.loads((sample_dir / "images" / "manifest.json").read_text())
    assert image_manifest["run"]["placeholder"] is True
    assert image_manifest["totals"]["ok"] == manifest["total_images"] - sum(
        count for status, count in image_manifest["totals"].items() if status != "ok"
    )
    assert image_manifest["totals"]["ok"] >= 200
    records = read_image_records(sample_dir, "JP")
    assert records and all(r["placeholder"] and r["license"] == "CC0 1.0" for r in records)
    assert f"images: {image_manifest['totals']['ok']} stored" in images.stdout
    again = run_cli("stage=images", f"out_dir={sample_dir}")
    assert json.loads((sample_dir / "images" / "manifest.json").read_text())["run"]["placeholders_generated"] == 0
    assert again.returncode == 0
