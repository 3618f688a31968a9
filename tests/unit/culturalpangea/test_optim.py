"""Freezing, parameter groups, warm-up + cosine schedule and derived accumulation."""

from __future__ import annotations

import itertools

import pytest
import torch
from torch import nn

from culturalpangea.optim import (
    StagePlan,
    accumulation_steps,
    apply_freeze,
    parameter_groups,
    trainable_table,
    warmup_cosine,
)


def _components():
    torch.manual_seed(0)
    return {
        "vision": nn.Sequential(nn.Linear(4, 4), nn.LayerNorm(4)),
        "connector": nn.Sequential(nn.Linear(4, 8), nn.GELU(), nn.Linear(8, 8)),
        "llm": nn.Sequential(nn.Embedding(10, 8), nn.LayerNorm(8), nn.Linear(8, 10, bias=False)),
    }


def test_freeze_follows_the_stage_and_is_reported():
    components = _components()
    apply_freeze(components, StagePlan({"vision": False, "connector": True, "llm": True}, {}))
    assert not any(p.requires_grad for p in components["vision"].parameters())
    assert not components["vision"].training
    assert all(p.requires_grad for p in components["llm"].parameters())
    table = trainable_table(components)
    assert "| vision | 28 | 0 | frozen |" in table
    assert "| connector | 112 | 112 | trained |" in table


def test_groups_have_component_lrs_and_no_decay_on_norms_and_biases():
    components = _components()
    apply_freeze(components, StagePlan({"vision": False, "connector": True, "llm": True}, {}))
    groups = parameter_groups(components, 1e-3, {"connector": 2.0, "llm": 1.0}, weight_decay=0.1)
    by_name = {g["name"]: g for g in groups}
    assert set(by_name) == {"connector/decay", "connector/no_decay", "llm/decay", "llm/no_decay"}
    assert by_name["connector/decay"]["lr"] == pytest.approx(2e-3)
    assert by_name["llm/no_decay"]["weight_decay"] == 0.0
    assert all(p.ndim < 2 for p in by_name["llm/no_decay"]["params"])
    assert sum(p.numel() for g in groups for p in g["params"]) == 112 + 80 + 16 + 80


def test_zero_lr_or_all_frozen_is_refused():
    components = _components()
    apply_freeze(components, StagePlan({}, {}))
    with pytest.raises(ValueError, match="no trainable parameters"):
        parameter_groups(components, 1e-3, {}, 0.0)


def test_warmup_then_cosine_to_the_floor():
    parameter = nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([parameter], lr=1.0)
    scheduler = warmup_cosine(optimizer, warmup_steps=10, total_steps=110, min_lr_ratio=0.1)
    lrs = []
    for _ in range(110):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == pytest.approx(1.0)
    assert lrs[60] == pytest.approx(0.1 + 0.9 * 0.5, abs=0.01)
    assert lrs[-1] == pytest.approx(0.1, abs=1e-3)
    assert all(a >= b for a, b in itertools.pairwise(lrs[10:]))


@pytest.mark.parametrize(
    ("global_batch", "micro", "world", "expected"), [(128, 4, 32, 1), (128, 4, 8, 4), (8, 4, 1, 2)]
)
def test_accumulation_is_derived(global_batch, micro, world, expected):
    assert accumulation_steps(global_batch, micro, world) == expected


def test_indivisible_global_batch_is_refused():
    with pytest.raises(ValueError, match="not a multiple"):
        accumulation_steps(100, 3, 8)
