"""Every shipped Hydra config composes and resolves; the paper recipe says what the paper says."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf, open_dict

from culturalpangea.config import config_dir, register_resolvers
from culturalpangea.settings import SettingsError, train_settings

CONFIGS = config_dir()
EXPERIMENTS = sorted(p.stem for p in (CONFIGS / "experiment").glob("*.yaml"))
DEBUG_PRESETS = sorted(p.stem for p in (CONFIGS / "debug").glob("*.yaml"))
PAPER_PINPOINTS = [[336, 672], [672, 336], [672, 672], [1008, 336], [336, 1008]]


def _compose(config_name: str, overrides: list[str], tmp_path: Path) -> DictConfig:
    register_resolvers()
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        cfg = compose(
            config_name=config_name,
            overrides=[*overrides, f"paths.root_dir={tmp_path}", f"paths.output_dir={tmp_path}/run"],
            return_hydra_config=True,
        )
        HydraConfig.instance().set_config(cfg)
        with open_dict(cfg):
            del cfg["hydra"]
        OmegaConf.resolve(cfg)
        return cfg


def test_every_yaml_file_parses():
    files = sorted(CONFIGS.rglob("*.yaml"))
    assert len(files) >= 30
    for path in files:
        assert isinstance(yaml.safe_load(path.read_text()), dict | None), path


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_every_experiment_composes(experiment, tmp_path):
    cfg = _compose("train.yaml", [f"experiment={experiment}"], tmp_path)
    assert cfg.task_name
    assert cfg.global_batch_size % cfg.micro_batch_size == 0
    assert sum(source.weight for source in cfg.data.sources.values()) > 0
    settings = train_settings(cfg)  # every shipped experiment passes the typed settings
    assert settings.task_name == cfg.task_name and settings.optim.lr == cfg.optim.lr


@pytest.mark.parametrize("preset", DEBUG_PRESETS)
def test_every_debug_preset_composes_on_the_demo(preset, tmp_path):
    cfg = _compose("train.yaml", ["experiment=demo", f"debug={preset}"], tmp_path)
    assert cfg.model.llm.path.endswith("tiny_models/llm")
    assert train_settings(cfg).data.num_workers == cfg.data.num_workers


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("+optim.lrr=0.1", r"Key 'lrr' not in 'OptimSettings'.*optim\.lrr"),
        ("+callbacks.checkpoint.every=5", r"Key 'every' not in 'CheckpointSettings'"),
        ("+logger.tensorboard={}", r"Key 'tensorboard' not in 'LoggerSettings'"),
        ("micro_batch_size=four", r"micro_batch_size"),
        ("optim.schedule=linear", r"only 'cosine'"),
    ],
)
def test_typed_settings_refuse_unknown_keys_and_wrong_types_by_name(override, message, tmp_path):
    cfg = _compose("train.yaml", ["experiment=demo", override], tmp_path)
    with pytest.raises(SettingsError, match=message):
        train_settings(cfg)


@pytest.mark.parametrize(
    "group",
    ["model", "data", "stage", "trainer", "logger", "callbacks"],
)
def test_every_option_of_every_group_composes(group, tmp_path):
    options = sorted(p.stem for p in (CONFIGS / group).glob("*.yaml"))
    assert options, group
    for option in options:
        cfg = _compose("train.yaml", [f"{group}={option}"], tmp_path)
        assert group in cfg or group == "logger"


def test_eval_config_composes(tmp_path):
    cfg = _compose("eval.yaml", ["checkpoint=/ckpt", "benchmark=cvqa"], tmp_path)
    assert cfg.benchmark == "cvqa" and cfg.data_dir.endswith("data/benchmarks")


def test_paper_recipe_matches_the_paper(tmp_path):
    cfg = _compose("train.yaml", ["experiment=culturalpangea"], tmp_path)
    assert cfg.optim.lr == pytest.approx(5e-6)
    assert cfg.global_batch_size == 128
    assert cfg.optim.schedule == "cosine" and cfg.optim.warmup_ratio > 0
    assert cfg.trainer.max_epochs == 1
    assert (cfg.stage.train_vision, cfg.stage.train_connector, cfg.stage.train_llm) == (False, True, True)
    assert cfg.model.vision.open_clip_name == "ViT-L-14-336-quickgelu"
    assert cfg.model.vision.feature_layer == -2 and cfg.model.vision.select == "patch"
    assert cfg.model.connector.type == "mlp2x_gelu"
    assert [list(p) for p in cfg.model.anyres.grid_pinpoints] == PAPER_PINPOINTS
    weights = {name: source.weight for name, source in cfg.data.sources.items()}
    assert weights["culturalground_oe"] / weights["culturalground_mcq"] == pytest.approx(13 / 5)


@pytest.mark.parametrize("share", [0.25, 0.5, 0.75])
def test_mixture_ablation_gives_cultural_share(share, tmp_path):
    cfg = _compose("train.yaml", ["experiment=ablation_mixture", f"cultural_share={share}"], tmp_path)
    weights = {name: source.weight for name, source in cfg.data.sources.items()}
    cultural = weights["culturalground_oe"] + weights["culturalground_mcq"]
    assert cultural / sum(weights.values()) == pytest.approx(share)


def test_mixture_ablation_rejects_share_outside_unit_interval(tmp_path):
    with pytest.raises(Exception, match="cultural_share"):
        _compose("train.yaml", ["experiment=ablation_mixture", "cultural_share=1.5"], tmp_path)


def test_local_folder_is_gitignored_except_its_readme():
    ignore = (CONFIGS.parent / ".gitignore").read_text()
    assert "configs/local/*" in ignore and "!configs/local/README.md" in ignore
