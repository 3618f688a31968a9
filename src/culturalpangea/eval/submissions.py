"""Leaderboard files for benchmarks whose published test labels are withheld (CVQA).

CVQA's published test split has `Label = -1` in every row; its scores come from the CVQA
leaderboard. For those items the run writes `<out_dir>/submissions/cvqa.csv` in the form
PangeaBench writes for that leaderboard (`cvqa_test_aggregation_result` in neulab/Pangea's
`lmms_eval/tasks/cvqa/utils.py`): one line per item, no header, `<ID>,<option>` with the option as
a 0-based index on the dataset's `Label` scale, read from the answer by PangeaBench's rule
(metrics/pangeabench.py: an answer naming no option gets its seeded draw, as the leaderboard needs
one answer per item). Lines are sorted by ID, so a resumed run writes the same file.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from culturalpangea.eval.metrics.pangeabench import choice_index
from shard_contract.atomic import atomic_write_text


def unlabelled(records: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Records of multiple-choice items without an answer key (and without an input error)."""
    return [r for r in records if r.get("error") is None and r.get("task") == "mcq"
            and r.get("target", {}).get("answer") is None]


def write_submission(records: Iterable[Mapping[str, Any]], path: Path) -> int:
    """Write the leaderboard file for the unlabelled records; return how many lines it has."""
    rows = sorted(unlabelled(records), key=lambda r: str(r["id"]))
    lines = []
    for record in rows:
        choice = choice_index(str(record.get("prediction") or ""), record["target"]["options"], str(record["id"]))
        lines.append(f"{record['id']},{choice}")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(Path(path), "".join(line + "\n" for line in lines))
    return len(rows)
