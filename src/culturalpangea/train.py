"""`python -m culturalpangea.train experiment=<name> [overrides]`: one training run from the Hydra config.

What a run does, in order:
1. write the run folder: the resolved config (credentials scrubbed) and a run ID derived from it;
2. build the VLM from the `model` group (`init_from_hf` starts from a LlavaNext checkpoint such as
   Pangea-7B; otherwise vision/LLM weights come from their own paths), the data module over the
   weighted shard sources of the `data` group (its image preprocessing and tokenizer are the
   model's), and the LightningModule with the `stage` group's freeze plan;
3. build loggers (W&B with offline fallback, CSV), callbacks (checkpoints, LR, throughput/MFU,
   sample generations) and the Trainer (derived accumulation, strategy by config, SLURM requeue);
4. fit, resuming from `ckpt_path` (`last` = the newest checkpoint in the run folder); on SIGUSR1
   or SIGTERM (SLURM time limit, pre-emption) a checkpoint is written at the next step boundary
   and the run stops for the batch script to requeue it (callbacks/preemption.py);
5. export the final weights on rank 0: `<run_dir>/export/project` (this project's format) and
   `<run_dir>/export/hf` (HF LlavaNext, for transformers and lmms-eval).

The same entry point runs a laptop demo (`experiment=demo`), a two-process CPU DDP test, a
multi-node SLURM job (`sbatch slurm/train.sh …`) and a Hydra sweep (`-m …`, optionally through
the submitit SLURM launcher, `hydra/launcher=slurm`).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import hydra
import lightning as L
from hydra.core.hydra_config import HydraConfig
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import DictConfig, OmegaConf

from culturalpangea.callbacks.preemption import PreemptionCheckpoint
from culturalpangea.callbacks.sample_generations import SampleGenerations
from culturalpangea.callbacks.throughput import ThroughputMonitor
from culturalpangea.config import config_dir, register_resolvers
from culturalpangea.data.datamodule import ShardDataModule
from culturalpangea.data.sources import load_sources
from culturalpangea.errors import EXIT_USER_ERROR, run_reporting_user_errors
from culturalpangea.flops import FlopsModel
from culturalpangea.lit_module import CulturalPangeaModule, OptimConfig
from culturalpangea.optim import StagePlan
from culturalpangea.run_folder import write_run_files
from culturalpangea.settings import OptimSettings, StageSettings, TrainSettings, train_settings
from culturalpangea.training.checkpoints import checkpoint_dir, resolve_ckpt_path
from culturalpangea.training.fingerprint import APPLIED_ON_RESUME, run_fingerprint, select_settings
from culturalpangea.training.log_noise import silence_known_noise
from culturalpangea.training.loggers import build_loggers
from culturalpangea.training.trainer_factory import build_callbacks, build_trainer, world_size
from shard_contract.atomic import remove_temp_files

log = logging.getLogger(__name__)
COMPONENTS = ("vision", "connector", "llm")


@dataclass
class TrainingRun:
    trainer: L.Trainer
    module: CulturalPangeaModule
    datamodule: ShardDataModule
    run_dir: Path
    run_id: str
    preemption: PreemptionCheckpoint
    settings: TrainSettings


def stage_plan(stage: StageSettings) -> StagePlan:
    """`train_<component>` flags and learning-rate multipliers of the `stage` group."""
    trainable = {name: bool(getattr(stage, f"train_{name}")) for name in COMPONENTS}
    return StagePlan(trainable, dict(stage.lr_multipliers))


def optim_config(optim: OptimSettings) -> OptimConfig:
    return OptimConfig(lr=optim.lr, weight_decay=optim.weight_decay, betas=tuple(optim.betas),
                       warmup_ratio=optim.warmup_ratio, min_lr_ratio=optim.min_lr_ratio)


def flops_model(components: Mapping[str, Any], plan: StagePlan) -> FlopsModel:
    """The MFU model's parameter counts for this stage (see flops.py)."""
    def count(name: str) -> int:
        return sum(p.numel() for p in components[name].parameters())

    trained = sum(count(name) for name in COMPONENTS if plan.trainable.get(name))
    frozen_llm = 0 if plan.trainable.get("llm") else count("llm")
    llm_config = getattr(components["llm"], "config", None)
    return FlopsModel(
        trained_params=trained,
        frozen_llm_params=frozen_llm,
        vision_params=count("vision"),
        num_layers=int(getattr(llm_config, "num_hidden_layers", 0)),
        hidden_size=int(getattr(llm_config, "hidden_size", 0)),
    )


def build_run(cfg: DictConfig, run_dir: Path) -> TrainingRun:
    """Everything a run needs, built from the composed config (nothing is trained yet)."""
    from culturalpangea.models.builder import build_vlm, prepare_model_files

    settings = train_settings(cfg)  # refuse unknown keys and wrong types before any work
    data = settings.data
    source_config = {name: asdict(source) for name, source in data.sources.items()}
    load_sources(source_config)  # a missing or empty shard folder is named before the model is built
    config = OmegaConf.to_container(cfg, resolve=True)
    run_id = write_run_files(run_dir, config, settings.task_name)
    prepare_model_files(cfg.model)  # before seeding: a first run must start from the same weights as later ones
    L.seed_everything(settings.seed, workers=True)
    model = build_vlm(cfg.model)
    plan = stage_plan(settings.stage)
    components = model.components()
    datamodule = ShardDataModule(
        source_config, model.tokenizer, model.image_preprocessor,
        micro_batch_size=settings.micro_batch_size, num_workers=data.num_workers, max_length=data.max_length,
        seed=data.seed, shuffle_buffer=data.shuffle_buffer, packing=data.packing,
        max_consecutive_skips=data.max_consecutive_skips,
    )
    callbacks_cfg = settings.callbacks
    fingerprint = run_fingerprint(config, getattr(model.llm, "config", None), world_size(settings.trainer))
    module = CulturalPangeaModule(model, components, plan, optim_config(settings.optim), model.batch_to_model_inputs,
                                  max_nonfinite_steps=callbacks_cfg.nan_guard.max_skipped_steps,
                                  fingerprint=fingerprint, applied_settings=select_settings(config, APPLIED_ON_RESUME))
    preemption = PreemptionCheckpoint(run_dir)
    extra: list[L.Callback] = [ThroughputMonitor(flops_model(components, plan)), preemption]
    generations = callbacks_cfg.sample_generations
    if generations:
        extra.append(SampleGenerations(generations.every_n_steps, generations.num_samples, generations.max_new_tokens,
                                       run_dir))
    loggers = build_loggers(settings.logger, run_dir, run_id, config)
    callbacks = build_callbacks(callbacks_cfg, run_dir, extra, has_logger=bool(loggers))
    trainer = build_trainer(settings.trainer, settings.global_batch_size, settings.micro_batch_size, run_dir,
                            callbacks, loggers)
    return TrainingRun(trainer, module, datamodule, run_dir, run_id, preemption, settings)


@rank_zero_only
def export_final(run: TrainingRun) -> Path:
    """Write the trained model as a project checkpoint and, through the convert code, as HF LlavaNext."""
    from culturalpangea.models.checkpoint import convert_to_hf, save_pretrained_vlm

    project = save_pretrained_vlm(run.module.model, run.run_dir / "export" / "project", overwrite=True)
    out = run.run_dir / "export" / "hf"
    convert_to_hf(project, out, overwrite=True)
    log.info("exported the final model: %s (project) and %s (HF LlavaNext)", project, out)
    return out


def run_training(cfg: DictConfig, run_dir: Path | None = None) -> TrainingRun:
    """Build, fit (resuming per `ckpt_path`) and export; returns the run for inspection."""
    register_resolvers()
    silence_known_noise()
    run_dir = Path(run_dir or HydraConfig.get().runtime.output_dir)
    run = build_run(cfg, run_dir)
    if rank_zero_only.rank == 0:
        remove_temp_files(checkpoint_dir(run_dir))  # a checkpoint half-written when the last run died
    ckpt_path = resolve_ckpt_path(run.settings.ckpt_path, run_dir)
    run.trainer.fit(run.module, datamodule=run.datamodule, ckpt_path=ckpt_path)
    if run.preemption.preempted:
        log.warning("stopped for pre-emption at step %d; the restart resumes from the run folder",
                    run.trainer.global_step)
    elif run.settings.export_hf and not run.trainer.interrupted:
        export_final(run)
    return run


register_resolvers()


@hydra.main(config_path=str(config_dir()), config_name="train", version_base="1.3")
def main(cfg: DictConfig) -> None:
    """A user error (unknown setting, missing shards, bad checkpoint) ends in one `error:` line, exit 2;
    a run stopped by a signal exits with 128 + the signal after its checkpoint (never 0)."""
    run = run_reporting_user_errors(lambda: run_training(cfg))
    if isinstance(run, int):
        sys.exit(EXIT_USER_ERROR)
    if run.preemption.preempted:
        sys.exit(run.preemption.exit_code)


if __name__ == "__main__":
    main()
