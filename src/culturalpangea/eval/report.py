"""The evaluation report: per language, per country, averages, zero-shot marks, errors by ID.

`benchmark_section` turns one benchmark's prediction records into its section; `build_report`
assembles the sections with the run's metadata. A language is *zero-shot* when the training
data's `manifest.json` (one or several; counts per language) has no sample in it; with no
manifest given the mark is unknown (null) rather than guessed. Averages are given three ways:
`macro` (mean over languages, how the papers report), `micro` (over all items) and, when the
training languages are known, `seen` and `zero_shot` macro averages. Errors are listed with the
item ID and reason, so bad input can be found and fixed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from culturalpangea.eval.items import EvalConfigError
from culturalpangea.eval.languages import normalize_code
from culturalpangea.eval.scoring import METRIC_ORDER, PRIMARY, aggregate, group_by
from shard_contract.manifest import read_manifest
from shard_contract.tokens import IMAGE_TOKEN

REPORT_FORMAT = "culturalpangea-eval/1"
MAX_LISTED_ERRORS = 200


def training_languages(manifests: Sequence[str | Path] | str | Path | None) -> set[str] | None:
    """Languages with at least one training sample, from one or more shard manifests (None: unknown)."""
    if manifests in (None, "", []):
        return None
    paths = [manifests] if isinstance(manifests, str | Path) else list(manifests)
    languages: set[str] = set()
    for raw in paths:
        counts = read_manifest(Path(raw))["counts"]["language"]
        languages.update(normalize_code(code) for code, count in counts.items() if int(count) > 0)
    return languages


def _macro(rows: Iterable[Mapping[str, Any]], metrics: Sequence[str]) -> dict[str, float]:
    rows = list(rows)
    result: dict[str, float] = {"languages": len(rows)}
    for name in metrics:
        values = [row[name] for row in rows if row.get(name) is not None]
        if values:
            result[name] = sum(values) / len(values)
    return result


def _averages(by_language: Mapping[str, Mapping[str, Any]], metrics: Sequence[str]) -> dict[str, Any]:
    scored = {lang: row for lang, row in by_language.items() if row["items"] > 0}
    averages: dict[str, Any] = {"macro": _macro(scored.values(), metrics)}
    if any(row.get("zero_shot") is not None for row in scored.values()):
        averages["seen"] = _macro([r for r in scored.values() if r.get("zero_shot") is False], metrics)
        averages["zero_shot"] = _macro([r for r in scored.values() if r.get("zero_shot") is True], metrics)
    return averages


def benchmark_section(name: str, records: Sequence[Mapping[str, Any]], seen: set[str] | None,
                      run: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Report section of one benchmark from its prediction records."""
    primary = PRIMARY.get(name, "score")
    overall = aggregate(records, primary)
    def per(field: str) -> dict[str, dict[str, Any]]:
        return {key: aggregate(rows, primary) for key, rows in group_by(records, lambda r: r.get(field)).items()}

    by_language = per("language")
    for language, row in by_language.items():
        row["zero_shot"] = None if seen is None else normalize_code(language) not in seen
    metrics = [m for m in METRIC_ORDER if m in overall and not (m == "score" and primary != "score")]
    errors = [{"id": r["id"], "language": r.get("language"), "reason": r["error"]}
              for r in records if r.get("error") is not None]
    # items with several images, each with its own placeholder (PangeaBench writes one per question)
    multi_image = sum(1 for r in records if str(r.get("prompt") or "").count(IMAGE_TOKEN) > 1)
    return {
        "primary": primary,
        "metrics": metrics,
        "overall": overall,
        "averages": _averages(by_language, metrics),
        "by_language": by_language,
        "by_country": per("country"),
        "by_subset": per("subset"),
        "errors": {"count": len(errors), "listed": errors[:MAX_LISTED_ERRORS]},
        "multi_image_items": multi_image,
        "run": dict(run or {}),
    }


def build_report(sections: Mapping[str, Mapping[str, Any]], checkpoint: str,
                 manifests: Sequence[str] | None, seen: set[str] | None) -> dict[str, Any]:
    """The whole report: metadata, one section per benchmark, and a one-line summary per benchmark."""
    summary = {}
    for name, section in sections.items():
        primary = section["primary"]
        averages = section["averages"]
        summary[name] = {
            "metric": primary,
            "macro": averages["macro"].get(primary),
            "seen": averages.get("seen", {}).get(primary),
            "zero_shot": averages.get("zero_shot", {}).get(primary),
            "items": section["overall"]["items"],
            "errors": section["overall"]["errors"],
            "unparseable": section["overall"]["unparseable"],
            "pangeabench": averages["macro"].get("pangeabench"),  # the paper's protocol, macro over languages
        }
    return {
        "format": REPORT_FORMAT,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "checkpoint": checkpoint,
        "training_manifests": list(manifests or []),
        "training_languages": sorted(seen) if seen is not None else None,
        "summary": summary,
        "benchmarks": dict(sections),
    }


def load_report(path: str | Path) -> dict[str, Any]:
    """Read a report JSON written by this module, with a clear error for anything else."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"report {path} not found")
    report = json.loads(path.read_text(encoding="utf-8"))
    if report.get("format") != REPORT_FORMAT:
        raise EvalConfigError(f"{path} is not an evaluation report (format {report.get('format')!r})")
    return report
