"""What every data_gen stage needs from the Hydra config: typed settings, countries, clients, out_dir.

Stages receive the composed DictConfig; this module turns its blocks into the frozen, validated
dataclasses the code uses (unknown keys are errors, lists become tuples), resolves the country
selection, builds the SPARQL client for `source=sample|endpoint`, and checks that `out_dir` can be
written *before* any work starts. Errors a user can fix are raised as `DataGenError` (or the
ValueError of a validator) and printed by the CLI as one line.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import Path
from typing import Any, TypeVar

from omegaconf import DictConfig, OmegaConf

from data_gen.regions import Country, load_regions
from data_gen.sparql import SparqlClient, SparqlSettings, make_client

T = TypeVar("T")


class DataGenError(RuntimeError):
    """A problem the user can fix (bad input, missing prerequisite); printed as one line."""


def settings_from(cls: type[T], block: Any, **extra: Any) -> T:
    """Build a settings dataclass from a config block; unknown keys are refused, lists become tuples."""
    values = OmegaConf.to_container(block, resolve=True) if isinstance(block, DictConfig) else dict(block or {})
    values.update(extra)
    known = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(values) - known)
    if unknown:
        raise DataGenError(f"unknown setting(s) {unknown} for {cls.__name__}; known: {sorted(known)}")
    return cls(**{key: tuple(v) if isinstance(v, list) else v for key, v in values.items()})


def config_dict(cfg: DictConfig) -> dict[str, Any]:
    """The resolved config as plain data, for manifests."""
    return OmegaConf.to_container(cfg, resolve=True)  # type: ignore[return-value]


def selected_countries(cfg: DictConfig) -> tuple[Country, ...]:
    keys = cfg.get("countries", "all")
    if not isinstance(keys, str) and keys is not None:
        keys = [str(key) for key in keys]
    return load_regions().select(keys)


def progress_enabled(cfg: DictConfig) -> bool:
    """`progress: auto` (bars when stderr is a terminal), `true` or `false`."""
    value = cfg.get("progress", "auto")
    if isinstance(value, str) and value.strip().lower() == "auto":
        return sys.stderr.isatty()
    return bool(value)


def sparql_settings(cfg: DictConfig) -> SparqlSettings:
    return settings_from(SparqlSettings, cfg.endpoint, user_agent=cfg.get("user_agent"))


def sparql_client(cfg: DictConfig) -> SparqlClient:
    """The client for `source=sample` (embedded store) or `source=endpoint` (with on-disk cache)."""
    settings = sparql_settings(cfg)
    source = str(cfg.source)
    if source == "endpoint":
        settings.checked_url()
        settings.checked_user_agent()
    if source != "sample":
        return make_client(source, settings, cache_dir=Path(str(cfg.cache.dir)))
    from data_gen.sample_store import SampleError

    try:
        return make_client(source, settings, cache_dir=None)
    except SampleError as error:  # the embedded sample is missing or broken
        raise DataGenError(str(error)) from None


def check_out_dir(out_dir: str | Path) -> Path:
    """Create `out_dir` if needed and prove it writable (a probe file, removed at once)."""
    path = Path(str(out_dir)).expanduser()
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".write-probe-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        raise DataGenError(f"out_dir {str(path)!r} is not writable: {error.strerror or error}") from None
    return path
