"""Training sources: shard folders with their manifests, and the mixture weights between them.

A source is a folder of WebDataset tars written by data_gen (or any tool that writes an open_clip
style `sizes.json` beside the shards). Its sample count comes from `manifest.json`, else from
`sizes.json` (both read and checked by `shard_contract.manifest`), unless the config gives `samples`
explicitly; the epoch length is derived from
these counts, never guessed. Sources with weight 0 are left out (that is how ablations drop data).

Weights are shares of **QA pairs**, not of samples (issue 18): a grouped source (data_gen
`shards.group=image_language`, several QA pairs about one image per sample) is drawn less often
in proportion to its pairs per sample, read from its manifest's `total_qa_pairs`, so the paper's
recipe and its grouped variant see the same mixture of QA pairs. For sources of one pair per
sample (every manifest before grouping, `sizes.json`-only folders) nothing changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from culturalpangea.errors import UserError
from shard_contract.manifest import ManifestError, qa_pair_counts, shard_counts


class SourceError(UserError, ValueError):
    """A source folder or its configuration that cannot be used; the message names the source."""


@dataclass(frozen=True)
class Source:
    name: str
    shards: tuple[str, ...]
    samples: int
    weight: float
    shard_samples: tuple[int, ...] = ()  # per shard, from the manifest
    qa_pairs: int = 0  # QA pairs in the source (0: one per sample)

    @property
    def pairs_per_sample(self) -> float:
        return self.qa_pairs / self.samples if self.qa_pairs and self.samples else 1.0

    def shards_with_counts(self) -> list[tuple[str, int | None]]:
        counts = self.shard_samples or (None,) * len(self.shards)
        return list(zip(self.shards, counts, strict=True))


def _count_from_folder(name: str, folder: Path) -> tuple[tuple[str, ...], tuple[int, ...]]:
    try:
        entries = shard_counts(folder)
    except FileNotFoundError as error:
        raise SourceError(f"source {name!r}: {error}") from None
    except ManifestError as error:
        raise SourceError(f"source {name!r}: unreadable manifest: {error}") from error
    if not entries:
        raise SourceError(f"source {name!r}: the manifest in {folder} lists no shards")
    return tuple(str(folder / shard) for shard, _ in entries), tuple(count for _, count in entries)


def load_sources(config: Mapping[str, Mapping[str, Any]]) -> list[Source]:
    """Read `{name: {path, weight, samples?}}` into Sources (weight-0 sources dropped)."""
    sources = []
    for name, spec in config.items():
        weight = float(spec.get("weight", 1.0))
        if weight < 0:
            raise SourceError(f"source {name!r}: negative weight {weight}")
        if weight == 0:
            continue
        folder = Path(str(spec["path"]))
        if not folder.is_dir():
            raise SourceError(f"source {name!r}: folder {folder} does not exist")
        shards, per_shard = _count_from_folder(name, folder)
        samples = int(spec.get("samples") or sum(per_shard))
        pairs_per_sample = sum(count for _, count in qa_pair_counts(folder)) / max(1, sum(per_shard))
        sources.append(Source(name, shards, samples, weight, per_shard, round(samples * pairs_per_sample)))
    if not sources:
        raise SourceError("no training source has a positive weight")
    return sources


def normalised_weights(sources: list[Source]) -> list[float]:
    """Per-draw probabilities: each source's weight (a share of QA pairs) over its pairs per sample."""
    per_draw = [source.weight / source.pairs_per_sample for source in sources]
    total = sum(per_draw)
    return [weight / total for weight in per_draw]
