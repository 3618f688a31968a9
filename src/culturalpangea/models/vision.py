"""The vision tower: an open_clip ViT that returns patch features from a chosen layer.

Pangea-7B uses OpenAI's CLIP ViT-L/14-336 (open_clip `ViT-L-14-336-quickgelu`): features are the
hidden states after block L-1 of 24 (`feature_layer: -2`, HF's `hidden_states[-2]`, counting the
embeddings after `ln_pre` as state 0), CLS token dropped. OpenAI's weights were trained with
QuickGELU, so the activation is part of the architecture config: a GELU tower with these weights
runs without error and gives wrong features.

Choices:
- The tower is built from an architecture config (`VisionTowerConfig`), from an open_clip model
  name or from an HF `CLIPVisionConfig`, and holds only the image side (no text tower, no output
  projection). Only standard pre-norm CLIP ViTs are accepted (learned position embeddings,
  `ln_pre`, no layer scale, no attentional pooling): they are what LLaVA-style models use and what
  maps one to one onto HF's `CLIPVisionModel`. Other open_clip options raise a clear error.
- All blocks are kept, even those after the feature layer, so that an exported checkpoint holds
  the full CLIP tower HF expects; only the needed blocks run. The unused ones (and `ln_post`) are
  stored as buffers, not parameters: they stay in every state dict but no optimiser, freeze table
  or DDP reducer sees them (a trained tower would otherwise have parameters without gradients).
- Frozen means: no parameter requires grad. Then the forward runs under `no_grad` and the module
  stays in eval mode whatever `.train()` says. The optimiser stage decides (`apply_freeze`); the
  tower follows its parameters, so a stage that trains the tower gets gradients through it.
- `compute_dtype` stores a frozen tower in that dtype (bf16 on GPUs): half the memory and the
  matmuls at bf16 rate without relying on autocast. Pixels arrive as uint8 and are normalised
  on the device straight into that dtype.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from contextlib import nullcontext
from dataclasses import asdict, dataclass, fields
from functools import partial
from pathlib import Path
from typing import Any

import open_clip
import torch
from open_clip.transformer import LayerNorm, QuickGELU, VisionTransformer
from torch import nn
from torch.utils.checkpoint import checkpoint

from culturalpangea.data.image_processing import normalize_pixels
from culturalpangea.errors import ModelConfigError
from culturalpangea.models.weights import check_state_dict, load_weights_file

log = logging.getLogger(__name__)

# open_clip vision_cfg keys that do not change the patch features (pooling, projection, dropout).
_IRRELEVANT_OPEN_CLIP_KEYS = {
    "pool_type", "final_ln_after_pool", "attn_pooler_queries", "attn_pooler_heads", "output_tokens",
    "patch_dropout", "embed_dim", "head_width", "mlp_ratio", "image_size", "layers", "width", "patch_size",
    "norm_kwargs",
}
_DEFAULT_OFF_OPEN_CLIP_KEYS = {
    "ls_init_value": None, "attentional_pool": False, "no_ln_pre": False, "pos_embed_type": "learnable",
    "timm_model_name": None, "act_kwargs": None, "block_type": None, "qk_norm": False,
    "scaled_cosine_attn": False, "scale_heads": False, "scale_attn_inner": False, "scale_attn": False,
    "scale_fc": False, "input_patchnorm": False, "global_average_pool": False,
}


@dataclass(frozen=True)
class VisionTowerConfig:
    """Architecture of a CLIP ViT image tower and which features it hands to the connector."""

    image_size: int
    patch_size: int
    width: int
    layers: int
    heads: int
    mlp_ratio: float = 4.0
    quick_gelu: bool = True
    layer_norm_eps: float = 1e-5
    feature_layer: int = -2
    select: str = "patch"
    open_clip_name: str | None = None

    def __post_init__(self) -> None:
        if self.image_size % self.patch_size:
            raise ModelConfigError(
                f"vision image_size {self.image_size} is not a multiple of patch_size {self.patch_size}")
        if self.width % self.heads:
            raise ModelConfigError(f"vision width {self.width} is not divisible by {self.heads} heads")
        if self.select != "patch":
            raise ModelConfigError(f"vision select={self.select!r} is not supported: only 'patch' (CLS dropped)")
        self.blocks_to_run()

    def blocks_to_run(self) -> int:
        """Blocks before the feature layer, with HF's indexing (state 0 = embeddings after ln_pre)."""
        index = self.feature_layer + self.layers + 1 if self.feature_layer < 0 else self.feature_layer
        if not 0 <= index <= self.layers:
            raise ModelConfigError(f"feature_layer {self.feature_layer} is outside a {self.layers}-block tower")
        return index

    @property
    def patches_per_side(self) -> int:
        return self.image_size // self.patch_size

    @property
    def tokens_per_crop(self) -> int:
        return self.patches_per_side**2

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> VisionTowerConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ModelConfigError(f"unknown vision config keys: {sorted(unknown)}")
        return cls(**dict(values))

    @classmethod
    def from_open_clip(cls, name: str, feature_layer: int = -2, select: str = "patch") -> VisionTowerConfig:
        """Architecture of open_clip model `name` (a registered config; `-quickgelu` names set QuickGELU)."""
        model_config = open_clip.get_model_config(name)
        if model_config is None:
            raise ModelConfigError(f"open_clip has no model config named {name!r} (register local configs first)")
        vision = dict(model_config["vision_cfg"])
        for key, default in _DEFAULT_OFF_OPEN_CLIP_KEYS.items():
            if vision.get(key, default) not in (default, None, False, {}):
                raise ModelConfigError(f"open_clip model {name}: vision option {key}={vision[key]!r} is not supported")
        unknown = set(vision) - _IRRELEVANT_OPEN_CLIP_KEYS - set(_DEFAULT_OFF_OPEN_CLIP_KEYS)
        if unknown:
            raise ModelConfigError(f"open_clip model {name}: unsupported vision options {sorted(unknown)}")
        width = int(vision["width"])
        image_size, patch_size = vision["image_size"], vision["patch_size"]
        if not (isinstance(image_size, int) and isinstance(patch_size, int)):
            raise ModelConfigError(f"open_clip model {name}: only square images and patches are supported")
        return cls(
            image_size=image_size,
            patch_size=patch_size,
            width=width,
            layers=int(vision["layers"]),
            heads=width // int(vision.get("head_width", 64)),
            mlp_ratio=float(vision.get("mlp_ratio", 4.0)),
            quick_gelu=bool(model_config.get("quick_gelu", False)),
            layer_norm_eps=float((vision.get("norm_kwargs") or {}).get("eps", 1e-5)),
            feature_layer=feature_layer,
            select=select,
            open_clip_name=name,
        )


class CLIPVisionTower(nn.Module):
    """open_clip `VisionTransformer` (image side only) → [crops, patches, width] features."""

    def __init__(self, config: VisionTowerConfig) -> None:
        super().__init__()
        self.config = config
        self.visual = VisionTransformer(
            image_size=config.image_size,
            patch_size=config.patch_size,
            width=config.width,
            layers=config.layers,
            heads=config.heads,
            mlp_ratio=config.mlp_ratio,
            output_dim=config.width,
            act_layer=QuickGELU if config.quick_gelu else nn.GELU,
            norm_layer=partial(LayerNorm, eps=config.layer_norm_eps),
        )
        self.visual.proj = None  # the connector replaces CLIP's output projection
        for unused in [*self.visual.transformer.resblocks[config.blocks_to_run():], self.visual.ln_post]:
            _parameters_to_buffers(unused)
        self.gradient_checkpointing = False

    @property
    def width(self) -> int:
        return self.config.width

    @property
    def dtype(self) -> torch.dtype:
        return self.visual.conv1.weight.dtype

    @property
    def is_frozen(self) -> bool:
        return not any(parameter.requires_grad for parameter in self.parameters())

    def freeze(self) -> CLIPVisionTower:
        for parameter in self.parameters():
            parameter.requires_grad_(False)
        return self.eval()

    def train(self, mode: bool = True) -> CLIPVisionTower:
        return super().train(mode and not self.is_frozen)

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """uint8 or normalised pixels [N, 3, S, S] → features [N, patches, width] in the tower's dtype."""
        expected = (3, self.config.image_size, self.config.image_size)
        if pixel_values.dim() != 4 or tuple(pixel_values.shape[1:]) != expected:
            raise ValueError(f"pixel_values of shape {tuple(pixel_values.shape)}; the tower expects [N, *{expected}]")
        frozen = self.is_frozen
        with torch.no_grad() if frozen else nullcontext():
            features = self._features(normalize_pixels(pixel_values, self.dtype))
        return features.detach() if frozen else features

    def _features(self, pixels: torch.Tensor) -> torch.Tensor:
        visual = self.visual
        x = visual.conv1(pixels).flatten(2).transpose(1, 2)
        cls = visual.class_embedding.to(x.dtype).expand(x.shape[0], 1, -1)
        x = torch.cat([cls, x], dim=1) + visual.positional_embedding.to(x.dtype)
        x = visual.ln_pre(x)
        batch_first = getattr(visual.transformer, "batch_first", True)
        if not batch_first:
            x = x.transpose(0, 1)
        use_checkpoint = self.gradient_checkpointing and self.training and torch.is_grad_enabled()
        for block in visual.transformer.resblocks[: self.config.blocks_to_run()]:
            x = checkpoint(block, x, use_reentrant=False) if use_checkpoint else block(x)
        if not batch_first:
            x = x.transpose(0, 1)
        return x[:, 1:]

    def load_open_clip_state_dict(self, state: Mapping[str, torch.Tensor], source: str) -> None:
        """Load tower weights named as open_clip's `visual.*` (prefix optional; `proj` and text ignored)."""
        state = extract_visual_state(state)
        check_state_dict(self.visual, state, source)
        self.visual.load_state_dict(state, strict=True)


def _parameters_to_buffers(module: nn.Module) -> None:
    for sub in module.modules():
        for name, parameter in list(sub.named_parameters(recurse=False)):
            delattr(sub, name)
            sub.register_buffer(name, parameter.detach())


def extract_visual_state(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The image-tower tensors of an open_clip checkpoint, without the `visual.` prefix.

    Accepts a full CLIP state dict (text tower and projection dropped), an open_clip training
    checkpoint's `module.`-prefixed names, or a tower saved on its own.
    """
    cleaned = {name.removeprefix("module."): tensor for name, tensor in state.items()}
    if any(name.startswith("visual.") for name in cleaned):
        cleaned = {name[len("visual."):]: tensor for name, tensor in cleaned.items() if name.startswith("visual.")}
    cleaned.pop("proj", None)
    return cleaned


def build_vision_tower(
    config: VisionTowerConfig,
    weights: str | Path | None = None,
    frozen: bool = True,
    compute_dtype: torch.dtype | None = None,
    gradient_checkpointing: bool = False,
) -> CLIPVisionTower:
    """A tower from its config, with open_clip weights from a file (safetensors, or a weights-only pickle)."""
    tower = CLIPVisionTower(config)
    if weights is not None:
        state = load_weights_file(Path(weights))
        if "state_dict" in state and not isinstance(state["state_dict"], torch.Tensor):
            state = state["state_dict"]
        tower.load_open_clip_state_dict(state, str(weights))
    tower.gradient_checkpointing = gradient_checkpointing
    if frozen:
        tower.freeze()
    if compute_dtype is not None:
        if not frozen:
            raise ValueError("vision compute_dtype is for a frozen tower; a trained tower follows the precision plugin")
        tower.to(compute_dtype)
    return tower
