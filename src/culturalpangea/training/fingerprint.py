"""What a checkpoint was trained on and with, checked when a run resumes from it.

A resumed run must be the same run: the same data (each source's manifest, weight and sample
count — not its path, so a dataset moved to another disk still resumes), the same recipe (seed,
batch sizes, optimizer, stage, sequence length, packing, data order and the number of data
processes, which the exact data position depends on) and the same architecture. The checkpoint
stores this fingerprint; a resume with any of it changed is refused with the changed keys named,
old → new, instead of silently continuing the old schedule on other data (an `optim.lr` change
used to be ignored while `config.yaml` claimed it applied).

Settings outside the fingerprint may change on resume and are applied: the length of the run
(`trainer.max_steps`, `trainer.max_epochs`), checkpoint and logging intervals, loggers, export.
Their changes are logged against the checkpoint's values (`changed_on_resume`), so the run folder's
`train.log` says what the resumed part ran with; `config.yaml` is the resumed run's config.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from culturalpangea.errors import UserError
from shard_contract.manifest import MANIFEST_NAME, SIZES_NAME

log = logging.getLogger(__name__)

FIXED_SETTINGS = (
    "seed", "global_batch_size", "micro_batch_size", "optim", "stage",
    "data.max_length", "data.packing", "data.seed", "data.shuffle_buffer", "data.num_workers",
    "model.init_from_hf", "model.vision.open_clip_name", "model.vision.image_size", "model.vision.feature_layer",
    "model.vision.select", "model.connector", "model.anyres", "model.llm.dtype",
)
APPLIED_ON_RESUME = ("trainer.max_steps", "trainer.max_epochs", "callbacks", "logger", "export_hf")
LLM_ARCHITECTURE = ("model_type", "hidden_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads",
                    "intermediate_size", "vocab_size")


class ResumeMismatchError(UserError, ValueError):
    """The checkpoint was trained on other data or with other settings than this run asks for."""


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested mappings → {"a.b.c": leaf}."""
    if isinstance(value, Mapping) and value:
        flat: dict[str, Any] = {}
        for key, item in value.items():
            flat.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return flat
    return {prefix: value}


def select_settings(config: Mapping[str, Any], dotted: Iterable[str]) -> dict[str, Any]:
    """The flattened values of `dotted` keys (whole blocks or single settings) of a resolved config."""
    picked: dict[str, Any] = {}
    for key in dotted:
        node: Any = config
        for part in key.split("."):
            node = node.get(part) if isinstance(node, Mapping) else None
        picked.update(flatten(node, key))
    return picked


def _source_digest(folder: Path) -> str:
    """sha256 of a source folder's manifest (or open_clip sizes file): its shards and their counts."""
    for name in (MANIFEST_NAME, SIZES_NAME):
        if (folder / name).is_file():
            return hashlib.sha256((folder / name).read_bytes()).hexdigest()
    return "none"


def run_fingerprint(config: Mapping[str, Any], llm_config: Any, world_size: int) -> dict[str, Any]:
    """The fingerprint of a run about to start: flat dotted keys → JSON-plain values."""
    fingerprint = select_settings(config, FIXED_SETTINGS)
    for name, source in (config.get("data", {}).get("sources") or {}).items():
        fingerprint[f"data.sources.{name}.weight"] = source.get("weight")
        fingerprint[f"data.sources.{name}.samples"] = source.get("samples")
        fingerprint[f"data.sources.{name}.manifest_sha256"] = _source_digest(Path(str(source["path"])))
    for key in LLM_ARCHITECTURE:
        fingerprint[f"model.llm.{key}"] = getattr(llm_config, key, None)
    fingerprint["world_size"] = world_size
    return {key: _plain(value) for key, value in fingerprint.items()}


def _plain(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_plain(item) for item in value]
    return value


def _differences(stored: Mapping[str, Any], current: Mapping[str, Any]) -> list[tuple[str, Any, Any]]:
    """(key, stored value, current value) for every key whose values differ, sorted by key."""
    return [(key, stored.get(key), current.get(key)) for key in sorted(set(stored) | set(current))
            if stored.get(key) != current.get(key)]


def check_resume(stored: Mapping[str, Any] | None, current: Mapping[str, Any], checkpoint: str) -> None:
    """Refuse a resume whose fingerprint differs; name every changed key, old → new."""
    if stored is None:
        log.warning("%s has no run fingerprint (an older checkpoint): data and settings are not checked", checkpoint)
        return
    changed = [f"{key} ({old!r} → {new!r})" for key, old, new in _differences(stored, current)]
    if changed:
        raise ResumeMismatchError(
            f"cannot resume from {checkpoint}: it was trained with other data or settings — {'; '.join(changed)}. "
            "Put them back, or start a new run folder (hydra.run.dir=…) without ckpt_path"
        )


def applied_on_resume(stored: Mapping[str, Any] | None, current: Mapping[str, Any]) -> list[str]:
    """The run-length and logging settings that differ from the checkpoint's (logged, then applied)."""
    if not stored:
        return []
    return [f"{key}: {old!r} → {new!r}" for key, old, new in _differences(stored, current)]
