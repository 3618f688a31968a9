"""The Lightning Trainer, its callbacks and plugins, from the `trainer:` and `callbacks:` config groups.

- Gradient accumulation is derived, never configured: global batch / (micro batch × world size),
  with the world size read from the trainer config (or SLURM's task count for `devices: auto`).
- Strategies by config: `ddp`, `fsdp` (a `_target_` block, instantiated here) and `deepspeed`.
  In a `_target_` block, `auto_wrap_layers` and `activation_checkpointing_layers` name module
  classes by dotted path (YAML cannot hold a set of classes); they become the strategy's
  `auto_wrap_policy` and `activation_checkpointing_policy` sets.
- Under SLURM, Lightning's SLURM environment supplies ranks and addresses; its auto-requeue is off
  because pre-emption is handled at step boundaries instead (callbacks/preemption.py).
- Checkpoints are written atomically (training/checkpoint_io.py) into `<run_dir>/checkpoints`.
"""

from __future__ import annotations

import inspect
import logging
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import lightning as L
import torch
from hydra.utils import get_class, instantiate
from lightning.pytorch.callbacks import Callback, LearningRateMonitor
from lightning.pytorch.loggers import Logger
from lightning.pytorch.plugins.environments import SLURMEnvironment

from culturalpangea.callbacks.progress import run_progress_bar
from culturalpangea.optim import accumulation_steps
from culturalpangea.settings import CallbackSettings, SettingsError
from culturalpangea.training.checkpoint_io import AtomicCheckpointIO
from culturalpangea.training.checkpoints import RunCheckpoint, checkpoint_dir

log = logging.getLogger(__name__)
NOT_TRAINER_ARGUMENTS = ("accumulate_grad_batches",)
SET_HERE = ("default_root_dir", "callbacks", "logger", "plugins", "reload_dataloaders_every_n_epochs")
TRAINER_ARGUMENTS = set(inspect.signature(L.Trainer.__init__).parameters) - {"self", *SET_HERE}


def devices_per_node(trainer_cfg: Mapping[str, Any]) -> int:
    """How many processes each node runs for this trainer config."""
    devices = trainer_cfg.get("devices", "auto")
    if isinstance(devices, int):
        return devices
    if isinstance(devices, list | tuple):
        return len(devices)
    if str(devices).isdigit():
        return int(devices)
    if os.environ.get("SLURM_NTASKS_PER_NODE", "").isdigit():
        return int(os.environ["SLURM_NTASKS_PER_NODE"])
    if trainer_cfg.get("accelerator") in ("gpu", "cuda", "auto") and torch.cuda.is_available():
        return torch.cuda.device_count()
    return 1


def world_size(trainer_cfg: Mapping[str, Any]) -> int:
    return devices_per_node(trainer_cfg) * int(trainer_cfg.get("num_nodes") or 1)


def build_callbacks(settings: CallbackSettings, run_dir: Path, extra: list[Callback],
                    has_logger: bool = True) -> list[Callback]:
    """Checkpointing and LR monitoring (when something logs) from the config, plus the caller's callbacks."""
    callbacks: list[Callback] = list(extra)
    checkpoint = settings.checkpoint
    if checkpoint:
        callbacks.append(RunCheckpoint(
            dirpath=checkpoint_dir(run_dir),
            filename="step{step:07d}",
            auto_insert_metric_name=False,
            every_n_train_steps=checkpoint.every_n_train_steps,
            save_last=checkpoint.save_last,
            save_top_k=checkpoint.save_top_k,
            enable_version_counter=False,  # one `last.ckpt`, whoever wrote it last (pre-emption, final step)
            # No save at the end of an epoch: a run stopped for pre-emption ends its epoch early, and a
            # save there would overwrite the mid-epoch checkpoint with a "finished" one (the restart would
            # train nothing). The last step is saved by RunCheckpoint.on_train_end instead.
            save_on_train_epoch_end=False,
        ))
    if settings.lr_monitor and has_logger:
        callbacks.append(LearningRateMonitor(logging_interval="step"))
    return callbacks


LAYER_LIST_TO_POLICY = {"auto_wrap_layers": "auto_wrap_policy",
                        "activation_checkpointing_layers": "activation_checkpointing_policy"}


def module_classes(paths: Any, key: str) -> set[type[torch.nn.Module]]:
    """Dotted class paths → the set of module classes a wrap or checkpointing policy takes."""
    if isinstance(paths, str | bytes) or not isinstance(paths, Iterable):
        raise ValueError(f"trainer.strategy.{key} must be a list of dotted class paths, got {paths!r}")
    classes = set()
    for path in paths:
        try:
            cls = get_class(str(path))
        except Exception as error:  # hydra wraps import errors in several exception types
            raise ValueError(f"trainer.strategy.{key}: cannot import {path!r} ({error})") from error
        if not (isinstance(cls, type) and issubclass(cls, torch.nn.Module)):
            raise ValueError(f"trainer.strategy.{key}: {path!r} is not a torch.nn.Module class")
        classes.add(cls)
    return classes


def build_strategy(value: Any) -> Any:
    """A strategy name as is, or a `_target_` block instantiated with its layer lists resolved."""
    if not (isinstance(value, Mapping) and "_target_" in value):
        return value
    arguments = dict(value)
    for key, policy in LAYER_LIST_TO_POLICY.items():
        paths = arguments.pop(key, None)
        if paths:
            arguments[policy] = module_classes(paths, key)
    return instantiate(arguments)


def build_trainer(
    trainer_cfg: Mapping[str, Any],
    global_batch_size: int,
    micro_batch_size: int,
    run_dir: Path,
    callbacks: list[Callback],
    loggers: list[Logger],
) -> L.Trainer:
    """A Trainer with derived accumulation, atomic checkpoints and SLURM requeue where it applies."""
    arguments = {k: v for k, v in dict(trainer_cfg).items() if k not in NOT_TRAINER_ARGUMENTS}
    unknown = sorted(set(arguments) - TRAINER_ARGUMENTS)
    if unknown:
        raise SettingsError(f"trainer: {unknown} are not arguments of lightning.Trainer (see its documentation)")
    world = world_size(trainer_cfg)
    accumulate = accumulation_steps(global_batch_size, micro_batch_size, world)
    arguments["strategy"] = build_strategy(arguments.get("strategy", "auto"))
    strategy = arguments["strategy"]
    strategy_name = (strategy if isinstance(strategy, str) else type(strategy).__name__).lower()
    sharded = "deepspeed" in strategy_name or "fsdp" in strategy_name
    plugins: list[Any] = [] if sharded else [AtomicCheckpointIO()]  # sharded strategies write their own way
    if SLURMEnvironment.detect():
        plugins.append(SLURMEnvironment(auto_requeue=False))
    if arguments.get("enable_progress_bar", True) is not False:
        callbacks = [*callbacks, run_progress_bar()]  # sized to max_steps, not to the epoch
    log.info("world size %d, micro batch %d, accumulation %d → global batch %d",
             world, micro_batch_size, accumulate, world * micro_batch_size * accumulate)
    return L.Trainer(
        **arguments,
        accumulate_grad_batches=accumulate,
        default_root_dir=str(run_dir),
        callbacks=callbacks,
        logger=loggers or False,
        plugins=plugins,
        reload_dataloaders_every_n_epochs=1,
    )
