"""The `trainer=fsdp` config: its wrap policy names classes that exist and match the project's model.

Lightning's FSDP runs only on CUDA, so the run itself is a cluster matter; what can break here —
a class path that no longer imports, or one that matches nothing in the model — is checked on CPU.
"""

from __future__ import annotations

import pytest
from hydra import compose, initialize_config_dir
from lightning.pytorch.strategies import FSDPStrategy
from omegaconf import OmegaConf

from culturalpangea.config import config_dir, register_resolvers
from culturalpangea.models.builder import build_vlm
from culturalpangea.training.trainer_factory import build_strategy, module_classes


def _fsdp_trainer_config() -> dict:
    register_resolvers()
    with initialize_config_dir(config_dir=str(config_dir()), version_base=None):
        cfg = compose(config_name="train", overrides=["trainer=fsdp"])
    return OmegaConf.to_container(cfg.trainer, resolve=True)


def test_fsdp_config_wraps_every_decoder_layer_and_tower_block(tiny_model_cfg):
    strategy_cfg = _fsdp_trainer_config()["strategy"]
    strategy = build_strategy(strategy_cfg)
    assert isinstance(strategy, FSDPStrategy)
    assert strategy.kwargs["use_orig_params"] is True  # frozen tower + trained rest in one root unit
    assert "auto_wrap_policy" in strategy.kwargs
    classes = tuple(module_classes(strategy_cfg["auto_wrap_layers"], "auto_wrap_layers"))
    model = build_vlm(tiny_model_cfg)
    wrapped = [name for name, module in model.named_modules() if isinstance(module, classes)]
    decoder_layers = model.llm.config.num_hidden_layers
    assert sum(".layers." in name for name in wrapped) == decoder_layers
    assert len(wrapped) > decoder_layers  # the tower's blocks too


@pytest.mark.parametrize(("paths", "message"), [
    ("transformers.models.qwen2.modeling_qwen2.Qwen2DecoderLayer", "must be a list"),
    (["transformers.models.qwen2.modeling_qwen2.NoSuchLayer"], "cannot import"),
    (["collections.OrderedDict"], "not a torch.nn.Module class"),
])
def test_bad_layer_lists_are_refused_with_the_path(paths, message):
    with pytest.raises(ValueError, match=message):
        build_strategy({"_target_": "lightning.pytorch.strategies.FSDPStrategy", "auto_wrap_layers": paths})


def test_plain_strategy_names_pass_through():
    assert build_strategy("ddp") == "ddp"
