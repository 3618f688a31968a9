"""data_gen's `model: tiny`: a random refinement LLM and relevance VLM, built once per folder.

Offline here, so the demo and the tests run data_gen's real transformers backends on models built
from configs: the refinement LLM is the tiny Qwen2; the VLM is the tiny LlavaNext in its filter
shape, saved with a `LlavaNextProcessor` and loaded back through `AutoModelForImageTextToText` /
`AutoProcessor`, exactly as Qwen2.5-VL or a Pangea HF checkpoint would be. Both tokenizers are the
tiny BPE trained with a few extra lines the caller passes: the fixed instruction text of its
prompts (so the shared prefix takes ~350 tokens instead of ~800, roughly what a real tokenizer
needs; prefill dominates CPU time) and, for the VLM, "Yes" and "No", which are single tokens in
real chat tokenizers.

Random weights make random decisions: refined questions from the tiny LLM fail data_gen's guards
(the honest outcome, which shows them at work), and the VLM's P(yes) is an arbitrary number in
[0, 1]. Each model is built in a hidden folder and renamed into place (`atomic_directory`), so
parallel array tasks or a killed run never see half a model.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

from shard_contract.atomic import atomic_directory
from tiny_models.llava_next import FILTER_VLM_SHAPE, build_tiny_llava_next
from tiny_models.qwen2 import build_tiny_qwen2
from tiny_models.tokenizer import train_tiny_tokenizer

REFINE_LLM_FOLDER = "refine_llm"
FILTER_VLM_FOLDER = "filter_vlm"


def ensure_tiny_llm(root: Path, prompt_text: Sequence[str] = (), seed: int = 0) -> Path:
    """The tiny Qwen2 (with its tokenizer) under `root/refine_llm`, built on first use."""

    def build(folder: Path) -> None:
        tokenizer_dir = train_tiny_tokenizer(folder / "tokenizer", extra_text=list(prompt_text) * 10)
        build_tiny_qwen2(folder, tokenizer_dir, seed=seed)
        shutil.rmtree(tokenizer_dir)

    return atomic_directory(Path(root) / REFINE_LLM_FOLDER, build, done_file="config.json")


def ensure_tiny_vlm(root: Path, prompt_text: Sequence[str] = (), seed: int = 0) -> Path:
    """The tiny LlavaNext (filter shape, with its processor) under `root/filter_vlm`, built on first use."""

    def build(folder: Path) -> None:
        extra = ["Yes", "No", "yes", "no"] * 100 + list(prompt_text) * 10
        tokenizer_dir = train_tiny_tokenizer(folder / "tokenizer", extra_text=extra)
        build_tiny_llava_next(folder, tokenizer_dir, FILTER_VLM_SHAPE, seed=seed)
        shutil.rmtree(tokenizer_dir)

    return atomic_directory(Path(root) / FILTER_VLM_FOLDER, build, done_file="config.json")
