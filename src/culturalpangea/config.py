"""Hydra/OmegaConf glue: where the configs live and the resolvers they use.

The config tree sits at the repository root (`configs/`), beside the package, as in
lightning-hydra-template; the project is installed in editable mode, so the path below is found.
Resolvers are registered once, by whichever entry point imports this module first.
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import OmegaConf

CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs"


def _share(share: float, part: float, total: float) -> float:
    """Weight of one CulturalGround source when CulturalGround gets `share` of the mixture."""
    if not 0.0 <= float(share) <= 1.0:
        raise ValueError(f"cultural_share must be within [0, 1], got {share}")
    return float(share) * float(part) / float(total)


def _rest_share(share: float, part: float, total: float) -> float:
    """Weight of one general-data source when CulturalGround gets `share` of the mixture."""
    return _share(1.0 - float(share), part, total)


def register_resolvers() -> None:
    """Register the project's OmegaConf resolvers (idempotent)."""
    for name, function in (("share", _share), ("rest_share", _rest_share)):
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, function)


def config_dir() -> Path:
    """The `configs/` folder; a clear error if the package was installed without the repo around it."""
    if not CONFIG_DIR.is_dir():
        raise FileNotFoundError(
            f"config folder {CONFIG_DIR} not found: install the project in editable mode (pip install -e .)"
        )
    return CONFIG_DIR
