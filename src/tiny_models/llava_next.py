"""The one tiny HF LlavaNext builder: `LlavaNextForConditionalGeneration` + `LlavaNextProcessor` folders.

Pangea-7B-hf and the relevance-filter VLMs are HF LlavaNext folders; the tests and the demo need
small ones that load through the same `from_pretrained` / `AutoProcessor` calls. Two shapes:

- `parity_shape()`: the project's tiny ViT (read from its open_clip config) + the tiny Qwen2, with
  anyres pinpoints at the tiny scale; weights redrawn at unit scale so that parity tests against
  the project model compare logits of order one rather than the near-zero logits of HF's 0.02-std
  initialisation;
- `FILTER_VLM_SHAPE`: data_gen's relevance filter stand-in, smaller still (28 px, 2 layers), HF's
  own initialisation.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import (
    AutoTokenizer,
    CLIPVisionConfig,
    LlavaNextConfig,
    LlavaNextForConditionalGeneration,
    LlavaNextImageProcessor,
    LlavaNextProcessor,
    PreTrainedTokenizerBase,
)

from shard_contract.tokens import IMAGE_TOKEN
from tiny_models.qwen2 import TinyQwen2Shape, tiny_qwen2_config
from tiny_models.tokenizer import CHATML_TEMPLATE
from tiny_models.vision import TinyVitShape, tiny_vit_shape

TINY_GRID_PINPOINTS = ((56, 112), (112, 56), (112, 112), (168, 56), (56, 168))


@dataclass(frozen=True)
class TinyLlavaNextShape:
    vision: TinyVitShape
    text: TinyQwen2Shape
    grid_pinpoints: tuple[tuple[int, int], ...]
    spread: bool  # redraw the weights at unit scale (see spread_weights)


def parity_shape() -> TinyLlavaNextShape:
    """The tiny ViT + tiny Qwen2 of `model=tiny`, as one HF LlavaNext."""
    return TinyLlavaNextShape(tiny_vit_shape(), TinyQwen2Shape(), TINY_GRID_PINPOINTS, spread=True)


FILTER_VLM_SHAPE = TinyLlavaNextShape(
    vision=TinyVitShape(image_size=28, patch_size=14, width=32, layers=2, heads=2, intermediate_size=64,
                        quick_gelu=True),
    text=TinyQwen2Shape(hidden_size=64, intermediate_size=128, max_position_embeddings=2048),
    grid_pinpoints=((28, 28), (28, 56), (56, 28), (56, 56)),
    spread=False,
)


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


def llava_next_config(shape: TinyLlavaNextShape, tokenizer: PreTrainedTokenizerBase) -> LlavaNextConfig:
    """The HF config of a tiny LlavaNext: CLIP layer −2 patch features, mlp2x_gelu, anyres + newline."""
    vision = shape.vision
    vision_config = CLIPVisionConfig(
        hidden_size=vision.width, intermediate_size=vision.intermediate_size, num_hidden_layers=vision.layers,
        num_attention_heads=vision.heads, image_size=vision.image_size, patch_size=vision.patch_size,
        hidden_act="quick_gelu" if vision.quick_gelu else "gelu", layer_norm_eps=1e-5,
    )
    config = LlavaNextConfig(
        vision_config=vision_config.to_dict(), text_config=tiny_qwen2_config(tokenizer, shape.text).to_dict(),
        image_token_index=tokenizer.convert_tokens_to_ids(IMAGE_TOKEN),
        image_grid_pinpoints=[list(p) for p in shape.grid_pinpoints],
        vision_feature_layer=-2, vision_feature_select_strategy="default",
        projector_hidden_act="gelu", multimodal_projector_bias=True, tie_word_embeddings=False,
        image_seq_length=(vision.image_size // vision.patch_size) ** 2,
    )
    config.architectures = ["LlavaNextForConditionalGeneration"]
    return config


def build_tiny_llava_next(out_dir: Path, tokenizer_dir: Path, shape: TinyLlavaNextShape | None = None,
                          seed: int = 0) -> Path:
    """Save a random tiny HF LlavaNext folder (model, tokenizer, processor) to `out_dir`."""
    shape = shape or parity_shape()
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    torch.manual_seed(seed)
    model = LlavaNextForConditionalGeneration(llava_next_config(shape, tokenizer))
    if shape.spread:
        spread_weights(model, seed)
    side = shape.vision.image_size
    image_processor = LlavaNextImageProcessor(
        size={"shortest_edge": side}, crop_size={"height": side, "width": side},
        image_grid_pinpoints=[list(p) for p in shape.grid_pinpoints],
    )
    processor = LlavaNextProcessor(
        image_processor=image_processor, tokenizer=tokenizer, patch_size=shape.vision.patch_size,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,  # CLIP's CLS token, dropped by the "default" strategy
        chat_template=CHATML_TEMPLATE,
    )
    out_dir = Path(out_dir)
    model.save_pretrained(out_dir)
    processor.save_pretrained(out_dir)
    return out_dir
