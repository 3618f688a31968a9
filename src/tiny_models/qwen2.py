"""The tiny LLM: a random-weight Qwen2 causal LM sized to the tiny tokenizer's vocabulary."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedTokenizerBase, Qwen2Config

from shard_contract.tokens import IM_END


@dataclass(frozen=True)
class TinyQwen2Shape:
    """Shape of the stand-in LLM; defaults give ~0.3M parameters plus embeddings."""

    hidden_size: int = 64
    intermediate_size: int = 176
    num_hidden_layers: int = 2
    num_attention_heads: int = 4
    num_key_value_heads: int = 2
    max_position_embeddings: int = 4096


def tiny_qwen2_config(tokenizer: PreTrainedTokenizerBase, shape: TinyQwen2Shape | None = None) -> Qwen2Config:
    """The stand-in LLM's config, sized to `tokenizer`'s vocabulary."""
    shape = shape or TinyQwen2Shape()
    return Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=shape.hidden_size,
        intermediate_size=shape.intermediate_size,
        num_hidden_layers=shape.num_hidden_layers,
        num_attention_heads=shape.num_attention_heads,
        num_key_value_heads=shape.num_key_value_heads,
        max_position_embeddings=shape.max_position_embeddings,
        tie_word_embeddings=False,
        eos_token_id=tokenizer.convert_tokens_to_ids(IM_END),
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=None,
    )


def build_tiny_qwen2(out_dir: Path, tokenizer_dir: Path, shape: TinyQwen2Shape | None = None, seed: int = 0) -> Path:
    """Save a random-weight Qwen2 causal LM sized to the tokenizer's vocabulary to `out_dir`."""
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    config = tiny_qwen2_config(tokenizer, shape)
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config)
    out_dir = Path(out_dir)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir
