"""Small row-parsing helpers several adapters share (option lists, booleans, answer indices)."""

from __future__ import annotations

import ast
from typing import Any

from culturalpangea.eval.items import ItemProblem


def string_list(value: Any, name: str, minimum: int = 1) -> list[str]:
    """A list of strings (a list, or the string form of one as some older dumps store it)."""
    if isinstance(value, str):
        try:
            value = ast.literal_eval(value)
        except (ValueError, SyntaxError) as error:
            raise ItemProblem(f"field {name!r} is not a list") from error
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise ItemProblem(f"field {name!r} is not a list of strings")
    if len(value) < minimum:
        raise ItemProblem(f"field {name!r} has {len(value)} entries, fewer than {minimum}")
    return [str(v) for v in value]


def answer_index(value: Any, n_options: int, name: str) -> int:
    """A 0-based answer key that must point at one of `n_options` choices."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ItemProblem(f"field {name!r} is {value!r}, not an option index")
    if not 0 <= value < n_options:
        raise ItemProblem(f"answer key {name}={value} is outside the {n_options} choices")
    return value


def boolean(value: Any, name: str) -> bool:
    """A true/false label stored as bool, 0/1 or the words true/false."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ItemProblem(f"field {name!r} is {value!r}, not true/false")


def short_hash(text: str) -> str:
    """8 hex digits identifying a text (for IDs of rows that have none)."""
    import hashlib

    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]
