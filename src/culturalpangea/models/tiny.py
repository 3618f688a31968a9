"""Tiny random-weight stand-ins for the real checkpoints, for CPU tests and the offline demo.

The model hub is unreachable here, so tests and `make demo` build small models from configs and
save them to disk; every consumer then loads them through the same `from_pretrained` /
open_clip paths that load Qwen2-7B-Instruct and CLIP ViT-L/14-336 on a cluster. Nothing here is
used when real checkpoint paths are configured.

- tokenizer: byte-level BPE trained on the spot on a multilingual seed text (all of Pangea's
  scripts), with the ChatML specials, `<image>` and a Qwen-style chat template;
- LLM: a 2-layer Qwen2 (hidden 64, grouped-query attention) saved as safetensors;
- vision: a 3-layer open_clip ViT (patch 14, 56 px, QuickGELU) registered as a local model config;
- HF LlavaNext: the same shapes as an HF `LlavaNextForConditionalGeneration` folder (what Pangea-7B-hf
  is), with weights redrawn at unit scale so that parity tests compare logits of order one rather
  than the near-zero logits of HF's 0.02-std initialisation.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import open_clip
import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedTokenizerFast, Qwen2Config

from culturalpangea.models.chat_format import (
    CHATML_TEMPLATE,
    END_OF_TEXT,
    IM_END,
    IM_START,
    IMAGE_TOKEN,
    SPECIAL_TOKENS,
)

TINY_CLIP_MODEL_NAME = "tiny-vit-14-56-quickgelu"
_RESOURCES = resources.files("culturalpangea") / "resources"


@dataclass(frozen=True)
class TinyQwen2Shape:
    """Shape of the stand-in LLM; defaults give ~0.3M parameters plus embeddings."""

    hidden_size: int = 64
    intermediate_size: int = 176
    num_hidden_layers: int = 2
    num_attention_heads: int = 4
    num_key_value_heads: int = 2
    max_position_embeddings: int = 4096


def tokenizer_corpus_lines() -> list[str]:
    """Return the multilingual seed text (comment lines dropped, language prefixes stripped)."""
    text = (_RESOURCES / "tokenizer_corpus.txt").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    return [line.split(": ", 1)[-1] for line in lines]


def train_tiny_tokenizer(out_dir: Path, vocab_size: int = 1024, extra_text: list[str] | None = None) -> Path:
    """Train a byte-level BPE tokenizer with ChatML specials and save it in HF format to `out_dir`."""
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=1,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    corpus = tokenizer_corpus_lines() + list(extra_text or [])
    bpe.train_from_iterator(corpus, trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        eos_token=IM_END,
        pad_token=END_OF_TEXT,
        additional_special_tokens=[IM_START, IM_END, IMAGE_TOKEN],
        model_max_length=4096,
        clean_up_tokenization_spaces=False,
    )
    tokenizer.chat_template = CHATML_TEMPLATE
    out_dir = Path(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir


def tiny_qwen2_config(tokenizer, shape: TinyQwen2Shape | None = None) -> Qwen2Config:  # noqa: ANN001
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


def register_tiny_open_clip() -> str:
    """Register the tiny ViT as a local open_clip model config (no network); return its name."""
    if TINY_CLIP_MODEL_NAME not in open_clip.list_models():
        config_file = _RESOURCES / "open_clip" / f"{TINY_CLIP_MODEL_NAME}.json"
        with resources.as_file(config_file) as path:
            open_clip.add_model_config(path)
    return TINY_CLIP_MODEL_NAME


def build_tiny_open_clip_weights(out_file: Path, seed: int = 0) -> Path:
    """Save random tiny open_clip weights as safetensors, loadable as a `pretrained=` path."""
    from safetensors.torch import save_file

    name = register_tiny_open_clip()
    torch.manual_seed(seed)
    model = open_clip.create_model(name, pretrained=None)
    out_file = Path(out_file)
    out_file.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(out_file))
    return out_file


TINY_GRID_PINPOINTS = ((56, 112), (112, 56), (112, 112), (168, 56), (56, 168))


def spread_weights(model: torch.nn.Module, seed: int = 0) -> None:
    """Redraw every weight at unit scale: norms ~1 ± 0.1, biases ~N(0, 0.1), matrices ~N(0, 1/fan_in)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, parameter in sorted(model.named_parameters()):
            noise = torch.randn(parameter.shape, generator=generator)
            if "norm" in name and name.endswith("weight"):
                parameter.copy_(1.0 + 0.1 * noise)
            elif parameter.ndim < 2:
                parameter.copy_(0.1 * noise)
            else:
                fan_in = parameter[0].numel() if parameter.ndim > 1 else 1
                parameter.copy_(noise / fan_in**0.5)


def build_tiny_llava_next(out_dir: Path, tokenizer_dir: Path, seed: int = 0) -> Path:
    """Save a random tiny HF LlavaNext folder (tiny ViT + tiny Qwen2, anyres) with tokenizer and processor."""
    from transformers import LlavaNextForConditionalGeneration

    from culturalpangea.models.checkpoint import save_llava_next_processor
    from culturalpangea.models.hf_convert import llava_next_config_from_vlm
    from culturalpangea.models.vision import VisionTowerConfig
    from culturalpangea.models.vlm import AnyresConfig, VLMConfig

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    vlm_config = VLMConfig(
        vision=VisionTowerConfig.from_open_clip(register_tiny_open_clip()),
        connector_type="mlp2x_gelu",
        anyres=AnyresConfig(enabled=True, grid_pinpoints=TINY_GRID_PINPOINTS),
    )
    config = llava_next_config_from_vlm(
        vlm_config, tiny_qwen2_config(tokenizer), tokenizer.convert_tokens_to_ids(IMAGE_TOKEN)
    )
    torch.manual_seed(seed)
    model = LlavaNextForConditionalGeneration(config)
    spread_weights(model, seed)
    out_dir = Path(out_dir)
    model.save_pretrained(out_dir)
    save_llava_next_processor(vlm_config, tokenizer, out_dir)
    return out_dir


@dataclass(frozen=True)
class TinyStack:
    """Paths of one complete set of tiny components, as a cluster config would name real ones."""

    tokenizer_dir: Path
    llm_dir: Path
    clip_model_name: str
    clip_weights: Path


def build_tiny_stack(root: Path, seed: int = 0) -> TinyStack:
    """Build tokenizer, LLM and vision weights under `root` (idempotent for a given seed)."""
    root = Path(root)
    tokenizer_dir = root / "tokenizer"
    llm_dir = root / "llm"
    clip_weights = root / "vision" / "open_clip_model.safetensors"
    if not (tokenizer_dir / "tokenizer.json").exists():
        train_tiny_tokenizer(tokenizer_dir)
    if not (llm_dir / "config.json").exists():
        build_tiny_qwen2(llm_dir, tokenizer_dir, seed=seed)
    if not clip_weights.exists():
        build_tiny_open_clip_weights(clip_weights, seed=seed)
    return TinyStack(tokenizer_dir, llm_dir, register_tiny_open_clip(), clip_weights)


def main(argv: list[str] | None = None) -> int:
    """`python -m culturalpangea.models.tiny <out_dir>`: build the tiny stack and print its paths."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        raise SystemExit("usage: python -m culturalpangea.models.tiny <out_dir>")
    stack = build_tiny_stack(Path(args[0]))
    print(f"tokenizer: {stack.tokenizer_dir}\nllm: {stack.llm_dir}")
    print(f"vision: {stack.clip_model_name} {stack.clip_weights}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
