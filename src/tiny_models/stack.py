"""The tiny training stack that `model=tiny` names: tokenizer, Qwen2 and open_clip ViT under one folder.

A cluster config names real checkpoints by path (`model.llm.path`, `model.vision.weights`); the
tiny config names the folders built here, so training runs the same loading code on both.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from tiny_models.qwen2 import build_tiny_qwen2
from tiny_models.tokenizer import train_tiny_tokenizer
from tiny_models.vision import (
    TINY_CLIP_MODEL_NAME,
    build_tiny_open_clip_weights,
    register_tiny_open_clip,
    write_tiny_open_clip_config,
)


@dataclass(frozen=True)
class TinyStack:
    """Paths of one complete set of tiny components, as a cluster config would name real ones."""

    tokenizer_dir: Path
    llm_dir: Path
    clip_model_name: str
    clip_weights: Path
    clip_config: Path  # the open_clip model config, registered by name before the tower is built


def build_tiny_stack(root: Path, seed: int = 0) -> TinyStack:
    """Build tokenizer, LLM and vision weights under `root` (idempotent for a given seed)."""
    root = Path(root)
    tokenizer_dir = root / "tokenizer"
    llm_dir = root / "llm"
    clip_weights = root / "vision" / "open_clip_model.safetensors"
    clip_config = root / "vision" / f"{TINY_CLIP_MODEL_NAME}.json"
    if not (tokenizer_dir / "tokenizer.json").exists():
        train_tiny_tokenizer(tokenizer_dir)
    if not (llm_dir / "config.json").exists():
        build_tiny_qwen2(llm_dir, tokenizer_dir, seed=seed)
    if not clip_weights.exists():
        build_tiny_open_clip_weights(clip_weights, seed=seed)
    if not clip_config.exists():
        write_tiny_open_clip_config(clip_config)
    return TinyStack(tokenizer_dir, llm_dir, register_tiny_open_clip(), clip_weights, clip_config)


def main(argv: list[str] | None = None) -> int:
    """`python -m tiny_models <out_dir>`: build the tiny stack and print its paths."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        raise SystemExit("usage: python -m tiny_models <out_dir>")
    stack = build_tiny_stack(Path(args[0]))
    print(f"tokenizer: {stack.tokenizer_dir}\nllm: {stack.llm_dir}")
    print(f"vision: {stack.clip_model_name} {stack.clip_weights}")
    return 0
