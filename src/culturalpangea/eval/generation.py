"""The real generator: a checkpoint loaded through the model package, answering `EvalRequest`s.

Loading and batched generation belong to `culturalpangea.models` (left padding, KV cache, stop at
`<|im_end|>`); this wrapper only converts requests, picks the device and dtype (`auto`: CUDA with
bf16 when available, else CPU with fp32) and counts calls, which the resume test uses to prove that
finished items are not generated again.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from culturalpangea.eval.items import EvalConfigError
from culturalpangea.eval.runner import EvalRequest


def resolve_device(device: str, dtype: str) -> tuple[str, str]:
    """('cuda'|'cpu'|…, dtype name) with `auto` resolved from what this machine has."""
    import torch

    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if dtype == "auto":
        dtype = "bfloat16" if device.startswith("cuda") else "float32"
    return device, dtype


class ModelGenerator:
    """Greedy (or sampled) batched generation with a loaded VLM checkpoint."""

    def __init__(self, checkpoint: str, device: str = "auto", dtype: str = "auto",
                 sampling: Mapping[str, Any] | None = None) -> None:
        import torch

        from culturalpangea.models.loading import load_pretrained_vlm

        self.device, dtype_name = resolve_device(device, dtype)
        if not hasattr(torch, dtype_name):
            raise EvalConfigError(f"dtype {dtype_name!r} is not a torch dtype")
        self.loaded = load_pretrained_vlm(checkpoint, dtype=getattr(torch, dtype_name), device=self.device)
        self.sampling = dict(sampling or {})
        self.calls = 0
        self.requests = 0

    def __call__(self, requests: list[EvalRequest], *, max_new_tokens: int) -> list[str]:
        from culturalpangea.models.generation import GenerationRequest, generate_batch

        self.calls += 1
        self.requests += len(requests)
        batch = [GenerationRequest(messages=r.messages, images=r.images) for r in requests]
        return generate_batch(
            self.loaded, batch, max_new_tokens=max_new_tokens,
            do_sample=bool(self.sampling.get("do_sample", False)),
            temperature=float(self.sampling.get("temperature", 1.0)),
            top_p=float(self.sampling.get("top_p", 1.0)),
            seed=self.sampling.get("seed"),
        )
