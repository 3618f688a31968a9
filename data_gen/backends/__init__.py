"""Model backends of the refine and filter stages: one interface, three ways to run a model.

`make_text_generator` / `make_yes_no_scorer` pick the implementation named by `backend`
(http, transformers, vllm) and import its heavy dependencies only then: an HTTP run never
imports torch models, and a missing optional vLLM fails with one line naming the extra.
`model: tiny` stands for the tiny random stand-ins built under the run's out_dir by the separate
`tiny_models` package (imported only then), for the demo and tests.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

from data_gen.backends.base import BackendError, BackendSettings, TextGenerator, YesNoScorer

TINY = "tiny"

__all__ = ["BackendError", "BackendSettings", "make_text_generator", "make_yes_no_scorer", "resolve_tiny"]


def resolve_tiny(settings: BackendSettings, tiny_root: Path, kind: str) -> BackendSettings:
    """`model: tiny` → the path of the tiny LLM (kind "llm") or VLM (kind "vlm"), built if needed."""
    if settings.model != TINY or settings.backend == "none":
        return settings
    if settings.backend != "transformers":
        raise BackendError("model 'tiny' is a local random stand-in: use it with backend=transformers")
    from data_gen.backends.prompts import FILTER_INSTRUCTION, FILTER_SYSTEM, REFINE_INSTRUCTION, REFINE_SYSTEM
    from tiny_models.stand_ins import ensure_tiny_llm, ensure_tiny_vlm

    if kind == "llm":
        path = ensure_tiny_llm(tiny_root, prompt_text=(REFINE_SYSTEM, REFINE_INSTRUCTION))
    else:
        path = ensure_tiny_vlm(tiny_root, prompt_text=(FILTER_SYSTEM, FILTER_INSTRUCTION))
    print(f"note: {kind} is a tiny random-weight stand-in ({path}); outputs are not meaningful", file=sys.stderr)
    return dataclasses.replace(settings, model=str(path))


def make_text_generator(settings: BackendSettings) -> TextGenerator:
    """The refinement generator for `settings.backend` (not for "none")."""
    if settings.backend == "http":
        from data_gen.backends.http import HttpTextGenerator

        return HttpTextGenerator(settings)
    if settings.backend == "transformers":
        from data_gen.backends.transformers_backend import TransformersTextGenerator

        return TransformersTextGenerator(settings)
    if settings.backend == "vllm":
        from data_gen.backends.vllm_backend import VllmTextGenerator

        return VllmTextGenerator(settings)
    raise BackendError(f"backend {settings.backend!r} generates nothing")


def make_yes_no_scorer(settings: BackendSettings, top_logprobs: int = 20) -> YesNoScorer:
    """The relevance scorer for `settings.backend` (not for "none")."""
    if settings.backend == "http":
        from data_gen.backends.http import HttpYesNoScorer

        return HttpYesNoScorer(settings, top_logprobs)
    if settings.backend == "transformers":
        from data_gen.backends.transformers_backend import TransformersYesNoScorer

        return TransformersYesNoScorer(settings)
    if settings.backend == "vllm":
        from data_gen.backends.vllm_backend import VllmYesNoScorer

        return VllmYesNoScorer(settings, top_logprobs)
    raise BackendError(f"backend {settings.backend!r} scores nothing")
