"""What a stage hands back to the command line: its manifest and a human-readable summary."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from omegaconf import DictConfig


@dataclass
class StageResult:
    """What a stage hands back: its manifest and a human-readable summary (printed at the end)."""

    manifest: dict[str, Any] = field(default_factory=dict)
    summary: str = ""


StageFunction = Callable[[DictConfig], StageResult]
