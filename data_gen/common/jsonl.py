"""The one JSON Lines reader of data_gen: every stage file of records goes through `iter_jsonl`.

A stage's output is JSON Lines (one object per line, UTF-8). Reading one back, a bad line is named
by file and line number (`StageIOError`) instead of surfacing as a bare `JSONDecodeError`; blank
lines are skipped. `offsets=True` also gives each record's byte offset, so a reader can come back
to it later with one `seek` (the shard writer sorts millions of records this way without holding
them). `strict=False` yields `None` for a bad line instead, for importers that count and skip.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from data_gen.common.errors import StageIOError


@dataclass(frozen=True)
class JsonLine:
    number: int  # 1-based line number
    offset: int  # byte offset of the line's start
    record: dict[str, Any] | None  # None only for a bad line when strict=False


def parse_jsonl(lines: Iterable[bytes], where: str, strict: bool = True) -> Iterator[JsonLine]:
    """Parse byte lines (each with or without its newline) as JSON objects; `where` names the source."""
    offset = 0
    for number, line in enumerate(lines, start=1):
        start, offset = offset, offset + len(line)
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            if strict:
                reason = error.msg if isinstance(error, json.JSONDecodeError) else "not UTF-8"
                raise StageIOError(f"{where}:{number}: not valid JSON ({reason})") from None
            record = None
        if not isinstance(record, dict):
            if strict:
                raise StageIOError(f"{where}:{number}: a record must be a JSON object")
            record = None
        yield JsonLine(number, start, record)


def iter_jsonl(path: Path) -> Iterator[JsonLine]:
    """The records of a JSON Lines file with their line numbers and byte offsets (strict)."""
    with open(path, "rb") as handle:
        yield from parse_jsonl(handle, str(path))


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """All records of a JSON Lines file, in order; StageIOError names a bad line."""
    return [line.record for line in iter_jsonl(path)]  # type: ignore[misc]
