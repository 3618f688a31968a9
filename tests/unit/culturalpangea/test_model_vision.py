"""Vision tower: HF CLIP ↔ open_clip weight mapping both ways, layer choice, QuickGELU, freezing, safe loading."""

from __future__ import annotations

import pickle
from dataclasses import replace

import open_clip
import pytest
import torch
from safetensors.torch import save_file
from transformers import CLIPVisionConfig, CLIPVisionModel

from culturalpangea.models.clip_mapping import clip_hf_to_open_clip, open_clip_to_clip_hf
from culturalpangea.models.vision import CLIPVisionTower, VisionTowerConfig, build_vision_tower
from culturalpangea.models.weights import CheckpointError, load_weights_file
from tiny_models.llava_next import spread_weights

TINY = VisionTowerConfig(image_size=56, patch_size=14, width=32, layers=3, heads=2, feature_layer=-2)


def _hf_clip(quick_gelu: bool = True, seed: int = 0) -> CLIPVisionModel:
    config = CLIPVisionConfig(hidden_size=32, intermediate_size=128, num_hidden_layers=3, num_attention_heads=2,
                              image_size=56, patch_size=14, hidden_act="quick_gelu" if quick_gelu else "gelu")
    model = CLIPVisionModel(config).eval()
    spread_weights(model, seed)
    return model


def _pixels(count: int = 3, seed: int = 0) -> torch.Tensor:
    return torch.randn(count, 3, 56, 56, generator=torch.Generator().manual_seed(seed))


def _hf_features(model: CLIPVisionModel, pixels: torch.Tensor, layer: int) -> torch.Tensor:
    with torch.no_grad():
        return model(pixel_values=pixels, output_hidden_states=True).hidden_states[layer][:, 1:]


@pytest.mark.parametrize("layer", [-2, -1, 1, 0])
def test_hf_clip_weights_give_hf_features_in_the_open_clip_tower(layer):
    hf = _hf_clip()
    tower = CLIPVisionTower(replace(TINY, feature_layer=layer))
    tower.load_open_clip_state_dict(clip_hf_to_open_clip(hf.state_dict(), "hf"), "hf")
    pixels = _pixels()
    with torch.no_grad():
        ours = tower(pixels)
    assert ours.shape == (3, 16, 32)
    assert torch.allclose(ours, _hf_features(hf, pixels, layer), atol=1e-5)


def test_open_clip_weights_load_into_hf_clip_and_give_the_same_features(tiny_stack):
    tower = build_vision_tower(VisionTowerConfig.from_open_clip(tiny_stack.clip_model_name), tiny_stack.clip_weights)
    hf = _hf_clip()
    result = hf.load_state_dict(open_clip_to_clip_hf(tower.visual.state_dict(), "open_clip"), strict=False)
    assert set(result.missing_keys) <= {"embeddings.position_ids"} and not result.unexpected_keys
    pixels = _pixels()
    assert torch.allclose(tower(pixels), _hf_features(hf, pixels, -2), atol=1e-5)
    back = clip_hf_to_open_clip(open_clip_to_clip_hf(tower.visual.state_dict(), "x"), "x")
    assert all(torch.equal(back[name], value) for name, value in tower.visual.state_dict().items())


def test_tower_features_equal_open_clips_own_intermediates(tiny_stack):
    reference = open_clip.create_model(tiny_stack.clip_model_name, pretrained=str(tiny_stack.clip_weights)).eval()
    tower = build_vision_tower(VisionTowerConfig.from_open_clip(tiny_stack.clip_model_name), tiny_stack.clip_weights)
    pixels = _pixels()
    with torch.no_grad():
        expected = reference.visual.forward_intermediates(pixels, indices=[1], output_fmt="NLC",
                                                          intermediates_only=True)["image_intermediates"][0]
    assert torch.allclose(tower(pixels), expected, atol=1e-6)


def test_gelu_tower_with_quickgelu_weights_gives_different_features():
    hf = _hf_clip(quick_gelu=True)
    state = clip_hf_to_open_clip(hf.state_dict(), "hf")
    right, wrong = CLIPVisionTower(TINY), CLIPVisionTower(replace(TINY, quick_gelu=False))
    right.load_open_clip_state_dict(state, "hf")
    wrong.load_open_clip_state_dict(state, "hf")
    pixels = _pixels()
    assert (right(pixels) - wrong(pixels)).abs().max() > 1e-2


def test_open_clip_names_give_the_right_architecture():
    large = VisionTowerConfig.from_open_clip("ViT-L-14-336-quickgelu")
    assert (large.width, large.layers, large.heads, large.patch_size, large.image_size) == (1024, 24, 16, 14, 336)
    assert large.quick_gelu and large.tokens_per_crop == 576 and large.blocks_to_run() == 23
    assert not VisionTowerConfig.from_open_clip("ViT-L-14-336").quick_gelu


@pytest.mark.parametrize(("name", "option"), [("EVA02-L-14", "timm_model_name"), ("coca_ViT-B-32", "attentional_pool")])
def test_unsupported_open_clip_towers_are_refused(name, option):
    with pytest.raises(ValueError, match=option):
        VisionTowerConfig.from_open_clip(name)


def test_config_checks():
    with pytest.raises(ValueError, match="feature_layer 5"):
        replace(TINY, feature_layer=5)
    with pytest.raises(ValueError, match="select"):
        replace(TINY, select="full")
    with pytest.raises(ValueError, match="no model config"):
        VisionTowerConfig.from_open_clip("no-such-model")


def test_frozen_tower_stays_in_eval_and_gives_no_gradient():
    tower = CLIPVisionTower(TINY).freeze()
    tower.train()
    assert not tower.training and tower.is_frozen
    features = tower(torch.randint(0, 256, (2, 3, 56, 56), dtype=torch.uint8))
    assert not features.requires_grad


def test_unfrozen_tower_trains_with_gradient_checkpointing():
    tower = CLIPVisionTower(TINY).train()
    tower.gradient_checkpointing = True
    tower(_pixels(2)).square().mean().backward()
    assert tower.training and tower.visual.conv1.weight.grad is not None
    assert all(p.grad is not None for p in tower.parameters())  # every parameter is used (DDP-safe)
    unused = "transformer.resblocks.2.mlp.c_fc.weight"  # after the feature layer: kept, not trained
    assert unused in tower.visual.state_dict() and unused not in dict(tower.visual.named_parameters())


def test_bf16_compute_dtype_for_a_frozen_tower():
    tower = build_vision_tower(TINY, frozen=True, compute_dtype=torch.bfloat16)
    features = tower(torch.randint(0, 256, (1, 3, 56, 56), dtype=torch.uint8))
    assert tower.dtype == features.dtype == torch.bfloat16
    with pytest.raises(ValueError, match="frozen tower"):
        build_vision_tower(TINY, frozen=False, compute_dtype=torch.bfloat16)


def test_bad_tower_weights_name_the_tensor(tmp_path):
    state = {f"visual.{k}": v for k, v in CLIPVisionTower(TINY).visual.state_dict().items()}
    missing = dict(state)
    del missing["visual.ln_pre.weight"]
    with pytest.raises(CheckpointError, match=r"missing tensors: ln_pre\.weight"):
        CLIPVisionTower(TINY).load_open_clip_state_dict(missing, "ckpt")
    with pytest.raises(CheckpointError, match="unexpected tensors: extra"):
        CLIPVisionTower(TINY).load_open_clip_state_dict({**state, "visual.extra": torch.zeros(1)}, "ckpt")
    wide = CLIPVisionTower(replace(TINY, width=64, heads=4)).visual.state_dict()
    save_file({f"visual.{k}": v.contiguous() for k, v in wide.items()}, str(tmp_path / "wide.safetensors"))
    with pytest.raises(CheckpointError, match=r"conv1.weight \(64, 3, 14, 14\) in the checkpoint vs \(32, 3, 14, 14\)"):
        build_vision_tower(TINY, tmp_path / "wide.safetensors")


def test_hf_mapping_names_a_missing_qkv_part():
    state = _hf_clip().state_dict()
    del state["encoder.layers.1.self_attn.k_proj.bias"]
    with pytest.raises(CheckpointError, match=r"encoder.layers.1.self_attn.k_proj.bias"):
        clip_hf_to_open_clip(state, "hf")
    with pytest.raises(CheckpointError, match="unexpected vision tensors"):
        clip_hf_to_open_clip({"encoder.layers.0.bogus.weight": torch.zeros(1)}, "hf")


class _Payload:
    """Unpickling this would create a file: weights-only loading must refuse it."""

    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (open, (str(self.target), "w"))


def test_pickled_weights_are_loaded_weights_only(tmp_path, tiny_stack):
    tensors = load_weights_file(tiny_stack.clip_weights)
    torch.save(tensors, tmp_path / "open_clip.bin")
    tower = build_vision_tower(VisionTowerConfig.from_open_clip(tiny_stack.clip_model_name), tmp_path / "open_clip.bin")
    assert torch.equal(tower.visual.conv1.weight, tensors["visual.conv1.weight"])
    torch.save({"x": _Payload(tmp_path / "pwned")}, tmp_path / "evil.bin")
    with pytest.raises(pickle.UnpicklingError):
        load_weights_file(tmp_path / "evil.bin")
    assert not (tmp_path / "pwned").exists()
    (tmp_path / "weights.npz").write_bytes(b"")
    with pytest.raises(CheckpointError, match="unknown weights format"):
        load_weights_file(tmp_path / "weights.npz")
