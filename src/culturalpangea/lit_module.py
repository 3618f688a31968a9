"""The LightningModule: one training step of the VLM, guarded, logged, and resumable.

The module owns no model code: it receives the composed VLM, its components by name (for
freezing and parameter groups) and a function that turns a collated batch into the model's
keyword arguments. What it adds is the recipe around the step:

- explicit freeze per stage, with the table of trainable parameters logged at the start;
- AdamW over per-component groups (fused on CUDA), warm-up + cosine per optimizer step;
- a non-finite loss guard: every rank agrees to skip the step (no backward, no update), the skip is
  counted and logged, and training stops with a clear error after `max_nonfinite_steps`;
- skipped-sample counts from the data workers summed and logged per reason;
- the data position (per worker: epoch, batches, raw samples consumed, pieces of a split sample done)
  saved in every checkpoint and handed back to the DataModule on resume.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import lightning as L
import torch
from lightning.pytorch.utilities import grad_norm
from torch import nn

from culturalpangea.optim import StagePlan, apply_freeze, parameter_groups, trainable_table, warmup_cosine
from culturalpangea.training.fingerprint import applied_on_resume, check_resume

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OptimConfig:
    lr: float = 5e-6
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.999)
    warmup_ratio: float = 0.03
    min_lr_ratio: float = 0.0

    def __post_init__(self) -> None:
        if not (self.lr > 0 and 0 <= self.warmup_ratio < 1 and 0 <= self.min_lr_ratio <= 1):
            raise ValueError(f"invalid optimiser settings: {self}")


class NonFiniteLossError(RuntimeError):
    """Too many steps with NaN/inf loss: the run is diverging or the data is broken."""


class CulturalPangeaModule(L.LightningModule):
    def __init__(
        self,
        model: nn.Module,
        components: Mapping[str, nn.Module],
        plan: StagePlan,
        optim: OptimConfig,
        model_inputs: Callable[[dict[str, Any]], dict[str, Any]],
        max_nonfinite_steps: int = 10,
        fingerprint: dict[str, Any] | None = None,
        applied_settings: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.model = model
        self._components = dict(components)
        self.plan = plan
        self.optim = optim
        self.model_inputs = model_inputs
        self.max_nonfinite_steps = max_nonfinite_steps
        self.fingerprint = fingerprint  # training/fingerprint.py: what a resume must match
        self.applied_settings = applied_settings or {}
        self.nonfinite_steps = 0
        self.skipped_samples: Counter[str] = Counter()
        self.data_position: dict[int, dict[str, int]] = {}
        self.resume_data_position: dict[int, dict[str, int]] | None = None
        apply_freeze(self._components, plan)
        self.freeze_table = trainable_table(self._components)

    def on_fit_start(self) -> None:
        log.info("trainable parameters for stage:\n%s", self.freeze_table)

    def on_train_epoch_start(self) -> None:
        for name, module in self._components.items():  # Lightning's .train() must not wake frozen parts
            if not self.plan.trainable.get(name, False):
                module.eval()

    def _record_batch_side_info(self, batch: Mapping[str, Any]) -> None:
        self.skipped_samples.update(batch.get("skip_counts") or {})
        position = batch.get("data_position")
        if position:
            self.data_position[int(position["worker"])] = {
                key: int(position.get(key, 0)) for key in ("epoch", "batches_done", "consumed", "pieces_done")
            }

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor | None:
        self._record_batch_side_info(batch)
        outputs = self.model(**self.model_inputs(batch))
        loss = outputs.loss if hasattr(outputs, "loss") else outputs["loss"]
        finite = bool(torch.isfinite(loss.detach()).all())
        if not self.trainer.strategy.reduce_boolean_decision(finite, all=True):
            return self._skip_nonfinite(loss)
        batch_size = int(batch["input_ids"].shape[0])
        self.log("train/loss", loss.detach(), prog_bar=True, batch_size=batch_size, sync_dist=False)
        self.log("train/lr", self.trainer.optimizers[0].param_groups[0]["lr"], batch_size=batch_size)
        for reason, count in self.skipped_samples.items():
            self.log(f"data/skipped/{reason}", float(count), batch_size=batch_size, reduce_fx="max")
        return loss

    def _skip_nonfinite(self, loss: torch.Tensor) -> None:
        self.nonfinite_steps += 1
        self.log("train/nonfinite_steps", float(self.nonfinite_steps), batch_size=1)
        log.warning("non-finite loss %s at step %d: step skipped (%d so far)",
                    loss.item(), self.global_step, self.nonfinite_steps)
        if self.nonfinite_steps > self.max_nonfinite_steps:
            raise NonFiniteLossError(
                f"{self.nonfinite_steps} steps with a non-finite loss (limit {self.max_nonfinite_steps}); stopping"
            )

    def on_before_optimizer_step(self, optimizer: torch.optim.Optimizer) -> None:
        norms = grad_norm(self.model, norm_type=2)
        if "grad_2.0_norm_total" in norms:
            self.log("train/grad_norm", norms["grad_2.0_norm_total"], batch_size=1)

    def configure_optimizers(self) -> dict[str, Any]:
        groups = parameter_groups(self._components, self.optim.lr, self.plan.lr_multipliers, self.optim.weight_decay)
        fused = all(p.is_cuda for group in groups for p in group["params"])
        optimizer = torch.optim.AdamW(groups, lr=self.optim.lr, betas=self.optim.betas, fused=fused or None)
        total = max(1, int(self.trainer.estimated_stepping_batches))
        scheduler = warmup_cosine(optimizer, math.ceil(self.optim.warmup_ratio * total), total, self.optim.min_lr_ratio)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    def _all_data_positions(self) -> dict[int, dict[str, int]]:
        """Every rank's worker positions (checkpoint hooks run on all ranks, so a gather is safe)."""
        if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
            return dict(self.data_position)
        gathered: list[dict[int, dict[str, int]]] = [{} for _ in range(torch.distributed.get_world_size())]
        torch.distributed.all_gather_object(gathered, self.data_position)
        return {worker: pos for part in gathered for worker, pos in part.items()}

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["culturalpangea"] = {
            "data_position": {str(worker): pos for worker, pos in self._all_data_positions().items()},
            "nonfinite_steps": self.nonfinite_steps,
            "skipped_samples": dict(self.skipped_samples),
            "fingerprint": self.fingerprint,
            "applied_settings": self.applied_settings,
        }

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        state = checkpoint.get("culturalpangea", {})
        if self.fingerprint is not None:
            source = str((self._trainer and self._trainer.ckpt_path) or "the checkpoint")
            check_resume(state.get("fingerprint"), self.fingerprint, source)
            for change in applied_on_resume(state.get("applied_settings"), self.applied_settings):
                log.info("resuming with a changed setting (applied): %s", change)
        self.nonfinite_steps = int(state.get("nonfinite_steps", 0))
        self.skipped_samples = Counter(state.get("skipped_samples", {}))
        self.resume_data_position = {int(w): p for w, p in state.get("data_position", {}).items()}
        self.data_position = dict(self.resume_data_position)
        if self.resume_data_position:
            log.info("data position restored from the checkpoint (per data worker: epoch, batches, samples): %s",
                     {w: (p["epoch"], p["batches_done"], p["consumed"]) for w, p in self.resume_data_position.items()})
