"""Experiment loggers from the `logger:` config group: W&B (with an offline fallback), CSV, or none.

No credential is read from or written to the repo: W&B uses the cluster's `wandb login` (or
`WANDB_API_KEY` in the environment) and tests run it offline. The W&B run ID is the config-derived
run ID plus a short hash of the run folder, so a requeued SLURM job (same run folder) resumes its
own W&B run while two runs of the same recipe in different folders stay apart.

W&B unreachable: the run is started eagerly (before training) on rank 0; if that fails — no
network, no key, a server error — the logger is rebuilt in offline mode and says where the local
files are (`wandb sync` uploads them later). Training never stops because of the tracker.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lightning.pytorch.loggers import CSVLogger, Logger, WandbLogger
from lightning.pytorch.utilities import rank_zero_only

from culturalpangea.run_folder import scrub_secrets
from culturalpangea.settings import LoggerSettings, WandbSettings

log = logging.getLogger(__name__)


def wandb_run_id(run_id: str, run_dir: Path) -> str:
    """Stable across requeues of one run folder, distinct across folders."""
    return f"{run_id}-{hashlib.sha256(str(Path(run_dir).resolve()).encode()).hexdigest()[:6]}"


def _wandb(spec: WandbSettings, run_dir: Path, run_id: str, config: Mapping[str, Any]) -> WandbLogger:
    import wandb

    mode = spec.mode or "online"
    save_dir = Path(spec.save_dir or run_dir)
    save_dir.mkdir(parents=True, exist_ok=True)
    common = {
        "project": spec.project,
        "entity": spec.entity,
        "save_dir": str(save_dir),
        "id": wandb_run_id(run_id, run_dir),
        "name": run_id,
        "resume": "allow",
        "tags": list(spec.tags),
        "log_model": spec.log_model,
        "config": scrub_secrets(dict(config)),
    }
    settings = wandb.Settings(init_timeout=spec.init_timeout_s, silent=True)
    logger = WandbLogger(mode=mode, settings=settings, **common)
    if mode == "offline" or rank_zero_only.rank != 0:
        return logger
    try:
        logger.experiment  # noqa: B018 - start the run now rather than at the first log call mid-training
    except Exception as error:  # whatever W&B raises, training must go on
        log.warning("W&B is unreachable (%s: %s); logging offline under %s (upload later with `wandb sync`)",
                    type(error).__name__, str(error).splitlines()[0] if str(error) else "", save_dir)
        wandb.teardown()  # the failed start keeps its run ID busy in the W&B service; start afresh
        logger = WandbLogger(mode="offline", settings=wandb.Settings(silent=True), **common)
    return logger


def build_loggers(settings: LoggerSettings, run_dir: Path, run_id: str, config: Mapping[str, Any]) -> list[Logger]:
    """The loggers the `logger:` group names (`wandb`, `csv`); an empty group means none."""
    loggers: list[Logger] = []
    if settings.wandb is not None:
        loggers.append(_wandb(settings.wandb, run_dir, run_id, config))
    if settings.csv is not None:
        loggers.append(CSVLogger(save_dir=settings.csv.save_dir or str(run_dir), name="", version="csv"))
    return loggers
