"""`python -m culturalpangea.eval.rescore <run folder>`: score a run's stored predictions again, without generating.

Every item is scored by both protocols at once (the project's strict rules and PangeaBench's,
`scoring.py`), so there is no protocol to choose; what rescoring is for is a run made before a
scoring rule changed or was added (PangeaBench's rules, MMMU's parser): it reads
`<run>/predictions/<benchmark>.jsonl` (committed records only, as a resume does), keeps the
checkpoint and training manifests of the run's `report.json`, and rewrites `report.json`,
`report.md` and the leaderboard files. No model is loaded. A folder without predictions is an
error (exit 2), never an empty report.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from culturalpangea.errors import run_reporting_user_errors
from culturalpangea.eval.adapters import ADAPTERS
from culturalpangea.eval.evaluate import scored_section, summary_lines, write_report_files
from culturalpangea.eval.items import EvalConfigError
from culturalpangea.eval.report import build_report, load_report, training_languages
from culturalpangea.eval.resume import committed_records

USAGE = "usage: python -m culturalpangea.eval.rescore <run folder>"


def rescore(run_dir: Path) -> dict[str, Any]:
    """Rebuild and write the report of `run_dir` from its stored predictions; return it."""
    run_dir = Path(run_dir)
    files = sorted((run_dir / "predictions").glob("*.jsonl"))
    files = [path for path in files if path.stem in ADAPTERS]
    if not files:
        raise EvalConfigError(f"no predictions in {run_dir / 'predictions'}: is {run_dir} an evaluation run folder?")
    previous = load_report(run_dir / "report.json") if (run_dir / "report.json").is_file() else {}
    manifests = previous.get("training_manifests") or []
    seen = training_languages(manifests) if manifests else None
    order = list((previous.get("benchmarks") or {}).keys())
    names = sorted((path.stem for path in files), key=lambda n: (order.index(n) if n in order else len(order), n))
    sections = {name: scored_section(name, committed_records(run_dir / "predictions" / f"{name}.jsonl"), seen,
                                     run_dir, run=((previous.get("benchmarks") or {}).get(name) or {}).get("run"))
                for name in names}
    report = build_report(sections, str(previous.get("checkpoint", "unknown")), manifests, seen)
    write_report_files(run_dir, report)
    return report


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or args[0] in ("-h", "--help"):
        print(__doc__ if args and args[0] in ("-h", "--help") else USAGE)
        return 0 if args and args[0] in ("-h", "--help") else 2
    report = run_reporting_user_errors(lambda: rescore(Path(args[0])))
    if isinstance(report, int):
        return report
    print(summary_lines(report))
    print(f"[eval] report: {Path(args[0]) / 'report.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
