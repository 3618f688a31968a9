"""Optimisation pieces of the recipe: freezing per stage, parameter groups, schedule, accumulation.

- Freezing is explicit and reported: every component is either trained or frozen by the stage
  config, and `trainable_table` prints what that means in parameters (prismatic-vlms style).
- Parameter groups: one learning rate per component (connector, LLM, optional vision tower) and
  no weight decay on biases, norms and other 1-D tensors.
- Schedule: linear warm-up then cosine decay to `min_lr_ratio` of the peak, stepped per optimizer
  step (LLaVA/Pangea use the HF "cosine" schedule with warm-up ratio 0.03).
- Gradient accumulation is derived: global batch = micro batch × world size × accumulation.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import nn
from torch.optim.lr_scheduler import LambdaLR


@dataclass(frozen=True)
class StagePlan:
    """Which components learn, with a learning-rate multiplier each."""

    trainable: Mapping[str, bool]
    lr_multipliers: Mapping[str, float]


def apply_freeze(components: Mapping[str, nn.Module], plan: StagePlan) -> None:
    """Set requires_grad per component; frozen components also go to eval mode for good."""
    for name, module in components.items():
        train = bool(plan.trainable.get(name, False))
        for parameter in module.parameters():
            parameter.requires_grad_(train)
        if not train:
            module.eval()


def trainable_table(components: Mapping[str, nn.Module]) -> str:
    """A Markdown table: parameters per component, how many are trained."""
    lines = ["| component | parameters | trainable | state |", "| --- | ---: | ---: | --- |"]
    total = trained = 0
    for name, module in components.items():
        count = sum(p.numel() for p in module.parameters())
        learn = sum(p.numel() for p in module.parameters() if p.requires_grad)
        total, trained = total + count, trained + learn
        state = "trained" if learn == count and count else ("frozen" if learn == 0 else "partly trained")
        lines.append(f"| {name} | {count:,} | {learn:,} | {state} |")
    lines.append(f"| **total** | {total:,} | {trained:,} | {100 * trained / max(total, 1):.1f}% trained |")
    return "\n".join(lines)


def _no_decay(name: str, parameter: torch.Tensor) -> bool:
    lowered = name.lower()
    return parameter.ndim < 2 or lowered.endswith(".bias") or "norm" in lowered or "image_newline" in lowered


def parameter_groups(
    components: Mapping[str, nn.Module], base_lr: float, lr_multipliers: Mapping[str, float], weight_decay: float
) -> list[dict]:
    """AdamW groups: per component × {decay, no decay}; frozen or zero-lr components left out."""
    groups = []
    for name, module in components.items():
        lr = base_lr * float(lr_multipliers.get(name, 1.0))
        named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
        if lr <= 0 or not named:
            continue
        decay = [p for n, p in named if not _no_decay(n, p)]
        plain = [p for n, p in named if _no_decay(n, p)]
        for params, wd, suffix in ((decay, weight_decay, "decay"), (plain, 0.0, "no_decay")):
            if params:
                groups.append({"params": params, "lr": lr, "weight_decay": wd, "name": f"{name}/{suffix}"})
    if not groups:
        raise ValueError("no trainable parameters: check the stage config (train_connector/train_llm/...)")
    return groups


def warmup_cosine(optimizer: torch.optim.Optimizer, warmup_steps: int, total_steps: int, min_lr_ratio: float = 0.0
                  ) -> LambdaLR:
    """Linear warm-up from 0 over `warmup_steps`, then cosine to `min_lr_ratio` at `total_steps`."""
    if total_steps < 1:
        raise ValueError(f"total_steps must be positive, got {total_steps}")
    warmup_steps = min(max(0, warmup_steps), total_steps)

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
        return min_lr_ratio + (1 - min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))

    return LambdaLR(optimizer, factor)


def accumulation_steps(global_batch: int, micro_batch: int, world_size: int) -> int:
    """Micro-batches per optimizer step; the global batch must divide evenly."""
    per_step = micro_batch * world_size
    if global_batch < per_step or global_batch % per_step:
        raise ValueError(
            f"global batch {global_batch} is not a multiple of micro batch {micro_batch} x world size {world_size}"
        )
    return global_batch // per_step
