"""Training FLOPs of a LLaVA-style step, and the device's measured matmul rate, for MFU.

Model (the one issue 8 asks for, stated so it can be argued with):
- trained parameters: 6·N per token (forward 2N, backward 4N);
- frozen LLM parameters that gradients still flow through: 4·N per token (forward 2N, input
  gradients 2N, no weight gradients);
- causal self-attention in training: 6·L·d·s² per sequence of length s (QKᵀ and AV are 2·s²·d
  each per layer when causal masking halves the full 4·s²·d, times 3 for forward + backward);
- the frozen vision tower under no_grad: 2·N_vision per patch token (forward only).
MFU = model FLOPs per second / the bf16 dense matmul rate measured on the same device in the same
run (vendor peaks are rarely reached and differ per SKU and clock).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class FlopsModel:
    trained_params: int
    frozen_llm_params: int
    vision_params: int
    num_layers: int
    hidden_size: int

    def step_flops(self, sequence_lengths: Sequence[int], patch_tokens: int) -> float:
        """FLOPs of one training step over sequences of these (unpadded) lengths."""
        tokens = sum(sequence_lengths)
        dense = (6 * self.trained_params + 4 * self.frozen_llm_params) * tokens
        attention = sum(6 * self.num_layers * self.hidden_size * length**2 for length in sequence_lengths)
        return float(dense + attention + 2 * self.vision_params * patch_tokens)


def measured_matmul_flops(device: torch.device, dtype: torch.dtype = torch.bfloat16, size: int = 8192,
                          repeats: int = 20) -> float:
    """Dense matmul FLOP/s achieved on `device` (square bf16 matmuls, after a warm-up)."""
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    for _ in range(3):
        a @ b
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return 2 * size**3 * repeats / (time.perf_counter() - start)
