"""`recipe=culturalground` (issue 17, item 3): the paper's run as one preset, valid in every block,
with the endpoint settings of WDQS or QLever, and runnable against a real SPARQL server."""

from __future__ import annotations

import json

from data_gen.common.settings import settings_from
from data_gen.entities.selection import EntitySettings
from data_gen.filter.relevance import FilterSettings
from data_gen.images.stage import ImageSettings
from data_gen.qa.generate import QASettings
from data_gen.refine.rewrite import RefineSettings
from tests.helpers.datagen_cli import AGENT, run_cli
from tests.helpers.refine_records import compose_data_gen


def test_the_preset_sets_the_papers_models_scale_and_endpoint_and_every_block_is_valid():
    cfg = compose_data_gen("all", ["out_dir=/tmp/unused", "recipe=culturalground"])
    entities = settings_from(EntitySettings, cfg.entities)
    assert (entities.properties, entities.ranking, entities.max_images) == ("cultural", "regional", 3)
    assert entities.max_per_country * 42 >= 2_000_000  # ~2M entities for ~22M open-ended pairs
    assert entities.sitelinks_path == "^schema:about/wikibase:sitelinks"  # QLever: the raw dump's layout
    assert cfg.source == "endpoint" and "qlever" in cfg.endpoint.url
    refine = settings_from(RefineSettings, {**cfg.refine, "url": "http://127.0.0.1:1/v1"})
    assert (refine.backend, refine.model) == ("http", "Qwen/Qwen2.5-72B-Instruct")
    assert refine.max_new_tokens is None and refine.needs_budget_check  # sized from the data, never 16
    filtering = settings_from(FilterSettings, {**cfg.filter, "url": "http://127.0.0.1:1/v1"})
    assert (filtering.model, filtering.threshold) == ("Qwen/Qwen2.5-VL-72B-Instruct", 0.5)
    settings_from(ImageSettings, {k: v for k, v in cfg.images.items() if k != "commons"})
    settings_from(QASettings, cfg.qa)
    wdqs = compose_data_gen("all", ["out_dir=/tmp/unused", "recipe=culturalground", "sparql=wdqs"])
    assert wdqs.endpoint.url == "https://query.wikidata.org/sparql" and wdqs.endpoint.timeout_s == 60
    assert wdqs.entities.sitelinks_path == "wikibase:sitelinks" and wdqs.endpoint.min_interval_s >= 1


def test_the_preset_runs_entities_on_a_real_sparql_server(snippet_endpoint, tmp_path):
    result = run_cli(
        "stage=entities", f"out_dir={tmp_path}", "recipe=culturalground", f"endpoint.url={snippet_endpoint}",
        "endpoint.min_interval_s=0", "entities.sitelinks_path=wikibase:sitelinks", "countries=[FR,IN]", AGENT,
    )
    assert result.returncode == 0, result.stderr
    manifest = json.loads((tmp_path / "entities" / "manifest.json").read_text())
    assert manifest["settings"]["max_per_country"] == 60000 and manifest["settings"]["ranking"] == "regional"
    assert manifest["countries"]["FR"]["entities"] > 0 and "long_tail" in manifest


def test_the_preset_without_a_refiner_url_stops_with_one_line(tmp_path):
    result = run_cli("stage=refine", f"out_dir={tmp_path}", "recipe=culturalground", AGENT)
    assert result.returncode == 2
    assert "needs url" in result.stderr and "Traceback" not in result.stderr
