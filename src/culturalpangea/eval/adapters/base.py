"""The adapter interface and the row loop every adapter shares.

An adapter turns one benchmark's local copy into `EvalItem`s (or `ItemError`s for rows that cannot
be evaluated). `iterate_rows` runs a per-row builder over every table, keeps going past bad rows
(a missing field, a bad answer key, an undecodable base64 image each become an `ItemError` naming
the row's ID), applies `limit` per split — counted across all the files of that split (the Hub
shards a split as `data/<split>-0000k-of-0000n.parquet`), so `limit: 10` is ten rows of each split,
not ten of each file — and refuses duplicate item IDs (they would collide in the resumable
prediction file).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from culturalpangea.eval.items import EvalItem, ItemError, ItemProblem
from culturalpangea.eval.tables import Table, find_tables

Row = dict[str, Any]
ItemOrError = EvalItem | ItemError


class Adapter(Protocol):
    """One benchmark: its name, its scoring task family, and how to read its items."""

    name: str
    description: str

    def items(self, root: Path, settings: Mapping[str, Any]) -> Iterator[ItemOrError]: ...


@dataclass(frozen=True)
class RowContext:
    """Where a row comes from, for builders that need the split or a base folder for image paths."""

    table: Table
    index: int
    item_id: str
    settings: Mapping[str, Any]
    root: Path | None = None  # the benchmark folder (image folders of original releases hang off it)


def field(row: Row, name: str) -> Any:
    """`row[name]`, or an `ItemProblem` naming the missing (or null) field."""
    if name not in row or row[name] is None:
        raise ItemProblem(f"missing field {name!r}")
    return row[name]


def text_field(row: Row, name: str) -> str:
    """A non-empty string field."""
    value = field(row, name)
    if not isinstance(value, str) or not value.strip():
        raise ItemProblem(f"field {name!r} is empty or not text")
    return value


def iterate_rows(
    benchmark: str,
    root: Path,
    settings: Mapping[str, Any],
    id_of: Callable[[Row, Table, int], str],
    build: Callable[[Row, RowContext], EvalItem],
    language_of: Callable[[Row, Table], str | None] = lambda row, table: None,
    expand: Callable[[Row], Iterable[Row]] | None = None,
    keep_table: Callable[[Table], bool] = lambda table: True,
    split_of: Callable[[Row, Table], str] | None = None,
) -> Iterator[ItemOrError]:
    """Build items from every row of every kept table under `root`; bad rows become `ItemError`s.

    `expand` turns a stored record into the rows it holds (a release that nests questions under
    their image); `limit` counts the expanded rows, per split — or per `split_of(row, table)` where
    one file holds several (XM3600's captions.jsonl holds every language)."""
    limit = settings.get("limit")
    seen: set[str] = set()
    rows_per_split: dict[tuple[str, str], int] = {}
    for table in find_tables(root):
        if not keep_table(table):
            continue
        folder = Path(table.location).parent.as_posix()  # the shards of one split share it
        rows = table.read() if expand is None else (row for record in table.read() for row in expand(record))
        for index, row in enumerate(rows):
            split_key = (folder, table.split if split_of is None else split_of(row, table))
            if limit is not None and rows_per_split.get(split_key, 0) >= int(limit):
                if split_key[1] == table.split:
                    break  # a file of one split: the rest of it is over the limit too, stop reading it
                continue
            rows_per_split[split_key] = rows_per_split.get(split_key, 0) + 1
            try:
                item_id = str(id_of(row, table, index))
            except (ItemProblem, KeyError, TypeError, ValueError):
                item_id = f"{table.split}#{index}"
            try:
                language = language_of(row, table)
            except (ItemProblem, KeyError, TypeError, ValueError):
                language = None
            if item_id in seen:
                yield ItemError(benchmark, f"{item_id}@{table.location}#{index}", "duplicate item ID", language)
                continue
            seen.add(item_id)
            try:
                yield build(row, RowContext(table, index, item_id, settings, Path(root)))
            except (ItemProblem, KeyError, TypeError, ValueError) as error:
                reason = f"missing field {error.args[0]!r}" if isinstance(error, KeyError) else str(error)
                yield ItemError(benchmark, item_id, reason, language)
