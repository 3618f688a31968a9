"""The stages `python -m data_gen stage=<name>` runs: a name → function table, readable by eye and by tools.

A stage function takes the composed config and returns a `StageResult`. Heavy or optional
dependencies (torch models, vLLM, aiohttp) are imported inside the stage functions, so importing
this table stays cheap and a missing optional extra only stops the stage that needs it.
`stage=all` (pipeline/run_all.py) runs the pipeline stages of this table in order.
"""

from __future__ import annotations

from data_gen.common.stage_result import StageFunction
from data_gen.entities.stage import run as run_entities
from data_gen.filter.stage import run as run_filter
from data_gen.images.stage import run as run_images
from data_gen.qa.stage import run as run_qa
from data_gen.refine.stage import run as run_refine
from data_gen.shards.importers import run_import_llava
from data_gen.shards.stage import run as run_shards
from data_gen.shards.stats import run_stats
from data_gen.shards.validate import run_validate

STAGES: dict[str, StageFunction] = {
    "entities": run_entities,
    "images": run_images,
    "qa": run_qa,
    "refine": run_refine,
    "filter": run_filter,
    "shards": run_shards,
    "stats": run_stats,
    "validate": run_validate,
    "import_llava": run_import_llava,
}
