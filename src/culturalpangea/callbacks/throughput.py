"""Log samples/s, non-pad tokens/s and an MFU estimate over a sliding window of steps.

Time is measured between batch starts on the host (with a CUDA synchronise at the window
edges only), so the figure includes data waiting: it is what the run actually achieves.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Any

import lightning as L
import torch

from culturalpangea.flops import FlopsModel, measured_matmul_flops


class ThroughputMonitor(L.Callback):
    def __init__(self, flops_model: FlopsModel | None = None, window: int = 20, peak_flops: float | None = None,
                 patch_tokens_per_crop: int = 576) -> None:
        self.flops_model = flops_model
        self.window: deque[tuple[float, int, int, float]] = deque(maxlen=window)
        self.peak_flops = peak_flops
        self.patch_tokens_per_crop = patch_tokens_per_crop
        self._last: float | None = None

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        device = pl_module.device
        if self.peak_flops is None and device.type == "cuda":
            self.peak_flops = measured_matmul_flops(device)
        self._last = time.perf_counter()

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any,
                           batch: dict[str, Any], batch_idx: int) -> None:
        if pl_module.device.type == "cuda" and batch_idx % max(1, trainer.log_every_n_steps) == 0:
            torch.cuda.synchronize(pl_module.device)
        now = time.perf_counter()
        elapsed, self._last = now - (self._last or now), now
        lengths = batch.get("sequence_lengths") or batch["attention_mask"].sum(dim=1).tolist()
        crops = int(batch["crops_per_image"].sum()) if batch.get("crops_per_image") is not None else 0
        flops = self.flops_model.step_flops(lengths, crops * self.patch_tokens_per_crop) if self.flops_model else 0.0
        self.window.append((elapsed, len(lengths), int(sum(lengths)), flops))
        seconds = sum(item[0] for item in self.window)
        if seconds <= 0:
            return
        size = len(lengths)
        pl_module.log("perf/samples_per_s", sum(item[1] for item in self.window) / seconds, batch_size=size)
        pl_module.log("perf/tokens_per_s", sum(item[2] for item in self.window) / seconds, batch_size=size)
        if self.flops_model and self.peak_flops:
            mfu = sum(item[3] for item in self.window) / seconds / self.peak_flops
            pl_module.log("perf/mfu", mfu, batch_size=size)
