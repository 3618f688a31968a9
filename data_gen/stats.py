"""`stage=stats`: tables and bar charts of a shard folder, for the manifest folder and the demo report.

Reads only `manifest.json` (counts per language, country, property and question type, written by
the shard writer) and, when given, the per-country image counts of the images stage; it never
re-reads the shards, so it is instant on any dataset size. Writes `stats/stats.json`,
`stats/stats.md` (Markdown tables, sorted by count) and one PNG per dimension (matplotlib, Agg).
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from shard_contract.atomic import atomic_write_bytes, atomic_write_json, atomic_write_text
from shard_contract.manifest import COUNTED_FIELDS, read_manifest

TITLES = {
    "language": "Samples per language",
    "country": "Samples per country",
    "property": "Samples per property",
    "question_type": "Samples per question type",
    "images_per_country": "Images per country",
}


def _sorted_counts(counts: Mapping[str, int]) -> list[tuple[str, int]]:
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


def markdown_table(name: str, counts: Mapping[str, int], limit: int | None = None) -> str:
    """A two-column Markdown table with shares, largest first; `limit` keeps the top rows."""
    total = sum(counts.values()) or 1
    rows = _sorted_counts(counts)
    shown = rows[:limit] if limit else rows
    lines = [f"| {name} | samples | share |", "| --- | ---: | ---: |"]
    lines += [f"| {key} | {value:,} | {100 * value / total:.1f}% |" for key, value in shown]
    if len(shown) < len(rows):
        rest = sum(value for _, value in rows[len(shown):])
        lines.append(f"| … {len(rows) - len(shown)} more | {rest:,} | {100 * rest / total:.1f}% |")
    return "\n".join(lines)


def bar_chart(title: str, counts: Mapping[str, int], path: Path, limit: int = 40) -> Path:
    """Horizontal bar chart of the `limit` largest counts, saved as PNG (atomically)."""
    rows = _sorted_counts(counts)[:limit][::-1]
    figure, axis = plt.subplots(figsize=(7, max(2.0, 0.28 * len(rows) + 1)))
    axis.barh([key for key, _ in rows], [value for _, value in rows], color="#3b7dd8")
    axis.set_title(title)
    axis.set_xlabel("samples")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    plt.close(figure)
    atomic_write_bytes(path, buffer.getvalue())
    return path


def compute_stats(shard_dir: Path, images_per_country: Mapping[str, int] | None = None) -> dict[str, Any]:
    """Counts per dimension from the manifest, plus image counts per country when given."""
    manifest = read_manifest(shard_dir)
    stats: dict[str, Any] = {
        "total_samples": manifest["total_samples"],
        "images": manifest["images"],
        "shards": len(manifest["shards"]),
        "counts": {name: manifest["counts"][name] for name in COUNTED_FIELDS},
    }
    if images_per_country:
        stats["counts"]["images_per_country"] = dict(sorted(images_per_country.items()))
    return stats


def write_stats(shard_dir: Path, images_per_country: Mapping[str, int] | None = None) -> Path:
    """Write stats.json, stats.md and the PNG charts into `<shard_dir>/stats/`; return that folder."""
    shard_dir = Path(shard_dir)
    stats = compute_stats(shard_dir, images_per_country)
    out = shard_dir / "stats"
    out.mkdir(exist_ok=True)
    sections = [
        "# Dataset statistics",
        f"{stats['total_samples']:,} samples, {stats['images']:,} with an image, in {stats['shards']} shards.",
    ]
    for name, counts in stats["counts"].items():
        if not counts:
            continue
        sections += [f"## {TITLES[name]}", markdown_table(name, counts, limit=30), f"![{name}]({name}.png)"]
        bar_chart(TITLES[name], counts, out / f"{name}.png")
    atomic_write_text(out / "stats.md", "\n\n".join(sections) + "\n")
    atomic_write_json(out / "stats.json", stats)
    return out
