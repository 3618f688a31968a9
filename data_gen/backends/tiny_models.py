"""Tiny random-weight stand-ins for the refinement LLM and the relevance VLM (`model: tiny`).

Offline here, so the demo and the tests run the real transformers code paths on models built from
configs: the refinement LLM is the project's tiny Qwen2 (`culturalpangea.models.tiny`); the VLM is
a tiny `LlavaNextForConditionalGeneration` (2-layer CLIP vision tower at 28 px, 2-layer Qwen2,
anyres pinpoints up to 56 px) with a `LlavaNextProcessor`, both saved as a normal HF folder and
loaded back through `AutoModelForImageTextToText` / `AutoProcessor`, exactly as Qwen2.5-VL or a
Pangea HF checkpoint would be. Both tokenizers are the project's tiny BPE trained with a few extra
lines: the fixed instruction text of their prompts (so the shared prefix takes ~350 tokens instead
of ~800, roughly what a real tokenizer needs; prefill dominates CPU time) and, for the VLM, "Yes"
and "No", which are single tokens in real chat tokenizers.

Random weights make random decisions: refined questions from the tiny LLM fail the guards (which
is the honest outcome and shows them at work), and the VLM's P(yes) is an arbitrary number in
[0, 1]. Each model is built in a temp folder and renamed into place, so parallel array tasks or
a killed run never see half a model.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

TINY = "tiny"
_VLM_SIDE = 28
_PINPOINTS = [[28, 28], [28, 56], [56, 28], [56, 56]]


def _build_atomically(target: Path, build: object) -> Path:
    """Run `build(tmp_dir)` and rename the result to `target` unless it already exists."""
    target = Path(target)
    if (target / "config.json").exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.build-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    build(tmp)  # type: ignore[operator]
    try:
        os.rename(tmp, target)
    except OSError:  # another process finished first: keep theirs
        shutil.rmtree(tmp, ignore_errors=True)
        if not (target / "config.json").exists():
            raise
    return target


def ensure_tiny_llm(root: Path, seed: int = 0) -> Path:
    """The tiny Qwen2 (with its tokenizer) under `root/refine_llm`, built on first use."""
    from culturalpangea.models.tiny import build_tiny_qwen2, train_tiny_tokenizer
    from data_gen.backends.prompts import REFINE_INSTRUCTION, REFINE_SYSTEM

    def build(tmp: Path) -> None:
        tokenizer_dir = train_tiny_tokenizer(tmp / "tokenizer", extra_text=[REFINE_SYSTEM, REFINE_INSTRUCTION] * 10)
        build_tiny_qwen2(tmp, tokenizer_dir, seed=seed)
        shutil.rmtree(tokenizer_dir)

    return _build_atomically(Path(root) / "refine_llm", build)


def build_tiny_vlm(out_dir: Path, seed: int = 0) -> Path:
    """Save a random tiny LLaVA-NeXT model and its processor to `out_dir`."""
    import torch
    from transformers import (
        AutoTokenizer,
        CLIPVisionConfig,
        LlavaNextConfig,
        LlavaNextForConditionalGeneration,
        LlavaNextImageProcessor,
        LlavaNextProcessor,
        Qwen2Config,
    )

    from culturalpangea.models.chat_format import CHATML_TEMPLATE, IM_END, IMAGE_TOKEN
    from culturalpangea.models.tiny import train_tiny_tokenizer

    out_dir = Path(out_dir)
    from data_gen.backends.prompts import FILTER_INSTRUCTION, FILTER_SYSTEM

    extra = ["Yes", "No", "yes", "no"] * 100 + [FILTER_SYSTEM, FILTER_INSTRUCTION] * 10
    tokenizer_dir = train_tiny_tokenizer(out_dir / "tokenizer", extra_text=extra)
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    vision = CLIPVisionConfig(
        hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
        image_size=_VLM_SIDE, patch_size=14, projection_dim=32,
    )  # fmt: skip
    text = Qwen2Config(
        vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048,
        eos_token_id=tokenizer.convert_tokens_to_ids(IM_END), pad_token_id=tokenizer.pad_token_id,
    )  # fmt: skip
    config = LlavaNextConfig(
        vision_config=vision,
        text_config=text,
        image_token_index=tokenizer.convert_tokens_to_ids(IMAGE_TOKEN),
        image_grid_pinpoints=_PINPOINTS,
        vision_feature_layer=-2,
        vision_feature_select_strategy="default",
        image_seq_length=(_VLM_SIDE // 14) ** 2,
    )
    torch.manual_seed(seed)
    model = LlavaNextForConditionalGeneration(config)
    image_processor = LlavaNextImageProcessor(
        size={"shortest_edge": _VLM_SIDE},
        crop_size={"height": _VLM_SIDE, "width": _VLM_SIDE},
        image_grid_pinpoints=_PINPOINTS,
    )
    processor = LlavaNextProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        patch_size=14,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,  # CLIP's CLS token, dropped by the "default" strategy
        chat_template=CHATML_TEMPLATE,
    )
    model.save_pretrained(out_dir)
    processor.save_pretrained(out_dir)
    shutil.rmtree(tokenizer_dir)
    return out_dir


def ensure_tiny_vlm(root: Path, seed: int = 0) -> Path:
    """The tiny LLaVA-NeXT under `root/filter_vlm`, built on first use."""
    return _build_atomically(Path(root) / "filter_vlm", lambda tmp: build_tiny_vlm(tmp, seed=seed))
