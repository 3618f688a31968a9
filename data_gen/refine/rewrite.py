"""LLM refinement of template questions: one part of records in, the same records out.

The paper rewrites CulturalGround's template questions with Qwen2.5-72B for fluency. Here every
record of a part becomes one chat request (`data_gen.backends.prompts`), the backend answers all
of them (bounded-concurrency HTTP, vLLM offline or local transformers), and each reply goes
through the guards (`data_gen.refine.guards`). An accepted rewrite replaces the stem through
`data_gen.qa.conversation.with_question` (conversations re-rendered, `provenance.refined = true`); a
rejected one leaves the record exactly as it came, with `provenance.refined = false`. Either way
`provenance.refine_reason` says what happened and the part's stats count it, with the first
rejected reply of each reason kept as an example in the stats sidecar for inspection.

Refinement never drops a record: records out = records in, so the filter and shard stages see
the same sample set whatever the refinement did. `backend: none` copies records through with the
reason "disabled" — the template-only ablation; records left out by `sample_fraction` pass
through the same way with the reason "not_sampled".
"""

from __future__ import annotations

import copy
from collections import Counter
from dataclasses import dataclass
from typing import Any

from data_gen.backends.base import NOT_SAMPLED, BackendSettings, Generation, TextGenerator, is_sampled
from data_gen.backends.prompts import RefineItem, refine_messages
from data_gen.qa.conversation import with_question
from data_gen.refine.guards import GuardSettings, Verdict, check_refinement

Record = dict[str, Any]
EXAMPLE_CHARS = 300


TINY_MAX_NEW_TOKENS = 16  # a random tiny model runs to the limit: the demo keeps it short


@dataclass(frozen=True)
class RefineSettings(BackendSettings, GuardSettings):
    """The `refine:` block of configs/data_gen.yaml: backend settings plus guard limits.

    `max_new_tokens: null` (the default) means 16 for `model: tiny`; for any other model the stage
    sizes it from the data before the first request, and refuses an explicit value too small for the
    reply format (`data_gen/refine/budget.py`). Issue 17: with the demo's 16 tokens every JSON reply
    of a 72B refiner ended `truncated`, silently giving a template-only dataset.
    """

    def __post_init__(self) -> None:
        if self.max_new_tokens is None and self.model == "tiny":
            object.__setattr__(self, "max_new_tokens", TINY_MAX_NEW_TOKENS)
        super().__post_init__()

    @property
    def needs_budget_check(self) -> bool:
        """A real model whose replies the budget must fit (not the tiny random model, not backend none)."""
        return self.backend != "none" and self.model != "tiny"

    def guard_settings(self) -> GuardSettings:
        return GuardSettings(
            max_length_ratio=self.max_length_ratio,
            min_length_ratio=self.min_length_ratio,
            length_slack_chars=self.length_slack_chars,
            min_script_share=self.min_script_share,
            script_share_tolerance=self.script_share_tolerance,
        )


def _kept(record: Record, reason: str) -> Record:
    kept = copy.deepcopy(record)
    provenance = kept.setdefault("provenance", {})
    provenance["refined"] = False
    provenance["refine_reason"] = reason
    return kept


def apply_verdict(record: Record, verdict: Verdict) -> Record:
    """The record with the accepted rewrite, or unchanged (template kept) with the reason."""
    if verdict.question is None:
        return _kept(record, verdict.reason)
    refined = with_question(record, verdict.question, refined=True)
    refined["provenance"]["refine_reason"] = verdict.reason
    return refined


def refine_records(
    records: list[Record], generator: TextGenerator | None, settings: RefineSettings
) -> tuple[list[Record], Counter, dict[str, dict[str, str]]]:
    """Refine one part: (records in input order, counts per reason, first example per rejection)."""
    if generator is None or settings.backend == "none":
        return [_kept(r, "disabled") for r in records], Counter({"disabled": len(records)} if records else {}), {}
    chosen = [i for i, record in enumerate(records) if is_sampled(record, settings.sample_fraction)]
    items = [RefineItem.from_record(records[i]) for i in chosen]
    prompts = [refine_messages(item) for item in items]
    generations = generator.generate(prompts, settings.max_new_tokens) if prompts else []
    if len(generations) != len(items):
        raise RuntimeError(f"backend returned {len(generations)} replies for {len(items)} requests")
    guard_settings = settings.guard_settings()
    out, reasons, examples = [_kept(record, NOT_SAMPLED) for record in records], Counter(), {}
    reasons[NOT_SAMPLED] = len(records) - len(chosen)
    for index, item, generation in zip(chosen, items, generations, strict=True):
        verdict = check_refinement(item, generation, guard_settings)
        out[index] = apply_verdict(records[index], verdict)
        reasons[verdict.reason] += 1
        if verdict.question is None and verdict.reason not in examples:
            examples[verdict.reason] = _example(records[index], generation)
    return out, +reasons, examples


def _example(record: Record, generation: Generation) -> dict[str, str]:
    reply = generation.error or generation.text or ""
    return {"id": str(record.get("id")), "reply": reply[:EXAMPLE_CHARS]}
