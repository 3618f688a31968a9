"""Evaluate one checkpoint on a set of benchmarks and write the report files.

For each benchmark: find its folder (`benchmarks.<name>.path`, relative to `data_dir`), open its
prediction store in the run folder (resuming finished items unless `resume=false`), run the
batching loop, and score everything the store holds. Then write, atomically:

    <out_dir>/predictions/<benchmark>.jsonl  one record per item (prediction or error), chunk-committed
    <out_dir>/report.json, report.md         per language / country, averages, zero-shot marks, errors
    <out_dir>/comparison.json, .md           when `compare_to` names another report
    <out_dir>/submissions/<benchmark>.csv    items whose labels the publisher withholds (CVQA's test split)

A benchmark whose folder is absent is skipped with a line saying so when running `all`
(`missing: skip`), and is an error when it was asked for by name. A run in which no selected
benchmark has a folder (a wrong `data_dir`) is an error before the model is loaded: a run that
evaluated nothing never exits 0.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from culturalpangea.eval.adapters import ADAPTERS
from culturalpangea.eval.compare import compare_reports
from culturalpangea.eval.items import EvalConfigError
from culturalpangea.eval.markdown import comparison_markdown, report_markdown
from culturalpangea.eval.report import benchmark_section, build_report, load_report, training_languages
from culturalpangea.eval.resume import PredictionStore, discard
from culturalpangea.eval.runner import BenchmarkRun, Generator, input_digest
from culturalpangea.eval.submissions import unlabelled, write_submission
from shard_contract.atomic import atomic_write_json, atomic_write_text

PROMPT_VERSION = 2  # bump when a prompt or target changes: old predictions then refuse to resume
NOT_IN_FINGERPRINT = ("limit",)


@dataclass
class EvalSettings:
    """Everything one evaluation run needs besides the generator."""

    benchmarks: list[str]
    data_dir: Path
    out_dir: Path
    checkpoint: str
    batch_size: int = 16
    max_new_tokens: int = 32
    per_benchmark: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    training_manifest: Sequence[str] | str | None = None
    compare_to: str | None = None
    resume: bool = True
    missing: str = "skip"
    generation: Mapping[str, Any] = field(default_factory=dict)
    max_new_tokens_cap: int | None = None  # upper bound on every generation length (smoke runs)
    explicit: bool = False  # benchmarks were named (not `all`): a missing folder is an error


def benchmark_folder(settings: EvalSettings, name: str) -> Path:
    """The benchmark's folder: `benchmarks.<name>.path` (absolute, or under `data_dir`), else `<data_dir>/<name>`."""
    configured = settings.per_benchmark.get(name, {}).get("path") or name
    path = Path(str(configured))
    return path if path.is_absolute() else Path(settings.data_dir) / path


def check_some_data(settings: EvalSettings) -> list[str]:
    """The selected benchmarks that have a folder; an error naming where it looked when there is none
    (or when a benchmark asked for by name has none)."""
    present = [name for name in settings.benchmarks if benchmark_folder(settings, name).exists()]
    if settings.explicit or settings.missing == "error":
        for name in settings.benchmarks:
            if name not in present:
                raise EvalConfigError(f"benchmark {name!r}: folder {benchmark_folder(settings, name)} not found "
                                      f"(set data_dir or benchmarks.{name}.path)")
    if not present:
        looked = ", ".join(str(benchmark_folder(settings, name)) for name in settings.benchmarks)
        raise EvalConfigError(f"no benchmark data found under data_dir={settings.data_dir} (looked for {looked}); "
                              "set data_dir=<folder holding the benchmark folders> or benchmarks.<name>.path")
    return present


def fingerprint(settings: EvalSettings, name: str) -> dict[str, Any]:
    """What must stay the same for stored predictions to be reused."""
    options = {k: v for k, v in dict(settings.per_benchmark.get(name, {})).items() if k not in NOT_IN_FINGERPRINT}
    return {"benchmark": name, "checkpoint": str(settings.checkpoint), "prompt_version": PROMPT_VERSION,
            "options": options, "generation": dict(settings.generation),
            "max_new_tokens": settings.max_new_tokens, "max_new_tokens_cap": settings.max_new_tokens_cap}


def _manifests(value: Sequence[str] | str | None) -> list[str]:
    if value in (None, ""):
        return []
    return [str(value)] if isinstance(value, str | Path) else [str(v) for v in value]


def run_one(settings: EvalSettings, name: str, generator: Generator, seen: set[str] | None) -> dict[str, Any] | None:
    """Run and score one benchmark; None when its folder is absent (`check_some_data` has already refused
    that where it is an error: a benchmark named explicitly, or `missing=error`)."""
    folder = benchmark_folder(settings, name)
    if not folder.exists():
        print(f"[eval] {name}: skipped, no data at {folder}")
        return None
    store_path = Path(settings.out_dir) / "predictions" / f"{name}.jsonl"
    if not settings.resume:
        discard(store_path)
    store = PredictionStore(store_path, fingerprint(settings, name))
    options = settings.per_benchmark.get(name, {})
    default_tokens = int(options.get("max_new_tokens") or settings.max_new_tokens)
    run = BenchmarkRun(store, generator, settings.batch_size, default_tokens, cap=settings.max_new_tokens_cap)
    if store.done:  # resuming: the stored predictions must still be this benchmark's
        store.check_inputs((item.item_id, input_digest(item)) for item in ADAPTERS[name].items(folder, options))
    stats = run.run(name, ADAPTERS[name].items(folder, options))
    print(f"[eval] {name}: {stats.generated} generated, {stats.resumed} resumed, {stats.errors} errors "
          f"in {stats.seconds:.1f}s")
    return scored_section(name, store.records, seen, Path(settings.out_dir), run=stats.as_dict())


def scored_section(name: str, records: list[dict[str, Any]], seen: set[str] | None, out_dir: Path,
                   run: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The report section of one benchmark's records, and its leaderboard file when labels are withheld."""
    section = benchmark_section(name, records, seen, run=run)
    if unlabelled(records):  # labels withheld by the publisher (CVQA's test split): a leaderboard file
        path = Path(out_dir) / "submissions" / f"{name}.csv"
        section["submission"] = {"path": str(path), "items": write_submission(records, path)}
        print(f"[eval] {name}: {section['submission']['items']} items without published labels: answers in {path} "
              "for the benchmark's leaderboard, not scored here")
    return section


def write_report_files(out_dir: Path, report: Mapping[str, Any]) -> None:
    """report.json and report.md, atomically (run order kept: no sorted keys)."""
    atomic_write_text(Path(out_dir) / "report.json", json.dumps(report, ensure_ascii=False, indent=1))
    atomic_write_text(Path(out_dir) / "report.md", report_markdown(report))


def evaluate(settings: EvalSettings, generator: Generator) -> dict[str, Any]:
    """Run every selected benchmark, write report.json / report.md (and the comparison); return the report."""
    check_some_data(settings)
    out_dir = Path(settings.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    manifests = _manifests(settings.training_manifest)
    seen = training_languages(manifests) if manifests else None
    other = load_report(settings.compare_to) if settings.compare_to else None  # fail early on a bad path
    sections = {}
    for name in settings.benchmarks:
        section = run_one(settings, name, generator, seen)
        if section is not None:
            sections[name] = section
    report = build_report(sections, str(settings.checkpoint), manifests, seen)
    write_report_files(out_dir, report)
    if other is not None:
        comparison = compare_reports(report, other)
        atomic_write_json(out_dir / "comparison.json", comparison)
        atomic_write_text(out_dir / "comparison.md", comparison_markdown(comparison))
    return report


def summary_lines(report: Mapping[str, Any]) -> str:
    """A short plain-text summary for the console."""
    lines = []
    for name, summary in report["summary"].items():
        value = summary["macro"]
        shown = f"{value:.1f}" if isinstance(value, float) else "–"
        lines.append(f"{name:15s} {summary['metric']:12s} {shown:>6s}  items={summary['items']} "
                     f"errors={summary['errors']} unparseable={summary['unparseable']}")
    return "\n".join(lines)

