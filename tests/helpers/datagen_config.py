"""Compose the real `configs/data_gen.yaml` in-process (Hydra compose API) for stage tests."""

from __future__ import annotations

from pathlib import Path

from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs"
NO_MODELS = ("refine.backend=none", "filter.backend=none", "progress=false")


def datagen_config(out_dir: Path, *overrides: str) -> DictConfig:
    """The data_gen config for `out_dir` with `overrides` (Hydra syntax), as the CLI would see it."""
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        return compose("data_gen", overrides=[f"out_dir={out_dir}", *overrides])
