"""Training sources: shard folders with their manifests, and the mixture weights between them.

A source is a folder of WebDataset tars written by data_gen (or any tool that writes an open_clip
style `sizes.json` beside the shards). Its sample count comes from `manifest.json`, else from
`sizes.json` (both read and checked by `shard_contract.manifest`), unless the config gives `samples`
explicitly; the epoch length is derived from
these counts, never guessed. Sources with weight 0 are left out (that is how ablations drop data).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from culturalpangea.errors import UserError
from shard_contract.manifest import ManifestError, shard_counts


class SourceError(UserError, ValueError):
    """A source folder or its configuration that cannot be used; the message names the source."""


@dataclass(frozen=True)
class Source:
    name: str
    shards: tuple[str, ...]
    samples: int
    weight: float
    shard_samples: tuple[int, ...] = ()  # per shard, from the manifest

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
        sources.append(Source(name, shards, samples, weight, per_shard))
    if not sources:
        raise SourceError("no training source has a positive weight")
    return sources


def normalised_weights(sources: list[Source]) -> list[float]:
    total = sum(source.weight for source in sources)
    return [source.weight / total for source in sources]
