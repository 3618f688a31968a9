"""build_vlm from the `model` config: from parts, from an HF folder, the real Hydra group, runtime switches."""

from __future__ import annotations

import copy
import logging

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import OmegaConf
from PIL import Image

from culturalpangea.config import config_dir, register_resolvers
from culturalpangea.data.image_processing import SingleResolutionPreprocessor
from culturalpangea.models.anyres import AnyresPreprocessor
from culturalpangea.models.builder import build_vlm
from culturalpangea.models.llm import resolve_attn_implementation
from culturalpangea.models.loading import load_pretrained_vlm
from culturalpangea.optim import StagePlan, apply_freeze


def _one_image_inputs(model, size=(40, 90)):
    image = model.image_preprocessor(Image.new("RGB", (size[1], size[0]), (120, 30, 200)))
    ids = torch.tensor([[30, 31] + [model.image_token_id] * image.num_tokens + [32, 33, 34]])
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": ids.clone(),
            "pixel_values": image.pixel_values, "image_sizes": torch.tensor([image.image_size]),
            "crops_per_image": torch.tensor([image.pixel_values.shape[0]]), "images_per_sample": torch.tensor([1])}


def test_build_from_parts_gives_a_frozen_tower_and_trainable_rest(tiny_model_cfg, tiny_tokenizer):
    model = build_vlm(tiny_model_cfg).train()
    assert model.vision.is_frozen and not model.vision.training
    assert all(p.requires_grad for p in model.connector.parameters())
    assert all(p.requires_grad for p in model.llm.parameters())
    assert isinstance(model.image_preprocessor, AnyresPreprocessor)
    assert model.tokenizer.convert_tokens_to_ids("<image>") == model.image_token_id
    assert model.tokenizer.chat_template == tiny_tokenizer.chat_template
    model(**_one_image_inputs(model)).loss.backward()
    assert model.connector.linear_1.weight.grad is not None and model.connector.image_newline.grad is not None
    assert model.llm.get_input_embeddings().weight.grad is not None
    assert all(p.grad is None for p in model.vision.parameters())


def test_a_stage_that_trains_the_tower_gets_gradients_through_it(tiny_model_cfg):
    model = build_vlm(tiny_model_cfg)
    apply_freeze(model.components(), StagePlan({"vision": True, "connector": True, "llm": False}, {}))
    model.train()
    assert model.vision.training
    model(**_one_image_inputs(model)).loss.backward()
    assert model.vision.visual.conv1.weight.grad is not None
    assert all(p.grad is None for p in model.llm.parameters())


def test_single_resolution_mode(tiny_model_cfg):
    cfg = copy.deepcopy(tiny_model_cfg)
    cfg["anyres"] = {"enabled": False}
    model = build_vlm(cfg)
    assert isinstance(model.image_preprocessor, SingleResolutionPreprocessor)
    assert model.connector.image_newline is None and model.num_image_tokens((400, 100)) == 16
    inputs = _one_image_inputs(model)
    out = model(**inputs)
    assert out.logits.shape[1] == 2 + 16 + 3 and torch.isfinite(out.loss)
    bare = model(input_ids=inputs["input_ids"], pixel_values=inputs["pixel_values"])  # one crop per image
    assert torch.equal(bare.logits, out.logits)


def test_linear_connector_and_runtime_switches(tiny_model_cfg, caplog):
    cfg = copy.deepcopy(tiny_model_cfg)
    cfg["connector"]["type"] = "linear"
    cfg["llm"].update(gradient_checkpointing=True, attn_implementation="flash_attention_2")
    cfg["vision"].update(compute_dtype="bfloat16")
    with caplog.at_level(logging.WARNING):
        model = build_vlm(cfg)
    assert model.connector.linear_2 is None
    assert model.llm.is_activation_checkpointing
    assert model.vision.dtype == torch.bfloat16
    if resolve_attn_implementation("flash_attention_2") == "sdpa":
        assert model.llm.config._attn_implementation == "sdpa"
        assert "flash-attn is not installed" in caplog.text
    model.train()
    model(**_one_image_inputs(model)).loss.backward()  # bf16 tower feeds an fp32 connector
    assert model.connector.linear_1.weight.grad is not None


def test_flex_attention_reaches_the_llm(tiny_model_cfg):
    cfg = copy.deepcopy(tiny_model_cfg)
    cfg["llm"]["attn_implementation"] = "flex_attention"
    assert build_vlm(cfg).llm.config._attn_implementation == "flex_attention"
    with pytest.raises(ValueError, match="attn_implementation 'fast'"):
        resolve_attn_implementation("fast")


def test_init_from_hf_loads_the_checkpoint_and_checks_the_config(tiny_model_cfg, tiny_llava_next):
    cfg = copy.deepcopy(tiny_model_cfg)
    cfg["init_from_hf"] = str(tiny_llava_next)
    model = build_vlm(cfg)
    reference = load_pretrained_vlm(tiny_llava_next).model
    inputs = _one_image_inputs(model, (100, 30))
    with torch.no_grad():
        assert torch.equal(model(**inputs).logits, reference(**inputs).logits)
    assert model.vision.is_frozen and all(p.requires_grad for p in model.llm.parameters())
    for key, value, field in [("vision", {"feature_layer": -1}, "vision.feature_layer"),
                              ("vision", {"open_clip_name": "ViT-L-14-336-quickgelu", "open_clip_config": None},
                               "vision.width"),
                              ("anyres", {"grid_pinpoints": [[56, 112]]}, "anyres.grid_pinpoints")]:
        wrong = copy.deepcopy(cfg)
        wrong[key].update(value)
        with pytest.raises(ValueError, match=f"model config says {field}="):
            build_vlm(wrong)
    wrong = copy.deepcopy(cfg)
    wrong["vision"]["open_clip_name"] = "ViT-L-14-336-quickgelu"  # the config file registers another name
    with pytest.raises(ValueError, match="registers 'tiny-vit-14-56-quickgelu', not open_clip_name="):
        build_vlm(wrong)


def test_the_hydra_tiny_group_builds_its_own_stack(tmp_path):
    register_resolvers()
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        cfg = compose(config_name="train.yaml", overrides=["model=tiny", f"paths.root_dir={tmp_path}"])
    model = build_vlm(cfg.model)
    assert (tmp_path / "outputs" / "tiny_models" / "llm" / "config.json").is_file()
    assert model.config.anyres.grid_pinpoints == tuple(tuple(p) for p in OmegaConf.to_object(cfg.model.anyres)[
        "grid_pinpoints"])
    assert model.config.vision.feature_layer == -2 and model.config.vision.quick_gelu
