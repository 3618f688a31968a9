"""The FLOPs model used for MFU: hand-computed values."""

from __future__ import annotations

import pytest
import torch

from culturalpangea.flops import FlopsModel, measured_matmul_flops


def test_step_flops_by_hand():
    model = FlopsModel(trained_params=100, frozen_llm_params=10, vision_params=50, num_layers=2, hidden_size=4)
    # tokens 3+5=8: dense (600+40)*8 = 5120; attention 6*2*4*(9+25) = 1632; vision 2*50*7 = 700
    assert model.step_flops([3, 5], patch_tokens=7) == pytest.approx(5120 + 1632 + 700)


def test_measured_matmul_rate_is_positive_on_cpu():
    assert measured_matmul_flops(torch.device("cpu"), dtype=torch.float32, size=64, repeats=2) > 0
