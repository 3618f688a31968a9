"""Load a trained VLM from a project checkpoint or straight from an HF LlavaNext folder.

`load_pretrained_vlm(path)` is the entry point for evaluation and generation: it detects the format
from `config.json` (`"format": "culturalpangea-vlm"` or `"model_type": "llava_next"`), loads every
component with its weights checked by name and shape, and returns the model in eval mode with no
trainable parameters, its tokenizer and the image preprocessor that matches it. `load_vlm` is the
same without the inference settings, for starting a training run (`init_from_hf`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file

from culturalpangea.data.image_processing import ImagePreprocessor
from culturalpangea.models.checkpoint import (
    CONNECTOR_FILE,
    LLM_DIR,
    VISION_FILE,
    is_project_checkpoint,
    read_project_config,
)
from culturalpangea.models.connector import Connector
from culturalpangea.models.hf_convert import is_llava_next_dir, open_llava_next
from culturalpangea.models.llm import llm_from_llava_next, load_llm, load_tokenizer
from culturalpangea.models.vision import CLIPVisionTower
from culturalpangea.models.vlm import VisionLanguageModel, VLMConfig
from culturalpangea.models.weights import CheckpointError, check_state_dict


@dataclass
class LoadedVLM:
    model: VisionLanguageModel
    tokenizer: Any
    image_preprocessor: ImagePreprocessor


def _connector(config: VLMConfig, llm_width: int) -> Connector:
    newline = bool(config.anyres.enabled and config.anyres.image_newline)
    return Connector(config.connector_type, config.vision.width, llm_width, image_newline=newline)


def _check_image_token(tokenizer, config: VLMConfig, image_token_id: int, source: Path) -> None:  # noqa: ANN001
    found = tokenizer.convert_tokens_to_ids(config.image_token)
    if found != image_token_id:
        raise CheckpointError(f"{source}: the tokenizer maps {config.image_token} to {found}, the model config to "
                              f"{image_token_id}")


def _load_project(path: Path, dtype: torch.dtype, attn_implementation: str | None) -> VisionLanguageModel:
    config, image_token_id = read_project_config(path)
    llm = load_llm(path / LLM_DIR, dtype=dtype, attn_implementation=attn_implementation)
    vision = CLIPVisionTower(config.vision)
    vision.load_open_clip_state_dict(load_file(str(path / VISION_FILE)), str(path / VISION_FILE))
    connector = _connector(config, llm.get_input_embeddings().weight.shape[1])
    connector_state = load_file(str(path / CONNECTOR_FILE))
    check_state_dict(connector, connector_state, str(path / CONNECTOR_FILE))
    connector.load_state_dict(connector_state)
    tokenizer = load_tokenizer(path / LLM_DIR)
    _check_image_token(tokenizer, config, image_token_id, path)
    return VisionLanguageModel(config, vision.to(dtype), connector.to(dtype), llm, tokenizer, image_token_id)


def _load_llava_next(path: Path, dtype: torch.dtype, attn_implementation: str | None) -> VisionLanguageModel:
    source = open_llava_next(path)
    config = source.vlm_config
    vision = CLIPVisionTower(config.vision)
    vision.load_open_clip_state_dict(source.vision_state(), f"{path} (vision tower)")
    connector = _connector(config, source.text_config.hidden_size)
    connector.load_state_dict(source.connector_state())
    llm = llm_from_llava_next(path, source.text_config, dtype, attn_implementation)
    tokenizer = load_tokenizer(path)
    _check_image_token(tokenizer, config, source.image_token_id, path)
    return VisionLanguageModel(config, vision.to(dtype), connector.to(dtype), llm, tokenizer, source.image_token_id)


def load_vlm(path: str | Path, dtype: torch.dtype = torch.float32, attn_implementation: str | None = "sdpa"
             ) -> VisionLanguageModel:
    """A VLM from a project checkpoint or an HF LlavaNext folder (all parameters trainable)."""
    path = Path(path)
    if is_project_checkpoint(path):
        return _load_project(path, dtype, attn_implementation)
    if is_llava_next_dir(path):
        return _load_llava_next(path, dtype, attn_implementation)
    if not path.exists():
        raise CheckpointError(f"{path} does not exist: point the model at a project checkpoint or an HF LlavaNext "
                              "folder (for the paper's recipe: Pangea-7B-hf, see configs/local/README.md)")
    raise CheckpointError(f"{path}: neither a project checkpoint nor an HF LlavaNext folder (see its config.json)")


def load_pretrained_vlm(
    path: str | Path,
    dtype: torch.dtype = torch.float32,
    device: str | torch.device = "cpu",
    attn_implementation: str | None = "sdpa",
) -> LoadedVLM:
    """A VLM ready for inference: eval mode, no gradients, on `device`, with tokenizer and preprocessor."""
    model = load_vlm(path, dtype=dtype, attn_implementation=attn_implementation)
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    model = model.to(device).eval()
    return LoadedVLM(model=model, tokenizer=model.tokenizer, image_preprocessor=model.image_preprocessor)
