"""Markdown rendering of an evaluation report and of a two-checkpoint comparison.

One summary table (benchmark, metric, macro average, seen / zero-shot averages, the macro average
under PangeaBench's rules where they exist — the number comparable with the paper's —, items,
errors, unparseable answers), then per benchmark a table per language — zero-shot languages marked with
"✗ (zero-shot)" — and, where the benchmark has countries, a table per country. Numbers are rounded
to one decimal; a missing value is "–". Languages and countries are named with their codes,
`Hebrew (iw)`, `Japan (JP)`, as in every report of the project (shard_contract.names); report.json
keeps the codes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from shard_contract.names import country_label, language_label

NAMES = {"score": "score", "accuracy": "acc", "exact_match": "EM", "relaxed_accuracy": "relaxed",
         "rouge_l": "ROUGE-L", "bleu": "BLEU-4", "cider": "CIDEr", "pangeabench": "PangeaBench"}


def fmt(value: Any) -> str:
    """One decimal for numbers, '–' for missing values."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], numeric_from: int = 1) -> str:
    """A GitHub Markdown table; columns from `numeric_from` on are right-aligned."""
    align = ["---" if i < numeric_from else "---:" for i in range(len(headers))]
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def summary_table(report: Mapping[str, Any]) -> str:
    rows = [[name, NAMES.get(s["metric"], s["metric"]), s["macro"], s["seen"], s["zero_shot"], s.get("pangeabench"),
             s["items"], s["errors"], s["unparseable"]] for name, s in report["summary"].items()]
    return table(["benchmark", "metric", "avg (languages)", "seen", "zero-shot", "PangeaBench rules", "items", "errors",
                  "unparseable"], rows, numeric_from=2)


def _zero_shot(value: bool | None) -> str:
    return "–" if value is None else ("✗ (zero-shot)" if value else "✓")


def _group_table(label: str, groups: Mapping[str, Mapping[str, Any]], metrics: Sequence[str],
                 with_training: bool) -> str:
    headers = [label] + (["in training"] if with_training else []) + ["items", "errors", "unparseable"]
    headers += [NAMES.get(m, m) for m in metrics]
    name = language_label if label == "language" else country_label
    rows = []
    for key, row in groups.items():
        cells = [name(key)] + ([_zero_shot(row.get("zero_shot"))] if with_training else [])
        cells += [row["items"], row["errors"], row["unparseable"]] + [row.get(m) for m in metrics]
        rows.append(cells)
    return table(headers, rows, numeric_from=2 if with_training else 1)


def benchmark_markdown(name: str, section: Mapping[str, Any]) -> str:
    metrics = section["metrics"]
    parts = [f"### {name}", _group_table("language", section["by_language"], metrics, with_training=True)]
    averages = [[kind, avg.get("languages")] + [avg.get(m) for m in metrics]
                for kind, avg in section["averages"].items()]
    parts.append(table(["average", "languages"] + [NAMES.get(m, m) for m in metrics], averages))
    if section["by_country"]:
        parts.append(_group_table("country", section["by_country"], metrics, with_training=False))
    if name == "m3exam" and section.get("multi_image_items"):
        parts.append(f"{section['multi_image_items']} items have several images, each with its own `<image>` where "
                     "the question names it; PangeaBench writes one `<image>` per question (LLaVA then reads only the "
                     "first image), so these items can score differently from the paper's protocol.")
    submission = section.get("submission")
    if submission:
        parts.append(f"Labels withheld for {submission['items']} items (the published test split): generated and "
                     f"written to `{submission['path']}` for the benchmark's leaderboard; not in the scores above.")
    if section["errors"]["count"]:
        listed = ", ".join(f"`{e['id']}` ({e['reason']})" for e in section["errors"]["listed"][:5])
        more = section["errors"]["count"] - min(5, len(section["errors"]["listed"]))
        parts.append(f"Errors ({section['errors']['count']}): {listed}" + (f", … {more} more" if more > 0 else ""))
    return "\n\n".join(parts)


def report_markdown(report: Mapping[str, Any], title: str = "Evaluation") -> str:
    """The whole report as Markdown."""
    known = report.get("training_languages") is not None
    head = [f"## {title}", f"Checkpoint: `{report['checkpoint']}`",
            "Zero-shot = language absent from the training manifest." if known
            else "No training manifest given: zero-shot languages not marked.",
            summary_table(report)]
    sections = [benchmark_markdown(name, section) for name, section in report["benchmarks"].items()]
    return "\n\n".join(head + sections) + "\n"


def comparison_markdown(comparison: Mapping[str, Any]) -> str:
    """Side-by-side table per benchmark: language, this run, the other run, difference."""
    parts = [f"## Comparison: `{comparison['this']}` vs `{comparison['other']}`",
             "Δ = this − other, on each benchmark's primary metric."]
    for name, block in comparison["benchmarks"].items():
        rows = [[language_label(lang), "zero-shot" if row.get("zero_shot") else "", row["this"], row["other"],
                 row["delta"]] for lang, row in block["by_language"].items()]
        macro = block["macro"]
        rows.append(["**average**", "", macro["this"], macro["other"], macro["delta"]])
        parts.append(f"### {name} ({NAMES.get(block['metric'], block['metric'])})")
        parts.append(table(["language", "", "this", "other", "Δ"], rows, numeric_from=2))
    return "\n\n".join(parts) + "\n"
