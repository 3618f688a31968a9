"""What an adapter hands to the runner: one evaluation item, or one item that could not be built.

An `EvalItem` is benchmark-neutral: a chat prompt with one `<image>` placeholder per image, the
images as *undecoded* sources (bytes or a file path, decoded only when its batch runs, so a
10k-image benchmark is never held in memory), the scoring task and its target, and the language
/ country it is reported under. A row that cannot become an item (a missing field, an answer key
outside the choices, a bad base64 image) becomes an `ItemError` with the row's ID: the run records
it, goes on, and the report counts it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from culturalpangea.errors import UserError
from shard_contract.tokens import IMAGE_TOKEN

ImageSource = bytes | Path

TASKS = ("mcq", "yesno", "vqa", "caption", "entity", "long")


class EvalConfigError(UserError, ValueError):
    """An evaluation config that cannot run (no checkpoint, unknown benchmark, bad batch size…)."""


class ItemProblem(ValueError):
    """A benchmark row that cannot be evaluated; the message names the field or value at fault."""


@dataclass(frozen=True)
class EvalItem:
    """One prompt to generate for, with everything needed to score the answer later."""

    benchmark: str
    item_id: str
    language: str
    prompt: str
    images: tuple[ImageSource, ...]
    task: str
    target: dict[str, Any]
    country: str | None = None
    subset: str | None = None
    max_new_tokens: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"item {self.item_id!r}: task {self.task!r} is not one of {TASKS}")
        placeholders = self.prompt.count(IMAGE_TOKEN)
        if placeholders != len(self.images):
            raise ValueError(
                f"item {self.item_id!r}: {placeholders} {IMAGE_TOKEN} placeholders for {len(self.images)} images"
            )


@dataclass(frozen=True)
class ItemError:
    """A row that could not be evaluated, reported with its ID and the reason."""

    benchmark: str
    item_id: str
    reason: str
    language: str | None = None
    country: str | None = None
