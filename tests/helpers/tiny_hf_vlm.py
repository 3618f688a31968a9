"""Session-wide tiny HF models for the refine/filter tests, built once under pytest's base temp dir.

The builders live in `tiny_models.stand_ins` (data_gen's `model: tiny` and the demo use them too);
these helpers only put them where every test module of one pytest session finds the same copy,
trained with the same prompt text as data_gen's stand-ins.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from data_gen.backends.prompts import FILTER_INSTRUCTION, FILTER_SYSTEM, REFINE_INSTRUCTION, REFINE_SYSTEM
from tiny_models.stand_ins import ensure_tiny_llm, ensure_tiny_vlm


def tiny_models_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.getbasetemp() / "tiny_refine_filter_models"


def tiny_llm_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny Qwen2 causal LM (with tokenizer) as a HF folder."""
    return ensure_tiny_llm(tiny_models_root(tmp_path_factory), (REFINE_SYSTEM, REFINE_INSTRUCTION))


def tiny_vlm_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny LLaVA-NeXT (`LlavaNextForConditionalGeneration` + `LlavaNextProcessor`) as a HF folder."""
    return ensure_tiny_vlm(tiny_models_root(tmp_path_factory), (FILTER_SYSTEM, FILTER_INSTRUCTION))
