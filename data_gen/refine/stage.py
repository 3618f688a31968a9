"""`stage=refine`: `qa/` parts → `refine/` parts, every question offered to the refinement LLM.

    python -m data_gen stage=refine out_dir=D refine.backend=http refine.url=http://node:8000/v1 \\
        refine.model=Qwen/Qwen2.5-72B-Instruct [refine.parts=0:40]

Settings are the `refine:` block of configs/data_gen.yaml (`data_gen.refine.rewrite.RefineSettings`).
`backend: none` copies records through unrefined (the template-only ablation). The embedded
default (`source=sample`, `make demo`) runs the transformers backend on the tiny random Qwen2
(`model: tiny`): real batching, chat templating and generation on CPU in seconds, and every reply
rejected by the guards — the honest outcome of a random model. Resume, array slices, the settings
fingerprint and the manifest are handled by `data_gen.backends.stage_loop`.
"""

from __future__ import annotations

import dataclasses
import sys
from collections import Counter
from typing import Any

from omegaconf import DictConfig

from data_gen.backends import make_text_generator, resolve_tiny
from data_gen.backends.prompts import PROMPT_VERSION
from data_gen.backends.stage_loop import ModelStage, PartFunction, run_model_stage
from data_gen.common.layout import Layout
from data_gen.common.parts import PartRef, require_complete
from data_gen.common.settings import settings_from
from data_gen.common.stage_result import StageResult
from data_gen.refine.budget import needed_budget, resolve_budget
from data_gen.refine.rewrite import RefineSettings, refine_records

STAGE = "refine"
INPUT_STAGE = "qa"
BUDGET_FILE = "budget.json"  # the reply-length bound of the current qa input (data_gen/refine/budget.py)
FINGERPRINT_FIELDS = (
    "backend", "model", "api", "max_new_tokens", "max_length_ratio", "min_length_ratio",
    "length_slack_chars", "min_script_share", "script_share_tolerance", "sample_fraction",
)  # fmt: skip


def refine_stage(cfg: DictConfig, settings: RefineSettings) -> ModelStage:
    """The refine stage for `settings`, its backend loaded only when a part needs it."""
    fingerprint = {name: getattr(settings, name) for name in FINGERPRINT_FIELDS}
    fingerprint["prompt_version"] = PROMPT_VERSION
    tiny_root = Layout.of(cfg).tiny_models
    notes: list[str] = []
    seen_reasons: set[str] = set()

    def _part_function() -> PartFunction:
        resolved = resolve_tiny(settings, tiny_root, "llm")
        generator = None if settings.backend == "none" else make_text_generator(resolved)

        def part(ref: PartRef, records: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], Counter]:
            out, reasons, examples = refine_records(records, generator, settings)
            for reason, example in examples.items():
                if reason not in seen_reasons:
                    seen_reasons.add(reason)
                    notes.append(f"example of {reason}: record {example['id']}: {example['reply']!r}")
            return out, reasons

        return part

    return ModelStage(STAGE, INPUT_STAGE, settings, fingerprint, make_part_function=_part_function, notes=notes)


def run(cfg: DictConfig) -> Any:
    """The stage function (registered in data_gen.pipeline.registry)."""

    settings = settings_from(RefineSettings, cfg.get(STAGE) or {})
    if settings.needs_budget_check:
        layout = Layout.of(cfg)
        in_dir = layout.stage(INPUT_STAGE)
        require_complete(in_dir, INPUT_STAGE)
        needed = needed_budget(in_dir, settings.guard_settings(), cache=layout.stage(STAGE) / BUDGET_FILE)
        settings = dataclasses.replace(settings, max_new_tokens=resolve_budget(settings.max_new_tokens, needed))
        print(
            f"[data_gen] refine: max_new_tokens={settings.max_new_tokens} (longest acceptable reply: "
            f"{needed.tokens} tokens, over {needed.records:,} records)",
            file=sys.stderr,
        )
    manifest, summary = run_model_stage(cfg, refine_stage(cfg, settings))
    return StageResult(manifest=manifest, summary=summary)
