"""Weighted WebDataset mixture in the open_clip pipeline order, with an exact resumable position.

Per source, per pass over its shards: shard list → deterministic shuffle (seed, epoch, pass) →
split by node and worker → tar to samples (broken tars/members counted and skipped, see
tar_reader.py) → sample
shuffle. The mixer draws a source for every sample from a seeded RNG in proportion to the
weights, then decodes and preprocesses (in the worker) and collates micro-batches. Sources repeat
(a new shard order each pass), so a small source is revisited rather than ending the epoch; the
epoch length is the manifests' total sample count divided by the global micro-batch count.

Resume: every batch reports how many raw samples its worker has consumed so far this epoch. The
trainer keeps the last value per worker in its checkpoint; on resume each worker replays the same
RNG draws and skips that many raw samples without decoding them, so training continues with the
very samples an uninterrupted run would have seen next (given the same world size and workers).
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Iterator
from typing import Any

import torch
import torch.distributed as dist
from torch.utils.data import IterableDataset, get_worker_info

from culturalpangea.data.skips import peek_skip_counts
from culturalpangea.data.sources import Source, normalised_weights
from culturalpangea.data.tar_reader import tar_samples
from culturalpangea.errors import UserError


class SourceUnreadableError(UserError, RuntimeError):
    """A source yields nothing at all (its shards vanished or all are broken): training cannot go on."""


class NoUsableSamplesError(UserError, RuntimeError):
    """Many samples in a row were skipped: the data or `data.max_length` cannot train; the reasons are named."""


def _rank_and_world() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _worker_and_count() -> tuple[int, int]:
    info = get_worker_info()
    return (info.id, info.num_workers) if info else (0, 1)


class WeightedShardMixture(IterableDataset):
    """Yields collated micro-batches; `len()` is the number of batches per epoch on this rank."""

    def __init__(
        self,
        sources: list[Source],
        process: Callable[[dict[str, Any]], Any],
        collate: Callable[[list[Any]], dict[str, Any]],
        micro_batch_size: int,
        num_workers: int,
        seed: int = 0,
        shuffle_buffer: int = 1000,
        max_consecutive_skips: int = 1000,
    ) -> None:
        super().__init__()
        self.sources = sources
        self.weights = normalised_weights(sources)
        self.process = process
        self.collate = collate
        self.micro_batch_size = micro_batch_size
        self.num_workers = max(1, num_workers)
        self.seed = seed
        self.shuffle_buffer = shuffle_buffer
        self.max_consecutive_skips = max_consecutive_skips
        self.epoch = 0
        self.resume_position: dict[int, tuple[int, ...]] = {}

    @property
    def total_samples(self) -> int:
        return sum(source.samples for source in self.sources)

    def batches_per_worker(self) -> int:
        _, world = _rank_and_world()
        per_step = world * self.num_workers * self.micro_batch_size
        return max(1, self.total_samples // per_step)

    def __len__(self) -> int:
        return self.batches_per_worker() * self.num_workers

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def set_resume_position(self, epoch: int, position_per_worker: dict[int, tuple[int, ...]]) -> None:
        """Continue `epoch` where each worker stood: {global_worker_id: (batches_done, raw_consumed[,
        pieces_done])}, `pieces_done` being how many pieces of the last raw sample (an over-long sample
        split at turn boundaries) are already in a batch (0: none pending)."""
        self.epoch = epoch
        self.resume_position = {int(worker): tuple(int(v) for v in position)
                                for worker, position in position_per_worker.items()}

    def _raw_stream(self, source_index: int, global_worker: int, total_workers: int) -> Iterator[dict[str, Any]]:
        source = self.sources[source_index]
        if len(source.shards) < total_workers:
            raise ValueError(
                f"source {source.name!r} has {len(source.shards)} shards for {total_workers} data workers "
                "(ranks x workers): write more, smaller shards or use fewer workers"
            )
        pass_index = 0
        while True:
            order = source.shards_with_counts()
            random.Random(f"{self.seed}/{self.epoch}/{pass_index}/{source.name}").shuffle(order)
            mine = order[global_worker::total_workers]
            rng = random.Random(f"{self.seed}/{self.epoch}/{pass_index}/{source.name}/{global_worker}")
            produced = 0
            samples = tar_samples(mine)
            for sample in _buffer_shuffle(samples, self.shuffle_buffer, rng):
                sample["__source__"] = source.name
                produced += 1
                yield sample
            if produced == 0:
                missing = sum(not os.path.exists(url) for url, _ in mine if "://" not in url)
                raise SourceUnreadableError(
                    f"source {source.name!r}: a full pass over {len(mine)} shards gave no samples "
                    f"({missing} of them no longer exist: did the shard folder vanish?)"
                )
            pass_index += 1

    def __iter__(self) -> Iterator[dict[str, Any]]:
        rank, world = _rank_and_world()
        worker, workers = _worker_and_count()
        global_worker, total_workers = rank * workers + worker, world * workers
        streams = [self._raw_stream(index, global_worker, total_workers) for index in range(len(self.sources))]
        choose = random.Random(f"{self.seed}/{self.epoch}/mix/{global_worker}")
        indices = list(range(len(self.sources)))
        batches_done, skip, pieces_done = (*self.resume_position.pop(global_worker, (0, 0)), 0)[:3]
        for _ in range(skip - (1 if pieces_done else 0)):  # replay the draws, no decoding
            next(streams[choose.choices(indices, self.weights)[0]])
        consumed = skip
        pending: list[Any] = []  # pieces of the last raw sample not yet in a batch
        if pieces_done:  # resumed between two pieces of one split sample: redo it, keep what is left
            pending = _as_pieces(self.process(next(streams[choose.choices(indices, self.weights)[0]])))[pieces_done:]
        for batch_index in range(batches_done, self.batches_per_worker()):
            batch: list[Any] = []
            skipped_in_a_row = 0
            while len(batch) < self.micro_batch_size:
                if pending:
                    batch.append(pending.pop(0))
                    pieces_done += 1
                    continue
                raw = next(streams[choose.choices(indices, self.weights)[0]])
                consumed += 1
                pieces = _as_pieces(self.process(raw))
                if pieces:
                    batch.append(pieces[0])
                    pending, pieces_done = pieces[1:], 1
                    skipped_in_a_row = 0
                    continue
                skipped_in_a_row += 1
                if skipped_in_a_row >= self.max_consecutive_skips:
                    reasons = ", ".join(f"{reason} {count}" for reason, count in sorted(peek_skip_counts().items()))
                    raise NoUsableSamplesError(
                        f"{skipped_in_a_row} samples in a row could not be used (skipped: {reasons}); check the "
                        "shards and data.max_length (data.max_consecutive_skips sets this limit)"
                    )
            out = self.collate(batch)
            out["data_position"] = {
                "epoch": self.epoch, "worker": global_worker, "batches_done": batch_index + 1, "consumed": consumed,
                "pieces_done": pieces_done if pending else 0,
            }
            yield out


def _as_pieces(processed: Any) -> list[Any]:
    """`process` may give one sample, None (skipped) or a list of pieces (SampleProcessor.pieces)."""
    if processed is None:
        return []
    return list(processed) if isinstance(processed, list) else [processed]


def _buffer_shuffle(samples: Iterator[dict[str, Any]], size: int, rng: random.Random) -> Iterator[dict[str, Any]]:
    """Reservoir-style shuffle buffer (like wds.shuffle) with an explicit RNG for determinism."""
    buffer: list[dict[str, Any]] = []
    for incoming in samples:
        if len(buffer) < size:
            buffer.append(incoming)
            continue
        index = rng.randrange(len(buffer))
        outgoing, buffer[index] = buffer[index], incoming
        yield outgoing
    rng.shuffle(buffer)
    yield from buffer


def seed_everything_for_workers(worker_id: int) -> None:
    """DataLoader worker_init_fn: torch RNG per worker (Python RNGs above are seeded explicitly)."""
    torch.manual_seed(torch.initial_seed() % 2**31 + worker_id)
