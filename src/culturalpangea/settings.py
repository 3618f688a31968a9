"""Typed training settings: the composed Hydra config checked against dataclasses before anything is built.

The YAML files under `configs/` hold every default, once; these dataclasses hold none of them
(a field without a default must come from the config) — they fix the *shape*: which keys exist,
their types, which blocks are optional. `train_settings(cfg)` merges the composed config into
OmegaConf structured configs, so a typo (`optim.lrr=…`, `+callbacks.checkpoint.every=…`) or a value
of the wrong type is refused with its full key named, before a model is loaded or a GPU touched,
and the code reads attributes instead of `.get(key, default)` calls that repeat the YAML.

Blocks that belong to other libraries stay open mappings and are checked where they are used:
`trainer` holds Lightning `Trainer` arguments (training/trainer_factory.py checks the names
against Lightning's signature), `paths` only feeds interpolations.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from culturalpangea.errors import UserError


class SettingsError(UserError, ValueError):
    """A training config with unknown keys, missing values or values of the wrong type."""


@dataclass
class OptimSettings:
    lr: float
    weight_decay: float
    betas: list[float]
    warmup_ratio: float
    schedule: str
    min_lr_ratio: float


@dataclass
class StageSettings:
    """Which components train, and their learning-rate multipliers (configs/stage/)."""

    name: str
    train_vision: bool
    train_connector: bool
    train_llm: bool
    lr_multipliers: dict[str, float]


@dataclass
class SourceSettings:
    path: str
    weight: float = 1.0
    samples: int | None = None  # override the manifest's count (rarely needed)


@dataclass
class DataSettings:
    sources: dict[str, SourceSettings]
    num_workers: int
    shuffle_buffer: int
    max_length: int
    packing: bool
    seed: int
    max_consecutive_skips: int
    shards_dir: str | None = None  # only for the interpolations of data/demo.yaml


@dataclass
class CheckpointSettings:
    every_n_train_steps: int
    save_last: bool
    save_top_k: int


@dataclass
class NanGuardSettings:
    max_skipped_steps: int


@dataclass
class SampleGenerationSettings:
    every_n_steps: int
    num_samples: int
    max_new_tokens: int = 32


@dataclass
class CallbackSettings:
    lr_monitor: bool
    nan_guard: NanGuardSettings
    checkpoint: CheckpointSettings | None = None
    sample_generations: SampleGenerationSettings | None = None


@dataclass
class WandbSettings:
    project: str
    mode: str
    entity: str | None = None
    save_dir: str | None = None
    log_model: bool = False
    tags: list[str] = field(default_factory=list)
    init_timeout_s: float = 90.0


@dataclass
class CsvSettings:
    save_dir: str | None = None


@dataclass
class LoggerSettings:
    """The loggers of the `logger` group; an empty group (`logger=none`) means none."""

    wandb: WandbSettings | None = None
    csv: CsvSettings | None = None


@dataclass
class VisionSettings:
    open_clip_name: str
    weights: str | None
    image_size: int
    feature_layer: int
    select: str
    frozen: bool
    compute_dtype: str | None
    gradient_checkpointing: bool
    open_clip_config: str | None = None


@dataclass
class ConnectorSettings:
    type: str


@dataclass
class LLMSettings:
    path: str
    dtype: str
    attn_implementation: str | None
    gradient_checkpointing: bool
    compile: bool
    compile_mode: str | None
    fused_linear_cross_entropy: bool
    random_init: bool


@dataclass
class AnyresSettings:
    enabled: bool
    grid_pinpoints: list[list[int]]
    patch_merge: str
    image_newline: bool


@dataclass
class ModelSettings:
    vision: VisionSettings
    connector: ConnectorSettings
    llm: LLMSettings
    anyres: AnyresSettings
    init_from_hf: str | None
    tiny_root: str | None = None
    build_tiny_if_missing: bool = False


@dataclass
class TrainSettings:
    task_name: str
    seed: int
    global_batch_size: int
    micro_batch_size: int
    optim: OptimSettings
    stage: StageSettings
    data: DataSettings
    model: ModelSettings
    callbacks: CallbackSettings
    logger: LoggerSettings
    trainer: dict[str, Any]
    paths: dict[str, Any]
    ckpt_path: str | None
    export_hf: bool
    cultural_share: float | None = None  # experiment=ablation_mixture: CulturalGround's share of the mixture


def train_settings(cfg: DictConfig) -> TrainSettings:
    """The composed config as `TrainSettings`; SettingsError names the first bad key."""
    try:
        merged = OmegaConf.merge(OmegaConf.structured(TrainSettings), cfg)
        settings = OmegaConf.to_object(merged)
    except OmegaConfBaseException as error:
        message = str(error).splitlines()
        key = getattr(error, "full_key", None)
        raise SettingsError(f"training config: {message[0]}" + (f" (key {key})" if key else "")) from None
    if settings.optim.schedule != "cosine":
        raise SettingsError(f"optim.schedule={settings.optim.schedule!r}: only 'cosine' (with linear warm-up) "
                            "is implemented")
    return settings  # type: ignore[return-value]
