"""Side by side: two evaluation reports (e.g. Pangea-7B vs CulturalPangea), difference per language.

For every benchmark both reports have, each language's primary metric from this run and from the
other, and `delta` = this − other (None when either side lacks the language); plus the macro
averages over the languages both have, so the average difference compares like with like.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def _delta(this: float | None, other: float | None) -> float | None:
    return None if this is None or other is None else this - other


def compare_reports(this: Mapping[str, Any], other: Mapping[str, Any]) -> dict[str, Any]:
    """Per-benchmark, per-language comparison of two reports on each benchmark's primary metric."""
    result: dict[str, Any] = {"this": this["checkpoint"], "other": other["checkpoint"], "benchmarks": {}}
    for name, section in this["benchmarks"].items():
        if name not in other["benchmarks"]:
            continue
        metric = section["primary"]
        mine, theirs = section["by_language"], other["benchmarks"][name]["by_language"]
        rows = {}
        for language in sorted(set(mine) | set(theirs)):
            a = mine.get(language, {}).get(metric)
            b = theirs.get(language, {}).get(metric)
            rows[language] = {"this": a, "other": b, "delta": _delta(a, b),
                              "zero_shot": mine.get(language, theirs.get(language, {})).get("zero_shot")}
        both = [row for row in rows.values() if row["delta"] is not None]
        macro_this = sum(r["this"] for r in both) / len(both) if both else None
        macro_other = sum(r["other"] for r in both) / len(both) if both else None
        result["benchmarks"][name] = {
            "metric": metric, "by_language": rows,
            "macro": {"this": macro_this, "other": macro_other, "delta": _delta(macro_this, macro_other),
                      "languages": len(both)},
        }
    return result
