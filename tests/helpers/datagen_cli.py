"""Run `python -m data_gen …` as a real subprocess, the way a user or a SLURM job does."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TEST_AGENT = "CulturalPangea-tests/0.1 (https://example.org/cp; tests@example.org)"
AGENT = f"user_agent='{TEST_AGENT}'"


def cli_env() -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DATAGEN_USER_AGENT": ""}
    env.pop("DATAGEN_TRACEBACK", None)
    return env


def run_cli(*overrides: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """`python -m data_gen <overrides>` from the repository root; output captured as text."""
    return subprocess.run(
        [sys.executable, "-m", "data_gen", *overrides],
        cwd=ROOT, env=cli_env(), capture_output=True, text=True, timeout=timeout, check=False,
    )
