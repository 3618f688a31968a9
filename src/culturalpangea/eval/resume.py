"""Resumable prediction files: one JSON Lines file per benchmark, committed a chunk at a time.

Every generated batch is appended as its records followed by a commit line `{"_commit": n,
"count": k}`, in one `write` and then `fsync`. On open, everything after the last commit line (a
chunk cut by `kill -9`, a torn last line) is truncated away, so the file only ever holds whole
chunks; the IDs in it are done and are skipped on the next run. A `*.meta.json` written atomically
beside it records what produced the predictions (checkpoint, generation settings, prompt version):
resuming with different settings is refused with a clear error instead of mixing two runs. Each
record also carries the digest of its item's input (prompt, target, images): an item whose input
changed since its prediction was stored (a benchmark copy replaced by another with the same IDs)
stops the run with the item named, instead of mixing old and new prompts in one store.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from culturalpangea.errors import UserError
from shard_contract.atomic import atomic_write_json

COMMIT_KEY = "_commit"
BENCHMARK_CHANGED = "the benchmark changed; use another run folder, or resume=false to start this benchmark over"


class StoreMismatchError(UserError, ValueError):
    """Existing predictions were made with other settings than this run's."""


def _committed(path: Path) -> tuple[list[dict[str, Any]], int, int]:
    """(records, byte offset after the last commit line, number of commits) of a prediction file."""
    records: list[dict[str, Any]] = []
    pending: list[dict[str, Any]] = []
    offset = end = commits = 0
    with open(path, "rb") as handle:
        for line in handle:
            offset += len(line)
            if not line.endswith(b"\n"):
                break  # torn last line
            try:
                value = json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError):
                break
            if isinstance(value, dict) and COMMIT_KEY in value:
                if value.get("count") != len(pending):
                    break
                records.extend(pending)
                pending, end, commits = [], offset, commits + 1
            elif isinstance(value, dict):
                pending.append(value)
            else:
                break
    return records, end, commits


def committed_records(path: Path) -> list[dict[str, Any]]:
    """The committed records of a prediction file (what a resume would keep)."""
    return _committed(Path(path))[0]


class PredictionStore:
    """The predictions of one benchmark in one run folder."""

    def __init__(self, path: Path, fingerprint: Mapping[str, Any]) -> None:
        self.path = Path(path)
        self.meta_path = self.path.with_name(self.path.stem + ".meta.json")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._check_fingerprint(dict(fingerprint))
        self._records: list[dict[str, Any]] = []
        self._commits = 0
        self.truncated_bytes = 0
        if self.path.exists():
            self._records, end, self._commits = _committed(self.path)
            size = self.path.stat().st_size
            if size > end:
                with open(self.path, "r+b") as handle:
                    handle.truncate(end)
                    handle.flush()
                    os.fsync(handle.fileno())
                self.truncated_bytes = size - end
        self.done: set[str] = {str(record["id"]) for record in self._records}
        self.inputs: dict[str, str | None] = {str(r["id"]): r.get("input_sha256") for r in self._records}

    def _check_fingerprint(self, fingerprint: dict[str, Any]) -> None:
        normalized = json.loads(json.dumps(fingerprint, sort_keys=True, default=str))
        if self.meta_path.exists() and self.path.exists():
            previous = json.loads(self.meta_path.read_text(encoding="utf-8"))
            if previous != normalized:
                changed = sorted(k for k in set(previous) | set(normalized) if previous.get(k) != normalized.get(k))
                raise StoreMismatchError(
                    f"{self.path} holds predictions made with other settings (changed: {', '.join(changed)}); "
                    "use another run folder, or resume=false to start this benchmark over"
                )
        else:
            atomic_write_json(self.meta_path, normalized)

    def commit(self, records: Iterable[Mapping[str, Any]]) -> int:
        """Append `records` and a commit line in one write, then fsync; return how many."""
        rows = [dict(record) for record in records]
        if not rows:
            return 0
        self._commits += 1
        lines = [json.dumps(row, ensure_ascii=False, sort_keys=True) for row in rows]
        lines.append(json.dumps({COMMIT_KEY: self._commits, "count": len(rows)}))
        with open(self.path, "ab") as handle:
            handle.write(("\n".join(lines) + "\n").encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
        self._records.extend(rows)
        self.done.update(str(row["id"]) for row in rows)
        self.inputs.update((str(row["id"]), row.get("input_sha256")) for row in rows)
        return len(rows)

    def check_unchanged(self, item_id: str, input_sha256: str) -> None:
        """Refuse to reuse a stored prediction whose item's input is no longer the same."""
        stored = self.inputs.get(item_id)
        if stored is not None and stored != input_sha256:
            raise StoreMismatchError(
                f"{self.path}: item {item_id!r} has another input (prompt, target or images) than when its "
                f"prediction was stored: {BENCHMARK_CHANGED}"
            )

    def check_inputs(self, inputs: Iterable[tuple[str, str]]) -> None:
        """Before a resume: every stored item still exists with the same input (`(id, input_sha256)` pairs).

        A benchmark whose rows were replaced under new IDs (MaXM's IDs include the question) would
        otherwise leave the old predictions in the report beside the new ones.
        """
        current = set()
        for item_id, digest in inputs:
            current.add(item_id)
            self.check_unchanged(item_id, digest)
        gone = sorted(self.done - current)
        if gone:
            raise StoreMismatchError(f"{self.path}: {len(gone)} stored predictions are for items the benchmark no "
                                     f"longer has (e.g. {gone[0]!r}): {BENCHMARK_CHANGED}")

    @property
    def records(self) -> list[dict[str, Any]]:
        return list(self._records)


def discard(path: Path) -> None:
    """Remove a benchmark's predictions and their metadata (resume=false)."""
    path = Path(path)
    for target in (path, path.with_name(path.stem + ".meta.json")):
        target.unlink(missing_ok=True)
