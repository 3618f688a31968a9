"""Experiment loggers from the `logger:` config group: W&B (with an offline fallback), CSV, or none.

No credential is read from or written to the repo: W&B uses the cluster's `wandb login` (or
`WANDB_API_KEY` in the environment) and tests run it offline. The W&B run ID is the config-derived
run ID plus a short hash of the run folder, so a requeued SLURM job (same run folder) resumes its
own W&B run while two runs of the same recipe in different folders stay apart.

W&B unreachable: the run is started eagerly (before training) on rank 0; if that fails — no
network, no key, a server error — the logger is rebuilt in offline mode and says where the local
files are (`wandb sync` uploads them later). Training never stops because of the tracker.

CSV history survives a resume (issue 19 §2): Lightning's CSV writer deletes `metrics.csv` when it
finds the folder non-empty, so a requeued run kept only the steps after its checkpoint. Here the
file is kept and appended to; the rows of steps the resumed run trains again (logged by the
killed attempt after its last checkpoint) are dropped at the first new row, so every step
appears once, from the attempt whose weights continued. Rows are flushed every step, so a kill
between two checkpoints loses none of the rows before the one the resume starts from.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lightning.pytorch.loggers import CSVLogger, Logger, WandbLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter
from lightning.pytorch.loggers.logger import rank_zero_experiment
from lightning.pytorch.utilities import rank_zero_only

from culturalpangea.run_folder import scrub_secrets
from culturalpangea.settings import LoggerSettings, WandbSettings
from shard_contract.atomic import atomic_write_text

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


class _HistoryKeepingWriter(ExperimentWriter):
    """Lightning's CSV writer, appending to an existing `metrics.csv` instead of deleting it."""

    def __init__(self, log_dir: str) -> None:
        self._resume_point_seen = False
        super().__init__(log_dir)
        if self._fs.isfile(self.metrics_file_path):
            with self._fs.open(self.metrics_file_path, "r", newline="") as handle:
                self.metrics_keys = sorted(csv.DictReader(handle).fieldnames or [])

    def _check_log_dir_exists(self) -> None:
        """Keep the previous attempts' files (Lightning deletes `metrics.csv` here)."""

    def log_metrics(self, metrics_dict: dict[str, float], step: int | None = None) -> None:
        if not self._resume_point_seen and step is not None:
            self._resume_point_seen = True
            self._drop_rows_from(step)
        super().log_metrics(metrics_dict, step)

    def _drop_rows_from(self, step: int) -> None:
        """Rows of `step` and later belong to an attempt whose weights were not kept: the resume redoes them."""
        path = Path(self.metrics_file_path)
        if not path.is_file():
            return
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            rows, fields = list(reader), reader.fieldnames or []
        kept = [row for row in rows if not row.get("step") or int(float(row["step"])) < step]
        if len(kept) == len(rows):
            return
        text = io.StringIO(newline="")
        writer = csv.DictWriter(text, fieldnames=fields)
        writer.writeheader()
        writer.writerows(kept)
        atomic_write_text(path, text.getvalue())
        log.info("metrics.csv: kept %d rows before step %d, dropped %d rows the resumed run trains again",
                 len(kept), step, len(rows) - len(kept))


class HistoryKeepingCSVLogger(CSVLogger):
    """`CSVLogger` whose `metrics.csv` survives a resume in the same run folder (module docstring)."""

    @property
    @rank_zero_experiment
    def experiment(self) -> ExperimentWriter:
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = _HistoryKeepingWriter(log_dir=self.log_dir)
        return self._experiment


def build_loggers(settings: LoggerSettings, run_dir: Path, run_id: str, config: Mapping[str, Any]) -> list[Logger]:
    """The loggers the `logger:` group names (`wandb`, `csv`); an empty group means none."""
    loggers: list[Logger] = []
    if settings.wandb is not None:
        loggers.append(_wandb(settings.wandb, run_dir, run_id, config))
    if settings.csv is not None:
        # every step's row on disk at once (Lightning flushes every 100 steps): a kill loses no row the
        # resumed run will not write again
        loggers.append(HistoryKeepingCSVLogger(save_dir=settings.csv.save_dir or str(run_dir), name="", version="csv",
                                               flush_logs_every_n_steps=1))
    return loggers
