"""HF `LlavaNextForConditionalGeneration` checkpoints ↔ the project's components.

A LlavaNext folder holds four things under one name space: the CLIP vision tower
(`vision_tower.[vision_model.]*`, HF CLIPVisionModel names), the projector
(`multi_modal_projector.linear_{1,2}`), `image_newline`, and the causal LM
(`language_model.model.*` + `language_model.lm_head`, or transformers 5's
`model.language_model.*` + `lm_head`). This module reads either layout, and writes the 4.x layout
(`vision_tower.vision_model.*`, `language_model.model.*`), which is what the released Pangea-7B-hf
uses and what every transformers version since LlavaNext's introduction loads (5.x renames on
load), so lmms-eval on an older transformers reads the export too.

Config mapping: CLIPVisionConfig ↔ `VisionTowerConfig` (QuickGELU from `hidden_act`), the
feature layer and `vision_feature_select_strategy="default"` (CLS dropped) ↔ `select: patch`,
`projector_hidden_act="gelu"` with biases ↔ `mlp2x_gelu`, `image_grid_pinpoints` ↔ anyres.
Anything the project cannot represent exactly (a list of feature layers, "full" selection, another
projector activation, a non-CLIP tower) is refused with the field named, rather than approximated.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import CLIPVisionConfig, LlavaNextConfig, PretrainedConfig

from culturalpangea.errors import ModelConfigError
from culturalpangea.models.clip_mapping import clip_hf_to_open_clip, open_clip_to_clip_hf
from culturalpangea.models.connector import Connector
from culturalpangea.models.llm import causal_lm_class, expected_llm_shapes, tied_optional
from culturalpangea.models.vision import CLIPVisionTower, VisionTowerConfig
from culturalpangea.models.vlm import AnyresConfig, VLMConfig
from culturalpangea.models.weights import CheckpointError, TensorReader, check_shapes, check_state_dict

# (prefix in the HF checkpoint, component, prefix in the component); first match wins.
_HF_PREFIXES = (
    ("language_model.lm_head.", "llm", "lm_head."),
    ("language_model.model.", "llm", "model."),
    ("model.language_model.", "llm", "model."),
    ("lm_head.", "llm", "lm_head."),
    ("model.vision_tower.vision_model.", "vision", ""),
    ("model.vision_tower.", "vision", ""),
    ("vision_tower.vision_model.", "vision", ""),
    ("vision_tower.", "vision", ""),
    ("model.multi_modal_projector.", "connector", ""),
    ("multi_modal_projector.", "connector", ""),
    ("model.image_newline", "connector", "image_newline"),
    ("image_newline", "connector", "image_newline"),
)
_IGNORED_SUFFIXES = (".rotary_emb.inv_freq",)  # buffers some old checkpoints saved


def is_llava_next_dir(path: Path) -> bool:
    config = Path(path) / "config.json"
    if not config.is_file():
        return False
    return json.loads(config.read_text(encoding="utf-8")).get("model_type") == "llava_next"


def classify_hf_name(name: str) -> tuple[str, str] | None:
    """HF LlavaNext tensor name → (component, name inside it), or None if it is a known buffer."""
    if name.endswith(_IGNORED_SUFFIXES):
        return None
    for prefix, component, local in _HF_PREFIXES:
        if prefix.endswith(".") and name.startswith(prefix):
            return component, local + name[len(prefix):]
        if name == prefix:
            return component, local
    raise CheckpointError(f"unexpected tensor {name} in the LlavaNext checkpoint")


def vlm_config_from_llava_next(config: LlavaNextConfig) -> tuple[VLMConfig, PretrainedConfig, int]:
    """(VLMConfig, the LLM's config, the image token id) of an HF LlavaNext config; refuses what it cannot map."""
    vision = config.vision_config
    if vision.model_type != "clip_vision_model":
        raise ModelConfigError(f"vision_config.model_type={vision.model_type!r}: only CLIP vision towers are supported")
    if vision.hidden_act not in ("quick_gelu", "gelu"):
        raise ModelConfigError(
            f"vision_config.hidden_act={vision.hidden_act!r}: only quick_gelu and gelu are supported")
    if not isinstance(config.vision_feature_layer, int):
        raise ModelConfigError(
            f"vision_feature_layer={config.vision_feature_layer!r}: only a single layer is supported")
    if config.vision_feature_select_strategy != "default":
        raise ModelConfigError(
            f"vision_feature_select_strategy={config.vision_feature_select_strategy!r}: only 'default'"
            " (CLS dropped) is supported")
    if config.projector_hidden_act != "gelu" or not getattr(config, "multimodal_projector_bias", True):
        raise ModelConfigError(f"projector_hidden_act={config.projector_hidden_act!r} (with bias) is not mlp2x_gelu")
    mlp_ratio = vision.intermediate_size / vision.hidden_size
    if int(vision.hidden_size * mlp_ratio) != vision.intermediate_size:
        raise ModelConfigError(f"vision intermediate_size {vision.intermediate_size} is not representable in open_clip")
    tower = VisionTowerConfig(
        image_size=vision.image_size, patch_size=vision.patch_size, width=vision.hidden_size,
        layers=vision.num_hidden_layers, heads=vision.num_attention_heads, mlp_ratio=mlp_ratio,
        quick_gelu=vision.hidden_act == "quick_gelu", layer_norm_eps=vision.layer_norm_eps,
        feature_layer=config.vision_feature_layer, select="patch",
    )
    anyres = AnyresConfig(enabled=True, grid_pinpoints=tuple(tuple(p) for p in config.image_grid_pinpoints),
                          patch_merge="spatial_unpad", image_newline=True)
    token_id = getattr(config, "image_token_id", None)
    token_id = token_id if token_id is not None else config.image_token_index
    return VLMConfig(vision=tower, connector_type="mlp2x_gelu", anyres=anyres), config.text_config, int(token_id)


def llava_next_config_from_vlm(config: VLMConfig, text_config: PretrainedConfig, image_token_id: int
                               ) -> LlavaNextConfig:
    """The HF config for an exportable project model (mlp2x_gelu, anyres + spatial_unpad + newline)."""
    if config.connector_type != "mlp2x_gelu":
        raise ModelConfigError(f"connector {config.connector_type!r} cannot be exported: LlavaNext has only mlp2x_gelu")
    if not (config.anyres.enabled and config.anyres.image_newline):
        raise ModelConfigError("only anyres models with spatial_unpad and image_newline can be exported to LlavaNext")
    vision = config.vision
    vision_config = CLIPVisionConfig(
        hidden_size=vision.width, intermediate_size=int(vision.width * vision.mlp_ratio),
        num_hidden_layers=vision.layers, num_attention_heads=vision.heads, image_size=vision.image_size,
        patch_size=vision.patch_size, hidden_act="quick_gelu" if vision.quick_gelu else "gelu",
        layer_norm_eps=vision.layer_norm_eps,
    )
    llava = LlavaNextConfig(
        vision_config=vision_config.to_dict(), text_config=text_config.to_dict(), image_token_index=image_token_id,
        image_grid_pinpoints=[list(p) for p in config.anyres.grid_pinpoints],
        vision_feature_layer=vision.feature_layer, vision_feature_select_strategy="default",
        projector_hidden_act="gelu", multimodal_projector_bias=True,
        tie_word_embeddings=bool(getattr(text_config, "tie_word_embeddings", False)),
        image_seq_length=vision.tokens_per_crop,
    )
    llava.architectures = ["LlavaNextForConditionalGeneration"]
    return llava


@dataclass
class LlavaNextSource:
    """A checked LlavaNext folder: configs, and its tensors readable per component."""

    folder: Path
    vlm_config: VLMConfig
    text_config: PretrainedConfig
    image_token_id: int
    reader: TensorReader
    local_names: dict[str, tuple[str, str]]  # HF name → (component, local name)
    ignored: int

    def _names(self, component: str) -> list[str]:
        return [name for name, (part, _) in self.local_names.items() if part == component]

    def _read(self, component: str) -> dict[str, torch.Tensor]:
        tensors = self.reader.read(self._names(component))
        return {self.local_names[name][1]: tensor for name, tensor in tensors.items()}

    def vision_state(self) -> dict[str, torch.Tensor]:
        """open_clip-named tower tensors, checked against the tower the config describes."""
        state = clip_hf_to_open_clip(self._read("vision"), str(self.folder))
        with torch.device("meta"):
            skeleton = CLIPVisionTower(self.vlm_config.vision)
        check_state_dict(skeleton.visual, state, f"{self.folder} (vision tower)")
        return state

    def connector_state(self) -> dict[str, torch.Tensor]:
        state = self._read("connector")
        vision = self.vlm_config.vision
        with torch.device("meta"):
            skeleton = Connector("mlp2x_gelu", vision.width, self.text_config.hidden_size, image_newline=True)
        check_state_dict(skeleton, state, f"{self.folder} (projector and image_newline)")
        return state

    def iter_llm(self) -> Iterator[dict[str, torch.Tensor]]:
        """LLM tensors named as its own state dict, one source file at a time."""
        for part in self.reader.iter_files(self._names("llm")):
            yield {self.local_names[name][1]: tensor for name, tensor in part.items()}


def open_llava_next(folder: Path) -> LlavaNextSource:
    """Read and check a LlavaNext folder's config and tensor names/shapes (no tensor data yet)."""
    folder = Path(folder)
    if not is_llava_next_dir(folder):
        raise CheckpointError(f"{folder} is not an HF LlavaNext checkpoint (config.json model_type != llava_next)")
    hf_config = LlavaNextConfig.from_pretrained(folder)
    vlm_config, text_config, image_token_id = vlm_config_from_llava_next(hf_config)
    if not getattr(text_config, "architectures", None):
        text_config.architectures = [causal_lm_class(text_config).__name__]
    reader = TensorReader(folder)
    local_names, ignored = {}, 0
    for name in reader.names():
        placed = classify_hf_name(name)
        if placed is None:
            ignored += 1
        else:
            local_names[name] = placed
    shapes = reader.shapes()
    llm_shapes = {local: shapes[name] for name, (part, local) in local_names.items() if part == "llm"}
    check_shapes(expected_llm_shapes(text_config), llm_shapes, f"{folder} (language model)", tied_optional(text_config))
    return LlavaNextSource(folder, vlm_config, text_config, image_token_id, reader, local_names, ignored)


def hf_tensors_from_components(
    vision_state: dict[str, torch.Tensor], connector_state: dict[str, torch.Tensor], source: str
) -> Iterator[tuple[str, torch.Tensor]]:
    """Vision (open_clip names) and connector tensors under their LlavaNext (4.x layout) names."""
    for name, tensor in sorted(open_clip_to_clip_hf(vision_state, source).items()):
        yield f"vision_tower.vision_model.{name}", tensor
    for name, tensor in sorted(connector_state.items()):
        yield (name if name == "image_newline" else f"multi_modal_projector.{name}"), tensor


def hf_llm_name(name: str) -> str:
    """A causal LM's own tensor name → its LlavaNext (4.x layout) name."""
    return f"language_model.{name}"
