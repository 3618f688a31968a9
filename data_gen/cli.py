"""The data_gen command line: `python -m data_gen stage=<name> out_dir=<dir> [overrides]` (Hydra).

Stages are a registry of `name → "module:function"`, imported only when run, so later stages
(qa, refine, filter, shards, all) plug in with one `register_stage` line and a broken optional
dependency of one stage never stops another. A stage function takes the composed config and
returns a `StageResult` (its manifest and a summary table, printed at the end).

Errors a user can fix (unknown country, malformed endpoint URL, endpoint down, unwritable
out_dir…) end the run with one line on stderr, `error: …`, and exit code 2; set
DATAGEN_TRACEBACK=1 to see the traceback instead.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict

from data_gen.runtime import DataGenError, check_out_dir
from data_gen.sparql import SparqlError

CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs"
EXIT_USER_ERROR = 2


@dataclass
class StageResult:
    """What a stage hands back: its manifest and a human-readable summary."""

    manifest: dict[str, Any] = field(default_factory=dict)
    summary: str = ""


StageFunction = Callable[[DictConfig], StageResult]
STAGES: dict[str, str] = {
    "entities": "data_gen.entities_stage:run",
    "images": "data_gen.images_stage:run",
    "refine": "data_gen.refine_stage:run",
    "filter": "data_gen.filter_stage:run",
    "qa": "data_gen.qa_stage:run",
    "shards": "data_gen.shards_stage:run",
    "all": "data_gen.all_stage:run",
    "validate": "data_gen.misc_stages:run_validate",
    "import_llava": "data_gen.misc_stages:run_import_llava",
    "stats": "data_gen.misc_stages:run_stats",
}


def register_stage(name: str, target: str) -> None:
    """Add (or replace) a stage: `target` is `"package.module:function"`."""
    if ":" not in target:
        raise ValueError(f"stage target {target!r} must look like 'module:function'")
    STAGES[name] = target


def resolve_stage(name: str) -> StageFunction:
    if name not in STAGES:
        raise DataGenError(f"unknown stage {name!r}; known: {', '.join(sorted(STAGES))}")
    module_name, function_name = STAGES[name].split(":")
    return getattr(importlib.import_module(module_name), function_name)


USER_ERRORS = (DataGenError, SparqlError, ValueError, OSError)


def stage_name(cfg: DictConfig) -> str:
    """The stage asked for: `cfg.stage` when a caller set it, else Hydra's choice of the `stage` group.

    `stage` is also a config group of the training configs (configs/stage/), so on the command line
    `stage=entities` is a group choice; configs/data_gen.yaml lists it as `optional` so any name is
    accepted and recorded in `hydra.runtime.choices`.
    """
    value = cfg.get("stage")
    if isinstance(value, str) and value:
        return value
    choice = None
    if HydraConfig.initialized():
        choice = HydraConfig.get().runtime.choices.get("stage")
    if not choice:
        raise DataGenError("no stage given: python -m data_gen stage=<name> out_dir=<dir>")
    return str(choice)


def run(cfg: DictConfig) -> int:
    """Run the configured stage; return the process exit code."""
    try:
        name = stage_name(cfg)
        stage = resolve_stage(name)
        with open_dict(cfg):
            cfg.stage = name  # stages and manifests see the name, not a training `stage` group
        check_out_dir(cfg.out_dir)
        result = stage(cfg)
    except USER_ERRORS as error:
        if os.environ.get("DATAGEN_TRACEBACK"):
            raise
        message = " ".join(str(error).split()) or type(error).__name__
        print(f"error: {message}", file=sys.stderr)
        return EXIT_USER_ERROR
    if result.summary:
        print(result.summary)
    return 0


@hydra.main(config_path=str(CONFIG_DIR), config_name="data_gen", version_base="1.3")
def main(cfg: DictConfig) -> None:
    code = run(cfg)
    if code:
        sys.exit(code)
