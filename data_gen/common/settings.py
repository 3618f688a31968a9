"""Config blocks → typed settings: what every data_gen stage does with its part of the Hydra config.

Stages receive the composed DictConfig; `settings_from` turns a block into the frozen, validated
dataclass the code uses (unknown keys are a `SettingsError` naming them, lists become tuples).
The country selection and the SPARQL client live with Wikidata (`data_gen.wikidata.config`).
"""

from __future__ import annotations

import dataclasses
import sys
from typing import Any, TypeVar

from omegaconf import DictConfig, OmegaConf

from data_gen.common.errors import SettingsError

T = TypeVar("T")


def settings_from(cls: type[T], block: Any, **extra: Any) -> T:
    """Build a settings dataclass from a config block; unknown keys are refused, lists become tuples."""
    values = OmegaConf.to_container(block, resolve=True) if isinstance(block, DictConfig) else dict(block or {})
    values.update(extra)
    known = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(values) - known)
    if unknown:
        raise SettingsError(f"unknown setting(s) {unknown} for {cls.__name__}; known: {sorted(known)}")
    try:
        return cls(**{key: tuple(v) if isinstance(v, list) else v for key, v in values.items()})
    except (TypeError, ValueError) as error:  # a validator's complaint about a value the user gave
        if isinstance(error, SettingsError):
            raise
        raise SettingsError(str(error)) from error


def config_dict(cfg: DictConfig) -> dict[str, Any]:
    """The resolved config as plain data, for manifests."""
    return OmegaConf.to_container(cfg, resolve=True)  # type: ignore[return-value]


def progress_enabled(cfg: DictConfig) -> bool:
    """`progress: auto` (bars when stderr is a terminal), `true` or `false`."""
    value = cfg.get("progress", "auto")
    if isinstance(value, str) and value.strip().lower() == "auto":
        return sys.stderr.isatty()
    return bool(value)


