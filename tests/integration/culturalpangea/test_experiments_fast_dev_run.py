"""Every shipped experiment (the paper recipe, its ablations, the demo) runs: `fast_dev_run`, shrunk.

Shrunk = the real composed config with the tiny stack in place of Pangea-7B, one CPU process, and
small shards written into every source folder the experiment names — so each ablation's mixture
(template-only, unfiltered, no general data, open-ended only, mixture ratios) is read through the
real data module and trained for one step.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import OmegaConf, open_dict

from culturalpangea.config import config_dir, register_resolvers
from culturalpangea.train import run_training
from tests.helpers.train_workspace import write_training_shards

EXPERIMENTS = sorted(p.stem for p in (config_dir() / "experiment").glob("*.yaml"))


def _shrunk(experiment: str, root: Path, tiny_root: Path):
    register_resolvers()
    GlobalHydra.instance().clear()
    overrides = [
        f"experiment={experiment}", "model=tiny", f"model.tiny_root={tiny_root}", "trainer=cpu",
        "trainer.num_nodes=1", "trainer.devices=1", "debug=default", f"paths.root_dir={root}",
        f"paths.data_dir={root}/data", f"paths.output_dir={root}/run", "global_batch_size=4", "micro_batch_size=2",
        "export_hf=false", "callbacks.sample_generations=null",
    ]
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        cfg = compose(config_name="train.yaml", overrides=overrides, return_hydra_config=True)
        HydraConfig.instance().set_config(cfg)
        with open_dict(cfg):
            del cfg["hydra"]
        OmegaConf.resolve(cfg)
    return cfg


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_experiment_runs_one_step(experiment, tmp_path, tiny_stack):
    cfg = _shrunk(experiment, tmp_path, tiny_stack.llm_dir.parent)
    sources = {name: spec for name, spec in cfg.data.sources.items() if float(spec.weight) > 0}
    assert sources, experiment
    for spec in sources.values():
        write_training_shards(Path(spec.path), count=8, per_shard=4)
    run = run_training(cfg, tmp_path / "run")
    assert run.trainer.global_step == 1
    assert (tmp_path / "run" / "config.yaml").exists()
    assert run.trainer.accumulate_grad_batches == 2
