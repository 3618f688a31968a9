"""Progress bars and the end-of-stage summary table, shared by every data_gen stage.

tqdm writes to stderr and only when asked: `progress: auto`, the default, shows bars only when
stderr is a terminal, so CI and SLURM logs stay clean; `true` forces them. The summary is a plain
fixed-width table on stdout so it reads the same in a terminal, a SLURM log or a test's output.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")


def progress(items: Iterable[T], desc: str, unit: str = "it", enabled: bool = True, total: int | None = None) -> Any:
    """`tqdm(items)` when enabled, else the items themselves."""
    if not enabled:
        return items
    from tqdm import tqdm

    return tqdm(items, desc=desc, unit=unit, total=total, leave=False, dynamic_ncols=True)


def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], title: str | None = None) -> str:
    """A fixed-width text table; numbers right-aligned, text left-aligned."""
    cells = [[str(h) for h in headers]] + [[str(value) for value in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    numeric = [all(_is_number(row[i]) for row in cells[1:]) and len(cells) > 1 for i in range(len(headers))]

    def line(row: list[str]) -> str:
        return "  ".join(v.rjust(w) if num else v.ljust(w) for v, w, num in zip(row, widths, numeric, strict=True))

    out = [title] if title else []
    out += [line(cells[0]), "  ".join("-" * w for w in widths)]
    out += [line(row) for row in cells[1:]]
    return "\n".join(out).rstrip()


def _is_number(text: str) -> bool:
    try:
        float(text.replace(",", ""))
    except ValueError:
        return False
    return True
