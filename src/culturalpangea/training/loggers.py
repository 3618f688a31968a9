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

log = logging.getLogger(__name__)


def wandb_run_id(run_id: str, run_dir: Path) -> str:
    """Stable across requeues of one run folder, distinct across folders."""
    return f"{run_id}-{hashlib.sha256(str(Path(run_dir).resolve()).encode()).hexdigest()[:6]}"


def _wandb(spec: Mapping[str, Any], run_dir: Path, run_id: str, config: Mapping[str, Any]) -> WandbLogger:
    import wandb

    mode = str(spec.get("mode") or "online")
    save_dir = Path(str(spec.get("save_dir") or run_dir))
    save_dir.mkdir(parents=True, exist_ok=True)
    common = {
        "project": spec.get("project", "culturalpangea"),
        "entity": spec.get("entity"),
        "save_dir": str(save_dir),
        "id": wandb_run_id(run_id, run_dir),
        "name": run_id,
        "resume": "allow",
        "tags": list(spec.get("tags") or []),
        "log_model": bool(spec.get("log_model", False)),
        "config": scrub_secrets(dict(config)),
    }
    settings = wandb.Settings(init_timeout=float(spec.get("init_timeout_s", 90)), silent=True)
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


def build_loggers(logger_cfg: Mapping[str, Any] | None, run_dir: Path, run_id: str,
                  config: Mapping[str, Any]) -> list[Logger]:
    """Loggers named in the `logger:` group (`wandb`, `csv`); an empty group means none."""
    loggers: list[Logger] = []
    for name, raw_spec in dict(logger_cfg or {}).items():
        spec = dict(raw_spec or {})
        if name == "wandb":
            loggers.append(_wandb(spec, run_dir, run_id, config))
        elif name == "csv":
            loggers.append(CSVLogger(save_dir=str(spec.get("save_dir") or run_dir), name="", version="csv"))
        else:
            raise ValueError(f"unknown logger {name!r} in the logger config (known: wandb, csv)")
    return loggers
