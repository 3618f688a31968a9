"""`stage=stats`: tables and bar charts of a shard folder, for the manifest folder and the demo report.

    python -m data_gen stage=stats out_dir=D [shard_dir=…]

Writes tables and charts beside each folder's manifest (`<folder>/stats/`) and, for the shards
stage's own output, a combined report of both folders in `shards/stats/` with images per country
(counted from `images/<CC>.jsonl`, status ok). `shards/stats/stats.json` is written last: the
step's done marker for `stage=all`.

Reads only `manifest.json` (counts per language, country, property and question type, written by
the shard writer) and, when given, the per-country image counts of the images stage; it never
re-reads the shards, so it is instant on any dataset size. Writes `stats/stats.json`,
`stats/stats.md` (Markdown tables, sorted by count) and one PNG per dimension (matplotlib, Agg).
`stats.json` keeps the codes; the tables and charts name them as every report does: `Japanese (ja)`,
`Japan (JP)` (shard_contract.names), `P131 located in the administrative territorial entity` (the
property catalogue), with the unit each table counts (samples, or images).

The combined report (or the one folder of `shard_dir=`) also holds a bias section
(data_gen/shards/bias.py): samples and images per country against GDP per capita from Wikidata with
Spearman's ρ and a scatter plot (`bias_gdp.png`), and entities and images per primary class and per
sitelink band; skipped, with the reason, when `out_dir` has no entity records.
"""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from omegaconf import DictConfig

from data_gen.common.layout import Layout
from data_gen.common.progress import format_table
from data_gen.common.stage_result import StageResult
from data_gen.shards.bias import (
    PLOT_NAME,
    bias_figure,
    bias_markdown,
    bias_section,
    images_per_country,
    reading,
    usable_images,
)
from data_gen.shards.validate import shard_folders
from data_gen.wikidata.properties import load_catalogue
from shard_contract.atomic import atomic_write_bytes, atomic_write_json, atomic_write_text
from shard_contract.manifest import COUNTED_FIELDS, read_manifest
from shard_contract.names import country_label, language_label

TITLES = {
    "language": "Samples per language",
    "country": "Samples per country",
    "property": "Samples per property",
    "question_type": "Samples per question type",
    "images_per_country": "Images per country",
}


def _sorted_counts(counts: Mapping[str, int]) -> list[tuple[str, int]]:
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


def unit_of(name: str) -> str:
    return "images" if name == "images_per_country" else "samples"


def display_key(name: str, key: str) -> str:
    """How a report names a counted key: language and country names with their codes, property labels."""
    if name == "language":
        return language_label(key)
    if name in ("country", "images_per_country"):
        return country_label(key)
    if name == "property" and key.startswith("P"):
        try:
            return f"{key} {load_catalogue().get(key).label}"
        except KeyError:
            return key
    return key


def markdown_table(name: str, counts: Mapping[str, int], limit: int | None = None) -> str:
    """A two-column Markdown table with shares, largest first; `limit` keeps the top rows."""
    total = sum(counts.values()) or 1
    rows = _sorted_counts(counts)
    shown = rows[:limit] if limit else rows
    lines = [f"| {name} | {unit_of(name)} | share |", "| --- | ---: | ---: |"]
    lines += [f"| {display_key(name, key)} | {value:,} | {100 * value / total:.1f}% |" for key, value in shown]
    if len(shown) < len(rows):
        rest = sum(value for _, value in rows[len(shown) :])
        lines.append(f"| … {len(rows) - len(shown)} more | {rest:,} | {100 * rest / total:.1f}% |")
    return "\n".join(lines)


def bar_chart(name: str, counts: Mapping[str, int], path: Path, limit: int = 40) -> Path:
    """Horizontal bar chart of the `limit` largest counts of dimension `name`, saved as PNG (atomically)."""
    rows = _sorted_counts(counts)[:limit][::-1]
    labels = [display_key(name, key) for key, _ in rows]
    width = 7 + 0.06 * max((len(label) for label in labels), default=0)  # room for property labels
    figure, axis = plt.subplots(figsize=(min(width, 14), max(2.0, 0.28 * len(rows) + 1)))
    axis.barh(labels, [value for _, value in rows], color="#3b7dd8")
    axis.set_title(TITLES[name])
    axis.set_xlabel(unit_of(name))
    return save_png(figure, path)


def save_png(figure: Any, path: Path) -> Path:
    """A matplotlib figure as a 100 dpi PNG at `path`, written atomically; the figure is closed."""
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    plt.close(figure)
    atomic_write_bytes(path, buffer.getvalue())
    return path


def _sections(counts: Mapping[str, Mapping[str, int]], out: Path) -> list[str]:
    """A titled table and a chart per non-empty dimension."""
    sections = []
    for name, table_counts in counts.items():
        if table_counts:
            sections += [f"## {TITLES[name]}", markdown_table(name, table_counts, limit=30), f"![{name}]({name}.png)"]
            bar_chart(name, table_counts, out / f"{name}.png")
    return sections


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


def _bias_sections(bias: Mapping[str, Any] | None, out: Path) -> list[str]:
    """The bias section's Markdown blocks and its scatter plot (nothing when `bias` is None)."""
    if bias is None:
        return []
    if "skipped" not in bias and (figure := bias_figure(bias)) is not None:
        save_png(figure, out / PLOT_NAME)
    return bias_markdown(bias, country_label)


def write_stats(
    shard_dir: Path, images_per_country: Mapping[str, int] | None = None, bias: Mapping[str, Any] | None = None
) -> Path:
    """Write stats.json, stats.md and the PNG charts into `<shard_dir>/stats/` (with `bias` when given)."""
    shard_dir = Path(shard_dir)
    stats = compute_stats(shard_dir, images_per_country)
    out = shard_dir / "stats"
    out.mkdir(exist_ok=True)
    sections = [
        "# Dataset statistics",
        f"{stats['total_samples']:,} samples, {stats['images']:,} with an image, in {stats['shards']} shards.",
        *_sections(stats["counts"], out),
        *_bias_sections(bias, out),
    ]
    if bias is not None:
        stats["bias"] = dict(bias)
    atomic_write_text(out / "stats.md", "\n\n".join(sections) + "\n")
    atomic_write_json(out / "stats.json", stats)
    return out


def samples_per_country(folders: list[Path]) -> dict[str, int]:
    counts: Counter = Counter()
    for folder in folders:
        counts.update(read_manifest(folder)["counts"]["country"])
    return dict(sorted(counts.items()))


def combined_stats(
    folders: list[Path], images: dict[str, int], out: Path, bias: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """One report over several shard folders: summed counts, tables, charts, `bias` if given; stats.json last."""
    out.mkdir(parents=True, exist_ok=True)
    counts: dict[str, Counter] = {name: Counter() for name in COUNTED_FIELDS}
    total = shards = 0
    for folder in folders:
        manifest = read_manifest(folder)
        total += manifest["total_samples"]
        shards += len(manifest["shards"])
        for name in COUNTED_FIELDS:
            counts[name].update(manifest["counts"][name])
    stats = {
        "total_samples": total,
        "shards": shards,
        "folders": [folder.name for folder in folders],
        "counts": {name: dict(sorted(counter.items())) for name, counter in counts.items()},
    }
    if images:
        stats["counts"]["images_per_country"] = images
    sections = [
        "# Dataset statistics",
        f"{total:,} samples in {shards} shards ({', '.join(stats['folders'])}).",
        *_sections(stats["counts"], out),
        *_bias_sections(bias, out),
    ]
    if bias is not None:
        stats["bias"] = dict(bias)
    atomic_write_text(out / "stats.md", "\n\n".join(sections) + "\n")
    atomic_write_json(out / "stats.json", stats)
    return stats


def run_stats(cfg: DictConfig) -> StageResult:
    """`stage=stats` (registered in data_gen.pipeline.registry)."""
    layout = Layout.of(cfg)
    per_entity = usable_images(layout)  # one read of the images records for the tables and the bias section
    images = images_per_country(per_entity)
    folders = shard_folders(cfg)
    one_folder = bool(cfg.get("shard_dir"))  # its own report carries the bias section; else the combined one
    bias = bias_section(cfg, samples_per_country(folders), per_entity)
    for folder in folders:
        write_stats(folder, images, bias if one_folder else None)
    rows = [[str(folder / "stats"), read_manifest(folder)["total_samples"]] for folder in folders]
    manifest: dict[str, Any] = {}
    if not one_folder:
        manifest = combined_stats(folders, images, layout.stats, bias)
        rows.append([str(layout.stats), manifest["total_samples"]])
    summary = format_table(["report", "samples"], rows, title="stats") + "\n" + bias_summary(bias)
    return StageResult(manifest=manifest, summary=summary)


def bias_summary(bias: Mapping[str, Any]) -> str:
    """The console lines of the bias section: its ρ readings, or why it was skipped."""
    if "skipped" in bias:
        return f"bias: skipped ({bias['skipped']})"
    lines = [f"bias, {unit} vs GDP: {reading(bias['spearman'][unit], unit)}" for unit in ("samples", "images")]
    if bias["no_gdp_value"]:
        lines.append(f"bias: no GDP value for {len(bias['no_gdp_value'])} countries (left out of ρ)")
    if bias["gdp"]["error"]:
        lines.append(f"bias: GDP values unavailable ({bias['gdp']['error']})")
    return "\n".join(lines)
