"""Build the VLM for training from the Hydra `model` group.

Two starts:
- `init_from_hf: <folder>`: the whole model from an HF LlavaNext folder (Pangea-7B) or a project
  checkpoint. The folder defines the architecture; the `vision`/`connector`/`anyres` entries of
  the config must agree with it (checked field by field, so a config that says QuickGELU ViT-L/14
  at 336 px cannot silently run a different tower), and only runtime settings are taken from
  the config (attention, gradient checkpointing, freezing, compute dtype). `llm.path` is ignored.
- otherwise, from parts: the open_clip tower by name + weights file, the LLM + tokenizer from
  `llm.path`, and a freshly initialised connector (the LLaVA alignment-stage situation).

`vision.open_clip_config` registers a local open_clip model config (JSON) before the tower is
looked up by name, for towers open_clip does not ship. `build_tiny_if_missing: true` (the tiny
config) builds the random tiny stack of the separate `tiny_models` package first (imported only
then), so CPU runs and the demo need no separate setup step.

Fast-path switches of the `llm` group (off by default; see llm.py and benchmarks/RESULTS.md):
`compile` (regional `torch.compile` of the decoder layers, `compile_mode`), `fused_linear_cross_entropy`
(liger-kernel when it imports, else the labelled-token head with a warning) and `random_init` (the
architecture of `llm.path` with random weights, for benchmarks; from-parts builds only).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import open_clip
import torch
from omegaconf import DictConfig, OmegaConf

from culturalpangea.errors import ModelConfigError
from culturalpangea.models.connector import Connector
from culturalpangea.models.llm import (
    compile_decoder_layers,
    ensure_image_token,
    fused_linear_cross_entropy,
    load_llm,
    load_tokenizer,
    set_gradient_checkpointing,
)
from culturalpangea.models.loading import load_vlm
from culturalpangea.models.vision import VisionTowerConfig, build_vision_tower
from culturalpangea.models.vlm import AnyresConfig, VisionLanguageModel, VLMConfig

log = logging.getLogger(__name__)

_ARCH_FIELDS = ("image_size", "patch_size", "width", "layers", "heads", "mlp_ratio", "quick_gelu")


def parse_dtype(name: str | torch.dtype | None) -> torch.dtype | None:
    if name is None or isinstance(name, torch.dtype):
        return name
    dtype = getattr(torch, str(name), None)
    if not isinstance(dtype, torch.dtype):
        raise ModelConfigError(f"unknown dtype {name!r}")
    return dtype


def _plain(config: DictConfig | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(config, DictConfig):
        return OmegaConf.to_container(config, resolve=True)  # type: ignore[return-value]
    return {key: _plain(value) if isinstance(value, Mapping) else value for key, value in config.items()}


def _anyres(cfg: Mapping[str, Any]) -> AnyresConfig:
    anyres = dict(cfg.get("anyres") or {"enabled": False})
    return AnyresConfig(
        enabled=bool(anyres.get("enabled", False)),
        grid_pinpoints=tuple(tuple(p) for p in anyres.get("grid_pinpoints") or ()),
        patch_merge=anyres.get("patch_merge", "spatial_unpad"),
        image_newline=bool(anyres.get("image_newline", True)),
    )


def _check_against_config(model: VisionLanguageModel, cfg: Mapping[str, Any], source: str) -> None:
    """The loaded architecture must be the one the config describes."""
    vision, loaded = cfg.get("vision") or {}, model.config.vision
    wanted: dict[str, tuple[Any, Any]] = {}
    if vision.get("open_clip_name"):
        described = VisionTowerConfig.from_open_clip(vision["open_clip_name"], loaded.feature_layer, loaded.select)
        wanted.update({f"vision.{f}": (getattr(described, f), getattr(loaded, f)) for f in _ARCH_FIELDS})
    for key in ("image_size", "feature_layer", "select"):
        if key in vision:
            wanted[f"vision.{key}"] = (vision[key], getattr(loaded, key))
    if (cfg.get("connector") or {}).get("type"):
        wanted["connector.type"] = (cfg["connector"]["type"], model.config.connector_type)
    if cfg.get("anyres") is not None:
        expected, found = _anyres(cfg), model.config.anyres
        wanted["anyres.enabled"] = (expected.enabled, found.enabled)
        if expected.enabled:
            wanted["anyres.grid_pinpoints"] = (expected.grid_pinpoints, found.grid_pinpoints)
            wanted["anyres.image_newline"] = (expected.image_newline, found.image_newline)
    for name, (expected, found) in wanted.items():
        if expected != found:
            raise ModelConfigError(f"model config says {name}={expected!r} but {source} has {found!r}")


def prepare_model_files(model_cfg: DictConfig | Mapping[str, Any]) -> None:
    """Build the tiny stand-ins first when the config asks for them (`build_tiny_if_missing`).

    A caller that seeds its RNGs calls this before seeding: building consumes random numbers, and a
    first run would otherwise start from other weights than every later run with the same seed.
    """
    cfg = _plain(model_cfg)
    if cfg.get("build_tiny_if_missing"):
        from tiny_models.stack import build_tiny_stack

        build_tiny_stack(cfg["tiny_root"])


def register_open_clip_config(vision_cfg: Mapping[str, Any]) -> None:
    """Register `vision.open_clip_config` (a local open_clip model config) under `vision.open_clip_name`."""
    path = vision_cfg.get("open_clip_config")
    if not path:
        return
    path = Path(str(path))
    name = vision_cfg.get("open_clip_name")
    if path.stem != name:
        raise ModelConfigError(f"vision.open_clip_config {path} registers {path.stem!r}, not open_clip_name={name!r}")
    if name in open_clip.list_models():
        return
    if not path.is_file():
        raise FileNotFoundError(f"vision.open_clip_config {path} does not exist")
    open_clip.add_model_config(path)


def _build_from_parts(cfg: Mapping[str, Any], dtype: torch.dtype) -> VisionLanguageModel:
    vision_cfg, llm_cfg = cfg["vision"], cfg["llm"]
    tower_config = VisionTowerConfig.from_open_clip(
        vision_cfg["open_clip_name"], int(vision_cfg.get("feature_layer", -2)), vision_cfg.get("select", "patch")
    )
    if "image_size" in vision_cfg and int(vision_cfg["image_size"]) != tower_config.image_size:
        raise ModelConfigError(f"vision.image_size={vision_cfg['image_size']} but {tower_config.open_clip_name} takes "
                         f"{tower_config.image_size}")
    if not vision_cfg.get("weights"):
        log.warning("vision.weights is empty: the vision tower keeps its random initialisation")
    vision = build_vision_tower(tower_config, vision_cfg.get("weights"), frozen=False)
    llm = load_llm(llm_cfg["path"], dtype=dtype, attn_implementation=llm_cfg.get("attn_implementation"),
                   random_init=bool(llm_cfg.get("random_init", False)))
    tokenizer = load_tokenizer(llm_cfg["path"])
    image_token_id = ensure_image_token(tokenizer, llm)
    config = VLMConfig(vision=tower_config, connector_type=cfg["connector"]["type"], anyres=_anyres(cfg))
    geometry = config.geometry
    connector = Connector(config.connector_type, vision.width, llm.get_input_embeddings().weight.shape[1],
                          image_newline=bool(geometry and geometry.image_newline))
    return VisionLanguageModel(config, vision.to(dtype), connector.to(dtype), llm, tokenizer, image_token_id)


def build_vlm(model_cfg: DictConfig | Mapping[str, Any]) -> VisionLanguageModel:
    """The VLM the `model` config describes, ready for the LightningModule (see module docstring)."""
    cfg = _plain(model_cfg)
    prepare_model_files(cfg)
    vision_cfg, llm_cfg = cfg.get("vision") or {}, cfg.get("llm") or {}
    register_open_clip_config(vision_cfg)
    dtype = parse_dtype(llm_cfg.get("dtype", "float32"))
    if cfg.get("init_from_hf"):
        if llm_cfg.get("random_init"):
            raise ModelConfigError(
                "llm.random_init builds the LLM from llm.path; it cannot be combined with init_from_hf")
        source = str(cfg["init_from_hf"])
        model = load_vlm(source, dtype=dtype, attn_implementation=llm_cfg.get("attn_implementation"))
        _check_against_config(model, cfg, source)
        log.info("model initialised from %s (llm.path is not used)", source)
    else:
        model = _build_from_parts(cfg, dtype)
    if vision_cfg.get("frozen", True):
        model.vision.freeze()
        compute_dtype = parse_dtype(vision_cfg.get("compute_dtype"))
        if compute_dtype is not None:
            model.vision.to(compute_dtype)
    elif vision_cfg.get("compute_dtype"):
        raise ModelConfigError(
            "vision.compute_dtype is for a frozen tower; a trained tower follows the precision plugin")
    set_gradient_checkpointing(model.llm, bool(llm_cfg.get("gradient_checkpointing", False)))
    model.vision.gradient_checkpointing = bool(vision_cfg.get("gradient_checkpointing", False))
    if llm_cfg.get("fused_linear_cross_entropy"):
        model.linear_cross_entropy = fused_linear_cross_entropy()
    if llm_cfg.get("compile"):
        compile_decoder_layers(model.llm, llm_cfg.get("compile_mode"))
    return model
