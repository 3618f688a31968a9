"""bf16 parity with HF LlavaNext on a GPU (run on the lent device: `make test-gpu`).

Its CPU twin is tests/unit/culturalpangea/test_model_vlm.py::test_fp32_logits_match_hf_llava_next_in_every_case
(same cases, fp32, |diff| ≤ 1e-4). In bf16 a 1e-4 bound is meaningless: bf16 keeps 8 significant
bits, so every matmul output is rounded to ~0.4% of its size, and the two implementations round at
different places (open_clip's fused qkv projection and nn.MultiheadAttention against HF's split
projections and SDPA call; the same LLM kernels but differently shaped inputs). Their results
therefore differ by about as much as either differs from the exact (fp32) result. The test holds
the project's bf16 model to the accuracy of HF's own bf16 model: against HF in fp32 on the same
GPU, its error may be at most 1.5x HF bf16's error, plus two bf16 rounding steps at the size of
the largest logit (the final logits are themselves stored in bf16).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from transformers import LlavaNextForConditionalGeneration

from culturalpangea.models.loading import load_pretrained_vlm
from culturalpangea.models.parity import PARITY_CASES, build_case_inputs, compare_case

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]


def _bf16_step(value: float) -> float:
    """Spacing of bf16 numbers around `value` (7 explicit mantissa bits)."""
    return 2.0 ** (math.floor(math.log2(max(value, 1e-30))) - 7)


def test_bf16_logits_are_as_close_to_fp32_hf_as_hf_bf16_is(tiny_llava_next):
    device = torch.device("cuda")
    ours = load_pretrained_vlm(tiny_llava_next, dtype=torch.bfloat16, device=device)
    hf = {dtype: LlavaNextForConditionalGeneration.from_pretrained(tiny_llava_next, dtype=dtype).to(device).eval()
          for dtype in (torch.float32, torch.bfloat16)}
    reference = load_pretrained_vlm(tiny_llava_next, dtype=torch.float32, device=device)
    rng = np.random.default_rng(0)
    for name, samples in PARITY_CASES.items():
        inputs, _ = build_case_inputs(reference, samples, rng)
        fp32_diff, scale = compare_case(reference, hf[torch.float32], inputs, device)
        ours_error, _ = compare_case(ours, hf[torch.float32], inputs, device)
        hf_error, _ = compare_case(reference, hf[torch.bfloat16], inputs, device)  # |ref32 - hf16| ≈ hf16's error
        hf_error = max(hf_error - fp32_diff, 0.0)
        bound = 1.5 * hf_error + 2 * _bf16_step(scale)
        assert fp32_diff <= 1e-4, (name, fp32_diff)
        assert ours_error <= bound, (name, ours_error, hf_error, bound)
