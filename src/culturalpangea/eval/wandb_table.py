"""The report as a W&B table: one row per benchmark × language, plus the averages as summary values.

Logged to a run named after the evaluation's run ID in the `logger.wandb` settings (project,
entity, mode). Tests use `mode=offline`, which writes under the run folder and needs no network.
If an online start fails (no network, no login) the table is written offline instead and the
message says how to upload it (`wandb sync`); evaluation results never depend on the tracker.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

COLUMNS = ["benchmark", "language", "zero_shot", "metric", "value", "items", "errors", "unparseable"]


def table_rows(report: Mapping[str, Any]) -> list[list[Any]]:
    """Rows of the W&B table (primary metric per benchmark and language)."""
    rows = []
    for name, section in report["benchmarks"].items():
        metric = section["primary"]
        for language, row in section["by_language"].items():
            rows.append([name, language, row.get("zero_shot"), metric, row.get(metric), row["items"], row["errors"],
                         row["unparseable"]])
    return rows


def _init(spec: Mapping[str, Any], run_dir: Path, run_name: str, config: Mapping[str, Any]) -> Any:
    import wandb

    kwargs = {"project": spec.get("project", "culturalpangea"), "entity": spec.get("entity"),
              "dir": str(Path(str(spec.get("save_dir") or run_dir))), "name": run_name, "id": run_name,
              "resume": "allow", "job_type": "eval", "config": dict(config), "tags": list(spec.get("tags") or [])}
    Path(kwargs["dir"]).mkdir(parents=True, exist_ok=True)
    mode = str(spec.get("mode") or "online")
    try:
        return wandb.init(mode=mode, settings=wandb.Settings(silent=True, init_timeout=90), **kwargs)
    except Exception as error:  # the tracker is optional: fall back to offline files
        if mode == "offline":
            raise
        log.warning("W&B unreachable (%s); writing the table offline under %s (upload with `wandb sync`)",
                    type(error).__name__, kwargs["dir"])
        wandb.teardown()
        return wandb.init(mode="offline", settings=wandb.Settings(silent=True), **kwargs)


def log_report(report: Mapping[str, Any], spec: Mapping[str, Any], run_dir: Path, run_name: str,
               config: Mapping[str, Any]) -> Path:
    """Log the results table and averages; return the W&B run folder."""
    import wandb

    run = _init(spec, run_dir, run_name, config)
    try:
        run.log({"eval/results": wandb.Table(columns=COLUMNS, data=table_rows(report))})
        for name, summary in report["summary"].items():
            for kind in ("macro", "seen", "zero_shot"):
                if summary.get(kind) is not None:
                    run.summary[f"eval/{name}/{summary['metric']}/{kind}"] = summary[kind]
        return Path(run.dir)
    finally:
        run.finish()
