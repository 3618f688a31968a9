"""Read the rows of a benchmark's local copy, whatever published form it came in.

A benchmark folder may hold any of:
- a Hugging Face `save_to_disk` folder (a `Dataset`: `state.json`; or a `DatasetDict`:
  `dataset_dict.json` with one sub-folder per split), possibly one per config (MERLIN's languages);
- Parquet files as the Hub stores them: `data/<split>-00000-of-00001.parquet`, or the Hub's
  converted layout `<config>/<split>/0000.parquet`;
- JSON (a list of records) or JSON Lines files, as original releases ship them.

Each is exposed as a `Table` (split name, relative location, a row iterator). Rows are plain dicts;
image columns stay undecoded (`{"bytes", "path"}`), so nothing large is decoded before its batch
runs. Parquet is streamed in record batches; `save_to_disk` data is memory-mapped Arrow.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from culturalpangea.errors import UserError

METADATA_FILES = frozenset({"state.json", "dataset_info.json", "dataset_dict.json", "manifest.json", "sizes.json"})
_SHARD_SUFFIX = re.compile(r"-\d{5}-of-\d{5}$")


class TableError(UserError, ValueError):
    """A benchmark folder that holds nothing readable, or a file that cannot be read."""


@dataclass(frozen=True)
class Table:
    """One split of a benchmark copy."""

    split: str
    location: str  # relative to the benchmark folder, for messages and config names
    base_dir: Path  # folder that relative image paths in the rows are resolved against
    read: Callable[[], Iterator[dict[str, Any]]]

    @property
    def parts(self) -> tuple[str, ...]:
        return Path(self.location).parts


def _is_saved_dataset(folder: Path) -> bool:
    return (folder / "dataset_dict.json").is_file() or (folder / "state.json").is_file()


def _saved_rows(folder: Path) -> Iterator[dict[str, Any]]:
    from datasets import Image, load_from_disk

    dataset = load_from_disk(str(folder))
    for name, feature in dataset.features.items():
        if isinstance(feature, Image):
            dataset = dataset.cast_column(name, Image(decode=False))
    yield from dataset


def _saved_tables(folder: Path, root: Path) -> list[Table]:
    prefix = folder.relative_to(root).as_posix() + "/" if folder != root else ""
    if (folder / "dataset_dict.json").is_file():
        splits = json.loads((folder / "dataset_dict.json").read_text(encoding="utf-8")).get("splits", [])
        return [
            Table(split, f"{prefix}{split}", folder / split, lambda f=folder / split: _saved_rows(f))
            for split in splits
        ]
    split = folder.name if folder != root else "test"
    return [Table(split, prefix.rstrip("/") or split, folder, lambda f=folder: _saved_rows(f))]


def _parquet_rows(path: Path) -> Iterator[dict[str, Any]]:
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
        for batch in parquet.iter_batches(batch_size=64):
            yield from batch.to_pylist()
    except Exception as error:  # pyarrow raises several types for damaged files
        raise TableError(f"{path}: not a readable Parquet file ({type(error).__name__}: {error})") from error


def _parquet_split(path: Path) -> str:
    stem = _SHARD_SUFFIX.sub("", path.stem)
    return path.parent.name if stem.isdigit() else stem  # `<split>/0000.parquet` → the folder name


def _json_rows(path: Path) -> Iterator[dict[str, Any]]:
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix == ".jsonl":
            rows = [json.loads(line) for line in text.splitlines() if line.strip()]
        else:
            rows = json.loads(text)
    except json.JSONDecodeError as error:
        raise TableError(f"{path}: not valid JSON ({error})") from error
    if isinstance(rows, dict):
        rows = rows.get("data", rows.get("rows", [rows]))
    if not isinstance(rows, list):
        raise TableError(f"{path}: expected a list of records")
    for row in rows:
        yield row if isinstance(row, dict) else {"__invalid__": row}


def _walk(folder: Path, root: Path, tables: list[Table]) -> None:
    if _is_saved_dataset(folder):
        tables.extend(_saved_tables(folder, root))
        return
    for path in sorted(folder.iterdir()):
        if path.name.startswith("."):
            continue
        if path.is_dir():
            _walk(path, root, tables)
        elif path.suffix == ".parquet":
            location = path.relative_to(root).as_posix()
            tables.append(Table(_parquet_split(path), location, path.parent, lambda p=path: _parquet_rows(p)))
        elif path.suffix in (".json", ".jsonl") and path.name not in METADATA_FILES:
            location = path.relative_to(root).as_posix()
            tables.append(Table(path.stem, location, path.parent, lambda p=path: _json_rows(p)))


def find_tables(root: Path) -> list[Table]:
    """Every split found under `root`, in a stable order; `TableError` when there is none."""
    root = Path(root)
    if not root.is_dir():
        raise TableError(f"benchmark folder {root} does not exist")
    tables: list[Table] = []
    _walk(root, root, tables)
    if not tables:
        raise TableError(f"{root} holds no save_to_disk dataset, Parquet or JSON file")
    return tables
