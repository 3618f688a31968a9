"""The tiny vision tower: a 3-layer open_clip ViT registered as a local model config (no network).

`resources/open_clip/tiny-vit-14-56-quickgelu.json` is an ordinary open_clip model config; once
registered, `open_clip.create_model(TINY_CLIP_MODEL_NAME, pretrained=<weights>)` loads the saved
weights exactly as it loads `ViT-L-14-336-quickgelu` from a local file on a cluster.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import open_clip
import torch

from tiny_models.tokenizer import RESOURCES

TINY_CLIP_MODEL_NAME = "tiny-vit-14-56-quickgelu"
_CONFIG_FILE = RESOURCES / "open_clip" / f"{TINY_CLIP_MODEL_NAME}.json"


@dataclass(frozen=True)
class TinyVitShape:
    """The tower's architecture, as an HF `CLIPVisionConfig` needs it."""

    image_size: int
    patch_size: int
    width: int
    layers: int
    heads: int
    intermediate_size: int
    quick_gelu: bool


def tiny_vit_shape() -> TinyVitShape:
    """The registered tiny ViT's architecture, read from its open_clip config."""
    config = json.loads(_CONFIG_FILE.read_text(encoding="utf-8"))
    vision = config["vision_cfg"]
    width = int(vision["width"])
    return TinyVitShape(
        image_size=int(vision["image_size"]), patch_size=int(vision["patch_size"]), width=width,
        layers=int(vision["layers"]), heads=width // int(vision.get("head_width", 64)),
        intermediate_size=int(width * float(vision.get("mlp_ratio", 4.0))), quick_gelu=bool(config["quick_gelu"]),
    )


def write_tiny_open_clip_config(out_file: Path) -> Path:
    """Copy the tiny ViT's open_clip config beside its weights (what `vision.open_clip_config` names)."""
    out_file = Path(out_file)
    out_file.parent.mkdir(parents=True, exist_ok=True)
    out_file.write_bytes(_CONFIG_FILE.read_bytes())
    return out_file


def register_tiny_open_clip() -> str:
    """Register the tiny ViT as a local open_clip model config (no network); return its name."""
    if TINY_CLIP_MODEL_NAME not in open_clip.list_models():
        with resources.as_file(_CONFIG_FILE) as path:
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
