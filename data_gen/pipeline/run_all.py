"""`stage=all`: every data_gen stage in order, resumable at stage and part level.

    python -m data_gen stage=all out_dir=D            # entities → images → qa → refine → filter → shards → stats

Each stage has a done marker, the file it writes last (`entities/manifest.json` … `shards/manifest.json`,
`shards/stats/stats.json`). A stage whose marker exists is skipped, as long as no earlier stage ran in
this invocation; once one stage runs, every later one runs too (each skips its own finished parts,
so that costs little) because its input may have changed. A run killed at any moment therefore
resumes where it stopped: finished stages are skipped, the interrupted one skips its finished parts
(stage_io parts, shard digests, image statuses) and leftover temp files are removed by each writer.

A done marker says a stage finished, not with which settings: to redo a finished stage with other
settings or countries, run that stage directly (`stage=<name>`; qa, refine and filter refuse to mix
settings in one folder) or use a fresh out_dir.

The order is `all.stages` in configs/data_gen.yaml, so ablations can drop stages (template-only data:
`all.stages=[entities,images,qa,shards,stats] shards.input=qa`). A stage that returns without its
marker (e.g. `qa` for a subset of the countries) stops the run with that named.

Each stage prints one `[data_gen] <stage>: …` line with its counts as soon as it ends (the full
tables follow at the end), so a long run shows where it is on the console and in a SLURM log.
"""

from __future__ import annotations

import time
from typing import Any

from omegaconf import DictConfig

from data_gen.common.errors import DataGenError
from data_gen.common.layout import Layout
from data_gen.common.progress import format_table
from data_gen.common.stage_result import StageResult
from data_gen.pipeline.registry import STAGES

DEFAULT_ORDER = ("entities", "images", "qa", "refine", "filter", "shards", "stats")


def stage_order(cfg: DictConfig) -> list[str]:
    block = cfg.get("all") or {}
    order = [str(name) for name in (block.get("stages") or DEFAULT_ORDER)]
    unknown = [name for name in order if name not in DEFAULT_ORDER]
    if unknown:
        raise DataGenError(f"all.stages: unknown stage(s) {unknown}; known: {', '.join(DEFAULT_ORDER)}")
    return order


def _counts(reasons: dict[str, int], shown: int = 3) -> str:
    top = sorted(reasons.items(), key=lambda item: (-item[1], item[0]))[:shown]
    more = "" if len(reasons) <= shown else f", {len(reasons) - shown} more"
    return ", ".join(f"{name} {count:,}" for name, count in top) + more


def stage_line(name: str, manifest: dict[str, Any], seconds: float) -> str:
    """One console line with what a finished stage produced, from its manifest."""
    if "records_in" in manifest:
        what = f"{manifest['records_in']:,} records in, {manifest['records_out']:,} out"
        if manifest.get("reasons"):
            what += f" ({_counts(manifest['reasons'])})"
    elif "total_entities" in manifest:
        what = f"{manifest['total_entities']:,} entities, {manifest.get('total_images', 0):,} images listed"
    elif isinstance(manifest.get("totals"), dict):
        what = f"image files: {_counts(manifest['totals'], shown=4)}"
    elif "total_samples" in manifest:
        what = f"tables and charts of {manifest['total_samples']:,} samples"
    elif isinstance(manifest.get("folders"), dict):
        what = ", ".join(f"{folder} {entry.get('samples', 0):,} samples in {entry.get('shards', 0)} shards"
                         for folder, entry in manifest["folders"].items())
    else:
        what = "done"
    return f"[data_gen] {name}: {what} ({seconds:.1f} s)"


def run_all(cfg: DictConfig) -> list[dict[str, Any]]:
    """Run the configured stages; return one row per stage (name, status, seconds, summary)."""
    layout = Layout.of(cfg)
    rows: list[dict[str, Any]] = []
    ran_earlier = False
    for name in stage_order(cfg):
        marker = layout.done_marker(name)
        if marker.exists() and not ran_earlier:
            rows.append({"stage": name, "status": "complete, skipped", "seconds": 0.0, "summary": ""})
            print(f"[data_gen] {name}: already complete, skipped", flush=True)
            continue
        start = time.perf_counter()
        result = STAGES[name](cfg)
        seconds = time.perf_counter() - start
        ran_earlier = True
        if not marker.exists():
            where = marker.relative_to(layout.out_dir)
            raise DataGenError(f"all: stage {name} finished without {where}; see its summary above")
        rows.append({"stage": name, "status": "ran", "seconds": seconds, "summary": result.summary})
        print(stage_line(name, result.manifest or {}, seconds), flush=True)
    return rows


def run(cfg: DictConfig) -> StageResult:
    """`stage=all` (registered in data_gen.pipeline.cli)."""
    rows = run_all(cfg)
    details = [row["summary"] for row in rows if row["summary"]]
    table = format_table(
        ["stage", "status", "seconds"], [[r["stage"], r["status"], f"{r['seconds']:.1f}"] for r in rows], title="all"
    )
    return StageResult(manifest={"stages": [{k: r[k] for k in ("stage", "status")} for r in rows]},
                       summary="\n\n".join([*details, table]))
