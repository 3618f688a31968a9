"""The data_gen command line: `python -m data_gen stage=<name> out_dir=<dir> [overrides]` (Hydra).

The stages are the functions of `pipeline/registry.py` plus `all` (pipeline/run_all.py). Before a
stage runs, `out_dir` is claimed and locked (pipeline/out_dir.py: never a system folder, never a
folder holding files data_gen did not write, never two runs at once, except array tasks over
disjoint parts or countries). Errors a user can fix — the named types of
`data_gen.common.errors` (unknown country, malformed endpoint URL, endpoint down, a stage run
before its input exists…), a sample or manifest that breaks the shard contract, and operating-system
errors such as a full disk or a missing file — end the run with one line on stderr, `error: …`
(naming the stage), and exit code 2; DATAGEN_TRACEBACK=1 shows the traceback instead. Any other
exception is a bug and ends in its traceback.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf, open_dict
from omegaconf.errors import MissingMandatoryValue

from data_gen.common.errors import DataGenError
from data_gen.common.locks import country_locks
from data_gen.common.stage_result import StageFunction
from data_gen.pipeline import run_all
from data_gen.pipeline.out_dir import claim, locked
from data_gen.pipeline.registry import STAGES
from data_gen.wikidata.config import explicit_countries
from shard_contract.manifest import ManifestError
from shard_contract.sample import ContractError

CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs"
EXIT_USER_ERROR = 2
COUNTRY_STAGES = ("entities", "images", "qa")  # written per country: array tasks over `countries=`
COMMANDS: dict[str, StageFunction] = {**STAGES, "all": run_all.run}
USER_ERRORS = (DataGenError, ContractError, ManifestError, MissingMandatoryValue, OSError)


def resolve_stage(name: str) -> StageFunction:
    if name not in COMMANDS:
        raise DataGenError(f"unknown stage {name!r}; known: {', '.join(sorted(COMMANDS))}")
    return COMMANDS[name]


def _array_task(name: str, cfg: DictConfig) -> bool:
    """A SLURM array task of a record stage (`parts=START:END`): shares out_dir with its siblings."""
    block = cfg.get(name) if name in ("refine", "filter") else None
    return bool(block and block.get("parts"))


def _country_task(name: str, cfg: DictConfig) -> list[str] | None:
    """The countries an array task of a country stage writes (an explicit `countries=` list), else None.

    Such a task shares out_dir with its siblings and locks each of its countries (common/locks.py).
    """
    countries = explicit_countries(cfg) if name in COUNTRY_STAGES else None
    return None if countries is None else [country.code for country in countries]


def stage_name(cfg: DictConfig) -> str:
    """The stage asked for: `cfg.stage` when a caller set it, else Hydra's choice of the `stage` group.

    `stage` is also a config group of the training configs (configs/stage/), so on the command line
    `stage=entities` is a group choice; configs/data_gen.yaml lists it as `optional` so any name is
    accepted and recorded in `hydra.runtime.choices`.
    """
    value = cfg.get("stage")
    if isinstance(value, str) and value:
        return value
    choice = None
    if HydraConfig.initialized():
        choice = HydraConfig.get().runtime.choices.get("stage")
    if not choice:
        raise DataGenError("no stage given: python -m data_gen stage=<name> out_dir=<dir>")
    return str(choice)


def run(cfg: DictConfig) -> int:
    """Run the configured stage; return the process exit code."""
    name = "?"
    try:
        name = stage_name(cfg)
        stage = resolve_stage(name)
        with open_dict(cfg):
            cfg.stage = name  # stages and manifests see the name, not a training `stage` group
        if OmegaConf.is_missing(cfg, "out_dir") or not str(cfg.out_dir or "").strip():
            raise DataGenError(f"out_dir=<folder> is required: python -m data_gen stage={name} out_dir=<folder> "
                               "(every stage reads and writes there)")
        countries = _country_task(name, cfg)
        out_dir = claim(cfg.out_dir)
        with (locked(out_dir, shared=_array_task(name, cfg) or countries is not None),
              country_locks(out_dir, name, countries or ())):
            result = stage(cfg)
    except USER_ERRORS as error:
        if os.environ.get("DATAGEN_TRACEBACK"):
            raise
        message = " ".join(str(error).split()) or type(error).__name__
        where = f"stage {name}: " if isinstance(error, OSError) else ""  # an OS error names only its file
        print(f"error: {where}{message}", file=sys.stderr)
        return EXIT_USER_ERROR
    if result.summary:
        print(result.summary)
    return 0


@hydra.main(config_path=str(CONFIG_DIR), config_name="data_gen", version_base="1.3")
def main(cfg: DictConfig) -> None:
    code = run(cfg)
    if code:
        sys.exit(code)
