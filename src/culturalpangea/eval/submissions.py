"""Leaderboard files for benchmarks whose published test labels are withheld (CVQA).

CVQA's published test split has `Label = -1` in every row; its scores come from the CVQA
leaderboard. For those items the run writes `<out_dir>/submissions/cvqa.csv`: one row per item,
`ID` (the dataset's own ID) and `prediction`, the chosen option as a 0-based index on the dataset's
`Label` scale, or -1 where the answer names no option (counted as unparseable in the report).
The exact column names of the leaderboard's example file could not be read where this was
written; the two columns above carry everything it can need, and renaming them is one line.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from culturalpangea.eval.metrics.mcq import parse_choice
from shard_contract.atomic import atomic_write_text

SUBMISSION_COLUMNS = ("ID", "prediction")


def unlabelled(records: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Records of multiple-choice items without an answer key (and without an input error)."""
    return [r for r in records if r.get("error") is None and r.get("task") == "mcq"
            and r.get("target", {}).get("answer") is None]


def write_submission(records: Iterable[Mapping[str, Any]], path: Path) -> int:
    """Write the leaderboard CSV for the unlabelled records; return how many rows it has."""
    rows = unlabelled(records)
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(SUBMISSION_COLUMNS)
    for record in sorted(rows, key=lambda r: str(r["id"])):
        choice = parse_choice(str(record.get("prediction") or ""), record["target"]["options"])
        writer.writerow([record["id"], -1 if choice is None else choice])
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(Path(path), buffer.getvalue())
    return len(rows)
