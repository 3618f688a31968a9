"""`stage=filter`: `refine/` parts → `filter/` parts, keeping records whose image the VLM finds relevant.

    python -m data_gen stage=filter out_dir=D filter.backend=http filter.url=http://node:8000/v1 \\
        filter.model=Qwen/Qwen2.5-VL-72B-Instruct filter.threshold=0.5 [filter.parts=0:40]

Settings are the `filter:` block of configs/data_gen.yaml (`data_gen.filter.relevance.FilterSettings`);
image paths in records are relative to out_dir. `backend: none` keeps everything with a null
score (the unfiltered ablation). The embedded default runs the transformers backend on a tiny
random LLaVA-NeXT (`model: tiny`) at threshold 0.0: every record gets a real P(yes) from real
forward passes and none is dropped, since a random model's opinion should not shrink the demo
data. Resume, array slices, the settings fingerprint and the manifest: `data_gen.backends.stage_loop`.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from data_gen.backends import make_yes_no_scorer, resolve_tiny
from data_gen.backends.prompts import PROMPT_VERSION
from data_gen.backends.stage_loop import ModelStage, PartFunction, run_model_stage
from data_gen.common.layout import Layout
from data_gen.common.parts import PartRef
from data_gen.common.settings import settings_from
from data_gen.common.stage_result import StageResult
from data_gen.filter.relevance import FilterSettings, filter_records

STAGE = "filter"
INPUT_STAGE = "refine"
FINGERPRINT_FIELDS = ("backend", "model", "api", "threshold", "top_logprobs", "max_image_side", "sample_fraction")


def filter_stage(cfg: DictConfig, settings: FilterSettings) -> ModelStage:
    """The filter stage for `settings`, its backend loaded only when a part needs it."""
    out_dir = Path(str(cfg.out_dir))
    fingerprint = {name: getattr(settings, name) for name in FINGERPRINT_FIELDS}
    fingerprint["prompt_version"] = PROMPT_VERSION

    def _part_function() -> PartFunction:
        resolved = resolve_tiny(settings, Layout(out_dir).tiny_models, "vlm")
        scorer = None if settings.backend == "none" else make_yes_no_scorer(resolved, settings.top_logprobs)

        def part(ref: PartRef, records: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], Counter]:
            return filter_records(records, scorer, settings, out_dir)

        return part

    return ModelStage(STAGE, INPUT_STAGE, settings, fingerprint, make_part_function=_part_function)


def run(cfg: DictConfig) -> Any:
    """The stage function (registered in data_gen.pipeline.registry)."""

    settings = settings_from(FilterSettings, cfg.get(STAGE) or {})
    manifest, summary = run_model_stage(cfg, filter_stage(cfg, settings))
    return StageResult(manifest=manifest, summary=summary)
