"""Run one benchmark: batch its items through a generator, append predictions, skip finished ones.

The generator is injected (`Generator`: requests in, one string per request out), so the same loop
runs the real model (`generation.model_generator`, batched and left-padded by the model code) or a
scripted stand-in in tests of the scoring and resume logic. Items are grouped by their generation
length (ALM-Bench's long answers get more tokens than its true/false ones) into batches of
`batch_size`; images are decoded only when their batch runs. Bad input never stops the run: an
adapter's `ItemError`, an image that does not decode, or a generation failure that persists when
the item is retried alone, each becomes an error record with the item's ID. Each batch is one
atomic commit to the `PredictionStore`, so a killed run repeats at most one batch.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from PIL import Image

from culturalpangea.eval.images import ImageDecodeError, decode_image
from culturalpangea.eval.items import EvalConfigError, EvalItem, ItemError
from culturalpangea.eval.resume import PredictionStore


@dataclass
class EvalRequest:
    """One chat request: messages with one `<image>` per image in the user content, and the images."""

    messages: list[dict[str, str]]
    images: list[Image.Image]


class Generator(Protocol):
    """Anything that answers a batch of requests with one string each, in order."""

    def __call__(self, requests: list[EvalRequest], *, max_new_tokens: int) -> list[str]: ...


@dataclass
class RunStats:
    """What one benchmark run did."""

    benchmark: str
    resumed: int = 0
    generated: int = 0
    errors: int = 0
    batches: int = 0
    seconds: float = 0.0
    error_reasons: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"resumed": self.resumed, "generated": self.generated, "errors": self.errors,
                "batches": self.batches, "seconds": round(self.seconds, 3),
                "items_per_second": round(self.generated / self.seconds, 3) if self.seconds > 0 else None}


def input_digest(item: EvalItem | ItemError) -> str:
    """sha256 of what an item asks (prompt, target, task, language, image bytes or files): its identity on resume."""
    if isinstance(item, ItemError):
        content: dict[str, Any] = {"error": item.reason}
    else:
        images = [hashlib.sha256(source).hexdigest() if isinstance(source, bytes)
                  else f"{source}:{source.stat().st_size if source.exists() else -1}" for source in item.images]
        content = {"prompt": item.prompt, "target": item.target, "task": item.task, "language": item.language,
                   "images": images}
    return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()


def base_record(item: EvalItem | ItemError) -> dict[str, Any]:
    """The fields every prediction record carries."""
    if isinstance(item, ItemError):
        return {"id": item.item_id, "benchmark": item.benchmark, "language": item.language,
                "country": item.country, "subset": None, "task": None, "target": None, "prompt": None,
                "prediction": None, "error": item.reason, "input_sha256": input_digest(item)}
    return {"id": item.item_id, "benchmark": item.benchmark, "language": item.language, "country": item.country,
            "subset": item.subset, "task": item.task, "target": item.target, "prompt": item.prompt,
            "prediction": None, "error": None, "input_sha256": input_digest(item)}


def _error(item: EvalItem, reason: str) -> dict[str, Any]:
    return {**base_record(item), "error": reason}


class BenchmarkRun:
    """The batching loop for one benchmark; `run` consumes the adapter's items."""

    def __init__(self, store: PredictionStore, generator: Generator, batch_size: int, max_new_tokens: int,
                 cap: int | None = None) -> None:
        if batch_size < 1:
            raise EvalConfigError(f"batch_size must be at least 1, got {batch_size}")
        self.store, self.generator = store, generator
        self.batch_size, self.max_new_tokens, self.cap = batch_size, max_new_tokens, cap
        self._pending: dict[int, list[EvalItem]] = {}
        self._errors: list[dict[str, Any]] = []

    def run(self, benchmark: str, items: Iterable[EvalItem | ItemError]) -> RunStats:
        stats = RunStats(benchmark)
        start = time.monotonic()
        seen: set[str] = set()
        for item in items:
            if item.item_id in self.store.done:  # its input was checked unchanged before the run (evaluate.py)
                stats.resumed += 1
                continue
            if item.item_id in seen:
                continue  # an adapter's duplicate: already reported as an error
            seen.add(item.item_id)
            if isinstance(item, ItemError):
                self._errors.append(base_record(item))
                continue
            limit = int(item.max_new_tokens or self.max_new_tokens)
            limit = min(limit, int(self.cap)) if self.cap else limit
            group = self._pending.setdefault(limit, [])
            group.append(item)
            if len(group) >= self.batch_size:
                self._flush(limit, stats)
        for limit in list(self._pending):
            self._flush(limit, stats)
        if self._errors:
            self._commit([], stats)
        stats.seconds = time.monotonic() - start
        return stats

    def _flush(self, limit: int, stats: RunStats) -> None:
        batch = self._pending.pop(limit, [])
        ready, requests = [], []
        for item in batch:
            try:
                images = [decode_image(source) for source in item.images]
            except ImageDecodeError as error:
                self._errors.append(_error(item, str(error)))
                continue
            ready.append(item)
            requests.append(EvalRequest([{"role": "user", "content": item.prompt}], images))
        records = self._generate(ready, requests, limit)
        stats.generated += sum(1 for record in records if record["error"] is None)
        stats.batches += 1 if requests else 0
        self._commit(records, stats)

    def _generate(self, items: list[EvalItem], requests: list[EvalRequest], limit: int) -> list[dict[str, Any]]:
        if not items:
            return []
        try:
            outputs = self.generator(requests, max_new_tokens=limit)
            if len(outputs) != len(requests):
                raise RuntimeError(f"generator returned {len(outputs)} answers for {len(requests)} requests")
        except Exception as error:  # a failing item must not stop the benchmark: retry alone, then record
            if len(items) == 1:
                return [_error(items[0], f"generation failed: {type(error).__name__}: {error}")]
            return [r for i, q in zip(items, requests, strict=True) for r in self._generate([i], [q], limit)]
        return [{**base_record(item), "prediction": str(output)} for item, output in zip(items, outputs, strict=True)]

    def _commit(self, records: list[dict[str, Any]], stats: RunStats) -> None:
        errors, self._errors = self._errors, []
        for record in errors + [r for r in records if r["error"] is not None]:
            stats.errors += 1
            reason = str(record["error"]).split(":")[0]
            stats.error_reasons[reason] = stats.error_reasons.get(reason, 0) + 1
        self.store.commit(records + errors)
