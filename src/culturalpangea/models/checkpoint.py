"""The project checkpoint format, and conversion from and to HF LlavaNext folders.

A project checkpoint keeps each component in its own native format, so each stays usable alone:

    config.json            {"format": "culturalpangea-vlm", "format_version": 1, "vlm": {...}, "image_token_id": N}
    vision.safetensors     the open_clip VisionTransformer (image side, no projection)
    connector.safetensors  linear_1, linear_2, image_newline
    llm/                   an HF causal-LM folder (config, sharded safetensors, tokenizer, generation config)

Conversions stream tensors file by file (one shard of a 7B model in memory at a time) into an
output folder that appears only when complete; a killed run leaves a hidden `.partial` folder
that the next run replaces, so rerunning gives the same result. Existing outputs are not
replaced without `overwrite`. Each conversion returns a summary of what it wrote and skipped.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from safetensors.torch import load_file
from transformers import AutoConfig, AutoTokenizer, GenerationConfig, LlavaNextImageProcessor

from culturalpangea.models.hf_convert import (
    hf_llm_name,
    hf_tensors_from_components,
    llava_next_config_from_vlm,
    open_llava_next,
)
from culturalpangea.models.vlm import VisionLanguageModel, VLMConfig
from culturalpangea.models.weights import (
    DEFAULT_MAX_SHARD_BYTES,
    CheckpointError,
    ShardedSafetensorsWriter,
    TensorReader,
    atomic_output_dir,
    save_safetensors,
)

PROJECT_FORMAT = "culturalpangea-vlm"
FORMAT_VERSION = 1
VISION_FILE = "vision.safetensors"
CONNECTOR_FILE = "connector.safetensors"
LLM_DIR = "llm"
GENERATION_CONFIG = "generation_config.json"


def is_project_checkpoint(path: Path) -> bool:
    config = Path(path) / "config.json"
    return config.is_file() and json.loads(config.read_text(encoding="utf-8")).get("format") == PROJECT_FORMAT


def write_project_config(folder: Path, config: VLMConfig, image_token_id: int) -> None:
    document = {"format": PROJECT_FORMAT, "format_version": FORMAT_VERSION, "vlm": config.to_dict(),
                "image_token_id": int(image_token_id), "llm_dir": LLM_DIR}
    (Path(folder) / "config.json").write_text(json.dumps(document, indent=2, sort_keys=True), encoding="utf-8")


def read_project_config(folder: Path) -> tuple[VLMConfig, int]:
    folder = Path(folder)
    if not is_project_checkpoint(folder):
        raise CheckpointError(f"{folder} is not a project checkpoint (config.json format != {PROJECT_FORMAT})")
    document = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    if document.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"{folder}: checkpoint format_version {document.get('format_version')} is not "
                              f"{FORMAT_VERSION}")
    for required in (VISION_FILE, CONNECTOR_FILE, f"{LLM_DIR}/config.json"):
        if not (folder / required).is_file():
            raise CheckpointError(f"{folder}: {required} is missing")
    return VLMConfig.from_dict(document["vlm"]), int(document["image_token_id"])


def save_pretrained_vlm(model: VisionLanguageModel, out_dir: Path, overwrite: bool = False,
                        max_shard_size: str | int = "5GB") -> Path:
    """Write `model` (and its tokenizer) as a project checkpoint; returns the folder."""
    out_dir = Path(out_dir)
    with atomic_output_dir(out_dir, overwrite) as work:
        save_safetensors(model.vision.visual.state_dict(), work / VISION_FILE)
        save_safetensors(model.connector.state_dict(), work / CONNECTOR_FILE)
        model.llm.save_pretrained(work / LLM_DIR, max_shard_size=max_shard_size)
        model.tokenizer.save_pretrained(work / LLM_DIR)
        write_project_config(work, model.config, model.image_token_id)
    return out_dir


def convert_from_hf(hf_dir: Path, out_dir: Path, overwrite: bool = False,
                    max_shard_bytes: int = DEFAULT_MAX_SHARD_BYTES) -> dict[str, Any]:
    """HF LlavaNext folder → project checkpoint (tensors streamed, dtypes kept)."""
    source = open_llava_next(Path(hf_dir))
    summary: dict[str, Any] = {"vision_tensors": 0, "connector_tensors": 0, "llm_tensors": 0,
                               "ignored_buffers": source.ignored}
    with atomic_output_dir(Path(out_dir), overwrite) as work:
        vision = source.vision_state()
        save_safetensors(vision, work / VISION_FILE)
        connector = source.connector_state()
        save_safetensors(connector, work / CONNECTOR_FILE)
        llm_dir = work / LLM_DIR
        llm_dir.mkdir()
        writer = ShardedSafetensorsWriter(llm_dir, max_shard_bytes)
        for part in source.iter_llm():
            for name, tensor in sorted(part.items()):
                writer.add(name, tensor)
                summary["llm_tensors"] += 1
        writer.close()
        source.text_config.save_pretrained(llm_dir)
        _copy_generation_config(Path(hf_dir), llm_dir, source.text_config)
        AutoTokenizer.from_pretrained(hf_dir).save_pretrained(llm_dir)
        write_project_config(work, source.vlm_config, source.image_token_id)
        summary.update(vision_tensors=len(vision), connector_tensors=len(connector))
    return summary


def convert_to_hf(project_dir: Path, out_dir: Path, overwrite: bool = False,
                  max_shard_bytes: int = DEFAULT_MAX_SHARD_BYTES) -> dict[str, Any]:
    """Project checkpoint → HF LlavaNext folder with processor, tokenizer and generation config."""
    project_dir = Path(project_dir)
    config, image_token_id = read_project_config(project_dir)
    llm_dir = project_dir / LLM_DIR
    text_config = AutoConfig.from_pretrained(llm_dir)
    llava_config = llava_next_config_from_vlm(config, text_config, image_token_id)
    tokenizer = AutoTokenizer.from_pretrained(llm_dir)
    if tokenizer.convert_tokens_to_ids(config.image_token) != image_token_id:
        raise CheckpointError(f"{llm_dir}: tokenizer id of {config.image_token} differs from config's {image_token_id}")
    summary = {"tensors": 0}
    with atomic_output_dir(Path(out_dir), overwrite) as work:
        writer = ShardedSafetensorsWriter(work, max_shard_bytes)
        vision = load_file(str(project_dir / VISION_FILE))
        connector = load_file(str(project_dir / CONNECTOR_FILE))
        for name, tensor in hf_tensors_from_components(vision, connector, str(project_dir)):
            writer.add(name, tensor)
            summary["tensors"] += 1
        for part in TensorReader(llm_dir).iter_files():
            for name, tensor in sorted(part.items()):
                writer.add(hf_llm_name(name), tensor)
                summary["tensors"] += 1
        writer.close()
        llava_config.save_pretrained(work)
        _copy_generation_config(llm_dir, work, text_config)
        save_llava_next_processor(config, tokenizer, work)
    return summary


def save_llava_next_processor(config: VLMConfig, tokenizer, folder: Path) -> None:  # noqa: ANN001
    """HF processor files in the layout of the released LlavaNext checkpoints (read by transformers 4.x and 5.x).

    `preprocessor_config.json` (the image processor), the tokenizer with its chat template, and a
    `processor_config.json` with only the processor's own settings. The token count it implies
    (patches per crop, CLS counted then dropped by the "default" strategy) equals the model's.
    """
    size = config.vision.image_size
    LlavaNextImageProcessor(
        size={"shortest_edge": size}, crop_size={"height": size, "width": size},
        image_grid_pinpoints=[list(p) for p in config.anyres.grid_pinpoints],
    ).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    settings = {"processor_class": "LlavaNextProcessor", "patch_size": config.vision.patch_size,
                "vision_feature_select_strategy": "default", "image_token": config.image_token,
                "num_additional_image_tokens": 1}
    (Path(folder) / "processor_config.json").write_text(json.dumps(settings, indent=2, sort_keys=True),
                                                        encoding="utf-8")


def _copy_generation_config(source_dir: Path, target_dir: Path, text_config: Any) -> None:
    source = source_dir / GENERATION_CONFIG
    if source.is_file():
        shutil.copyfile(source, target_dir / GENERATION_CONFIG)
    else:
        GenerationConfig.from_model_config(text_config).save_pretrained(target_dir)
