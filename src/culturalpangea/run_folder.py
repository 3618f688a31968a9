"""Run bookkeeping: a run ID derived from the config, the resolved config saved, secrets scrubbed.

- The run ID is `<task>-<8 hex>` where the hex is a hash of the resolved config without its
  paths, logger, callbacks, export and Hydra parts and without the run length (`max_steps`,
  `max_epochs`, which a resume may extend): two runs with the same recipe and data get the same ID wherever
  they run, so W&B resumes the right run after a requeue and sweeps stay tellable apart.
- `config.yaml` (resolved) and `run_id.txt` are written atomically into the run folder.
- Anything whose key looks like a credential (key, token, secret, password) is replaced by
  "***" before the config is written or sent to W&B; no credential is read from the repo.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from shard_contract.atomic import atomic_write_text

SECRET_KEY = re.compile(r"(api[_-]?key|token|secret|password|passwd|credential)", re.IGNORECASE)
NOT_PART_OF_THE_RECIPE = ("paths", "logger", "hydra", "ckpt_path", "callbacks", "export_hf")
RUN_LENGTH = ("max_steps", "max_epochs")  # may change on resume (extending a run keeps its ID and W&B run)


def scrub_secrets(value: Any) -> Any:
    """A copy of a nested config with credential-like entries replaced by '***'."""
    if isinstance(value, Mapping):
        return {k: "***" if SECRET_KEY.search(str(k)) and v not in (None, "") else scrub_secrets(v)
                for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub_secrets(item) for item in value]
    return value


def run_id(config: Mapping[str, Any], task_name: str) -> str:
    """`<task>-<hash>` from the recipe part of a resolved config (order-independent)."""
    recipe = {key: value for key, value in config.items() if key not in NOT_PART_OF_THE_RECIPE}
    if isinstance(recipe.get("trainer"), Mapping):
        recipe["trainer"] = {key: value for key, value in recipe["trainer"].items() if key not in RUN_LENGTH}
    digest = hashlib.sha256(json.dumps(recipe, sort_keys=True, default=str).encode()).hexdigest()[:8]
    return f"{task_name}-{digest}"


def write_run_files(run_dir: Path, config: Mapping[str, Any], task_name: str) -> str:
    """Write the scrubbed resolved config and the run ID into `run_dir`; return the run ID."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    identifier = run_id(config, task_name)
    atomic_write_text(run_dir / "config.yaml", yaml.safe_dump(scrub_secrets(dict(config)), sort_keys=True,
                                                             allow_unicode=True))
    atomic_write_text(run_dir / "run_id.txt", identifier + "\n")
    return identifier
