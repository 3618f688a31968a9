"""CLI wiring of the shard-level tools: `stage=validate`, `stage=stats`, `stage=import_llava`.

    python -m data_gen stage=validate out_dir=D [shard_dir=D/shards/open]
    python -m data_gen stage=stats out_dir=D [shard_dir=…]
    python -m data_gen stage=import_llava out_dir=D import.annotations=cg_jp.json import.images=cg_jp.tar \\
        import.name=culturalground import.prefix=cg-jp

- **validate** checks one shard folder, or both `shards/open` and `shards/mcq` when `shard_dir` is not
  given (data_gen/validate.py); the first bad sample ends the run with its shard and key named and
  exit code 2.
- **stats** writes tables and charts beside each folder's manifest (`<folder>/stats/`) and, for the
  stage's own output, a combined report of both folders in `shards/stats/` with images per country
  (counted from `images/<CC>.jsonl`, status ok). `shards/stats/stats.json` is written last: the
  stage's done marker for `stage=all`.
- **import_llava** imports a LLaVA-format JSON/JSONL with an image folder or tar into a shard folder
  (data_gen/importers.py), default `<out_dir>/imported/<name>`, with `import_report.json` beside it.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from data_gen.progress import format_table
from data_gen.runtime import DataGenError
from data_gen.shards import ShardSpec
from data_gen.stats import TITLES, bar_chart, markdown_table, write_stats
from data_gen.validate import validate_shard_folder
from shard_contract.atomic import atomic_write_json, atomic_write_text
from shard_contract.manifest import COUNTED_FIELDS, read_manifest

SHARD_FOLDERS = ("open", "mcq")


def shard_folders(cfg: DictConfig) -> list[Path]:
    """`shard_dir` when given, else the shards stage's two folders."""
    if cfg.get("shard_dir"):
        return [Path(str(cfg.shard_dir))]
    return [Path(str(cfg.out_dir)) / "shards" / name for name in SHARD_FOLDERS]


def run_validate(cfg: DictConfig) -> Any:
    from data_gen.cli import StageResult

    rows = []
    for folder in shard_folders(cfg):
        summary = validate_shard_folder(folder)
        rows.append([str(folder), summary.shards, summary.samples, summary.images])
    title = "validate: every sample follows the contract"
    table = format_table(["folder", "shards", "samples", "images"], rows, title=title)
    return StageResult(manifest={"valid": [row[0] for row in rows]}, summary=table)


def images_per_country(out_dir: Path) -> dict[str, int]:
    """Usable (status ok) images per country, from the images stage's records."""
    counts: Counter = Counter()
    for path in sorted((Path(out_dir) / "images").glob("*.jsonl")):
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                if line.strip() and json.loads(line).get("status") == "ok":
                    counts[path.stem] += 1
    return dict(sorted(counts.items()))


def combined_stats(folders: list[Path], images: dict[str, int], out: Path) -> dict[str, Any]:
    """One report over several shard folders: summed counts, tables, charts; stats.json last."""
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
    sections = ["# Dataset statistics", f"{total:,} samples in {shards} shards ({', '.join(stats['folders'])})."]
    for name, table_counts in stats["counts"].items():
        if table_counts:
            unit = "images" if name == "images_per_country" else "samples"
            table = markdown_table(name, table_counts, limit=30).replace("| samples |", f"| {unit} |", 1)
            sections += [f"## {TITLES[name]}", table, f"![{name}]({name}.png)"]
            bar_chart(TITLES[name], table_counts, out / f"{name}.png")
    atomic_write_text(out / "stats.md", "\n\n".join(sections) + "\n")
    atomic_write_json(out / "stats.json", stats)
    return stats


def run_stats(cfg: DictConfig) -> Any:
    from data_gen.cli import StageResult

    out_dir = Path(str(cfg.out_dir))
    images = images_per_country(out_dir)
    folders = shard_folders(cfg)
    for folder in folders:
        write_stats(folder, images)
    rows = [[str(folder / "stats"), read_manifest(folder)["total_samples"]] for folder in folders]
    manifest: dict[str, Any] = {}
    if not cfg.get("shard_dir"):
        manifest = combined_stats(folders, images, out_dir / "shards" / "stats")
        rows.append([str(out_dir / "shards" / "stats"), manifest["total_samples"]])
    return StageResult(manifest=manifest, summary=format_table(["report", "samples"], rows, title="stats"))


def run_import_llava(cfg: DictConfig) -> Any:
    from data_gen.cli import StageResult
    from data_gen.importers import ImportConfig, import_llava

    block = cfg.get("import") or {}
    if not block.get("annotations"):
        raise DataGenError("stage=import_llava needs import.annotations=<LLaVA JSON or JSONL file>")
    name = str(block.get("name") or "llava")
    config = ImportConfig(
        name=name,
        prefix=str(block.get("prefix") or name),
        default_language=block.get("language"),
        default_country=block.get("country"),
    )
    output = Path(str(block.get("output") or Path(str(cfg.out_dir)) / "imported" / name))
    images = Path(str(block.images)) if block.get("images") else None
    spec = ShardSpec(max_samples=int(block.get("max_samples") or 10_000), prefix=name.replace(".", "-"))
    report = import_llava(Path(str(block.annotations)), images, output, config, spec)
    rows = [["imported", report.imported], *[[f"skipped:{k}", v] for k, v in sorted(report.skipped.items())]]
    return StageResult(manifest=report.as_dict(), summary=format_table(["outcome", "records"], rows, title=str(output)))
