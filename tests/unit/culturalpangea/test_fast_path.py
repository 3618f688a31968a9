"""Fast-path switches of the `llm` group: random_init, fused linear cross-entropy wiring, torch.compile.

Each switch is off by default, changes no result when on, and falls back when its library is missing.
The liger kernel itself runs only on CUDA: tests/unit/culturalpangea/test_fast_path_gpu.py checks its loss there.
"""

from __future__ import annotations

import copy
import logging

import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from culturalpangea.models.builder import build_vlm
from culturalpangea.models.llm import compile_decoder_layers, fused_linear_cross_entropy, load_llm


def _batch(model, seed: int = 0) -> dict:
    """Two samples with an image each, answers labelled, the second padded."""
    generator = torch.Generator().manual_seed(seed)
    rows, images = [], []
    for size in ((40, 90), (56, 56)):
        image = model.image_preprocessor(Image.new("RGB", (size[1], size[0]), (120, 30, 200)))
        images.append(image)
        text = torch.randint(10, 200, (12,), generator=generator).tolist()
        rows.append(text[:3] + [model.image_token_id] * image.num_tokens + text[3:])
    length = max(len(r) for r in rows)
    ids = torch.full((2, length), model.tokenizer.pad_token_id)
    mask = torch.zeros((2, length), dtype=torch.long)
    labels = torch.full((2, length), -100)
    for index, row in enumerate(rows):
        ids[index, : len(row)] = torch.tensor(row)
        mask[index, : len(row)] = 1
        labels[index, len(row) - 5 : len(row)] = torch.tensor(row[-5:])
    return {"input_ids": ids, "attention_mask": mask, "labels": labels,
            "pixel_values": torch.cat([i.pixel_values for i in images]),
            "crops_per_image": torch.tensor([i.pixel_values.shape[0] for i in images]),
            "image_sizes": torch.tensor([i.image_size for i in images]), "images_per_sample": torch.tensor([1, 1]),
            "return_logits": False}


def _loss_and_grads(model, batch) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    model.zero_grad(set_to_none=True)
    loss = model(**batch).loss
    loss.backward()
    grads = {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}
    return loss.detach(), grads


def _build(cfg: dict):
    torch.manual_seed(0)  # the connector is freshly initialised in a from-parts build
    return build_vlm(cfg)


def _with_llm(cfg: dict, **switches) -> dict:
    cfg = copy.deepcopy(cfg)
    cfg["llm"].update(switches)
    return cfg


def test_random_init_builds_the_architecture_without_reading_weights(tiny_stack, caplog):
    loaded = load_llm(tiny_stack.llm_dir)
    torch.manual_seed(1)
    with caplog.at_level(logging.WARNING, logger="culturalpangea.models.llm"):
        fresh = load_llm(tiny_stack.llm_dir, random_init=True)
    assert "random weights" in caplog.text
    ours, theirs = fresh.state_dict(), loaded.state_dict()
    assert {k: v.shape for k, v in ours.items()} == {k: v.shape for k, v in theirs.items()}
    assert not torch.equal(ours["model.layers.0.mlp.up_proj.weight"], theirs["model.layers.0.mlp.up_proj.weight"])


def test_random_init_cannot_be_combined_with_an_hf_start(tiny_model_cfg):
    cfg = _with_llm(tiny_model_cfg, random_init=True)
    cfg["init_from_hf"] = "/somewhere/pangea-7b-hf"
    with pytest.raises(ValueError, match="random_init"):
        build_vlm(cfg)


def test_fused_linear_cross_entropy_falls_back_when_liger_is_missing(tiny_model_cfg, caplog):
    with caplog.at_level(logging.WARNING, logger="culturalpangea.models.llm"):
        fused = _build(_with_llm(tiny_model_cfg, fused_linear_cross_entropy=True))
    plain = _build(tiny_model_cfg)
    try:
        import liger_kernel  # noqa: F401
    except ImportError:
        assert fused.linear_cross_entropy is None and "liger-kernel does not import" in caplog.text
    else:  # installed: on CPU tensors the wrapper computes torch's loss
        assert fused.linear_cross_entropy is not None
    batch = _batch(plain)
    assert torch.allclose(fused(**batch).loss, plain(**batch).loss, atol=1e-6)


def test_a_linear_cross_entropy_sees_only_labelled_positions_and_equals_the_default_loss(tiny_model_cfg):
    model = build_vlm(tiny_model_cfg)
    batch = _batch(model)
    expected_loss, expected_grads = _loss_and_grads(model, batch)
    seen = []

    def torch_linear_cross_entropy(weight, hidden, targets, bias=None):
        seen.append((hidden.shape, targets.clone()))
        return F.cross_entropy(F.linear(hidden, weight, bias).float(), targets)

    model.linear_cross_entropy = torch_linear_cross_entropy
    loss, grads = _loss_and_grads(model, batch)
    labelled = batch["labels"][:, 1:] != -100
    assert seen[0][0] == (int(labelled.sum()), model.llm.config.hidden_size)
    assert torch.equal(seen[0][1], batch["labels"][:, 1:][labelled])
    assert torch.allclose(loss, expected_loss, atol=1e-6)
    assert grads.keys() == expected_grads.keys()
    assert all(torch.allclose(grads[name], expected_grads[name], atol=1e-6) for name in grads)
    # full logits (return_logits=True) give the same loss without calling it
    assert torch.allclose(model(**{**batch, "return_logits": True}).loss, expected_loss, atol=1e-6)
    assert len(seen) == 1


def test_fused_wrapper_computes_torch_cross_entropy_on_cpu_tensors():
    fused = fused_linear_cross_entropy()
    if fused is None:  # liger missing here: the builder's fallback is the default head (tested above)
        return
    hidden, weight, targets = torch.randn(6, 8), torch.randn(20, 8), torch.randint(0, 20, (6,))
    assert torch.allclose(fused(weight, hidden, targets), F.cross_entropy(hidden @ weight.T, targets))


def test_compiled_llm_gives_the_same_loss_and_gradients(tiny_model_cfg):
    eager = _build(tiny_model_cfg)
    compiled = _build(_with_llm(tiny_model_cfg, compile=True))
    layers = compiled.llm.base_model.layers
    assert all(layer._compiled_call_impl is not None for layer in layers)
    assert compiled.state_dict().keys() == eager.state_dict().keys()  # checkpoints keep their names
    batch = _batch(eager)
    expected_loss, expected_grads = _loss_and_grads(eager, batch)
    loss, grads = _loss_and_grads(compiled, batch)
    assert torch.allclose(loss, expected_loss, atol=1e-5)
    assert all(torch.allclose(grads[name], expected_grads[name], atol=1e-4) for name in expected_grads)


def test_compile_refuses_a_model_without_decoder_layers():
    class NoLayers(torch.nn.Module):
        base_model = torch.nn.Linear(2, 2)

    with pytest.raises(ValueError, match=r"no `base_model\.layers`"):
        compile_decoder_layers(NoLayers())
