"""Fast-path switches on CUDA (run on the lent GPU machine: `make test-gpu`).

CPU twins: tests/unit/culturalpangea/test_fast_path.py (the fused-loss wiring with a torch implementation, the
compiled layers' loss and gradients, the fallback when liger-kernel is missing).
"""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from culturalpangea.models.builder import build_vlm
from tests.unit.culturalpangea.test_fast_path import _batch, _loss_and_grads

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]
REPO = Path(__file__).resolve().parents[3]


def _cuda_model(cfg: dict, **switches):
    cfg = copy.deepcopy(cfg)
    cfg["llm"].update(switches)
    torch.manual_seed(0)
    return build_vlm(cfg).cuda()


def _on_cuda(batch: dict) -> dict:
    return {k: v.cuda() if isinstance(v, torch.Tensor) else v for k, v in batch.items()}


def test_liger_fused_linear_cross_entropy_equals_the_labelled_head(tiny_model_cfg):
    pytest.importorskip("liger_kernel")  # carried as a wheel on the GPU machine (benchmarks/RESULTS.md)
    plain = _cuda_model(tiny_model_cfg)
    fused = _cuda_model(tiny_model_cfg, fused_linear_cross_entropy=True)
    assert fused.linear_cross_entropy is not None
    batch = _on_cuda(_batch(plain))
    expected_loss, expected_grads = _loss_and_grads(plain, batch)
    loss, grads = _loss_and_grads(fused, batch)
    assert torch.allclose(loss, expected_loss, rtol=1e-4)
    for name, grad in expected_grads.items():
        assert torch.allclose(grads[name], grad, rtol=1e-3, atol=1e-5), name
    with torch.autocast("cuda", dtype=torch.bfloat16):
        bf16_plain, bf16_fused = plain(**batch).loss, fused(**batch).loss
    assert torch.allclose(bf16_fused.float(), bf16_plain.float(), rtol=2e-2)


def test_compiled_layers_match_eager_on_cuda(tiny_model_cfg):
    eager = _cuda_model(tiny_model_cfg)
    compiled = _cuda_model(tiny_model_cfg, compile=True)
    batch = _on_cuda(_batch(eager))
    expected_loss, _ = _loss_and_grads(eager, batch)
    loss, _ = _loss_and_grads(compiled, batch)
    assert torch.allclose(loss, expected_loss, rtol=1e-4)


def test_train_step_benchmark_runs_every_lever_on_cuda():
    done = subprocess.run([sys.executable, str(REPO / "benchmarks" / "train_step.py"), "--shape", "tiny", "--device",
                           "cuda", "--levers", "--steps", "2", "--warmup", "2"],
                          capture_output=True, text=True, timeout=900, check=True)
    lines = done.stdout.strip().splitlines()
    assert lines[-1].startswith("ratio_vs_reference=") and "nan" not in lines[-1]
    assert not [line for line in lines if "failed:" in line]
