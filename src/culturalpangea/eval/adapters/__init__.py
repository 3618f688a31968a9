"""Benchmark adapters, one module per benchmark, and the registry that names them.

`ADAPTERS` maps a benchmark name (as used on the command line: `benchmark=cvqa`) to its adapter;
`benchmark=all` runs them in `ALL` order. Each module's docstring states the published format it
reads and the reference prompt it follows. `GENERAL` names the mainstream benchmarks (xGQA, MMMU,
xMMMU) against which the paper checks that cultural training loses nothing.
"""

from __future__ import annotations

from culturalpangea.eval.adapters.almbench import AlmBenchAdapter
from culturalpangea.eval.adapters.base import Adapter
from culturalpangea.eval.adapters.culturalground import CulturalGroundAdapter
from culturalpangea.eval.adapters.cvqa import CvqaAdapter
from culturalpangea.eval.adapters.m3exam import M3examAdapter
from culturalpangea.eval.adapters.marvl import MarvlAdapter
from culturalpangea.eval.adapters.maxm import MaxmAdapter
from culturalpangea.eval.adapters.merlin import MerlinAdapter
from culturalpangea.eval.adapters.mmmu import MmmuAdapter
from culturalpangea.eval.adapters.xgqa import XgqaAdapter
from culturalpangea.eval.adapters.xm100 import Xm100Adapter
from culturalpangea.eval.items import EvalConfigError

ADAPTERS: dict[str, Adapter] = {
    adapter.name: adapter
    for adapter in (
        CvqaAdapter(), MarvlAdapter(), MaxmAdapter(), M3examAdapter(), Xm100Adapter(), AlmBenchAdapter(),
        MerlinAdapter(), CulturalGroundAdapter(),
        # general benchmarks, for the claim that cultural training costs nothing on mainstream tasks
        XgqaAdapter(), MmmuAdapter("mmmu", per_language=False, default_splits=("validation",)),
        MmmuAdapter("xmmmu", per_language=True, default_splits=None),
    )
}
GENERAL: tuple[str, ...] = ("xgqa", "mmmu", "xmmmu")
ALL: tuple[str, ...] = tuple(ADAPTERS)


def select(benchmark: str | list[str] | tuple[str, ...]) -> list[str]:
    """Benchmark names from `all`, one name, a comma-separated string or a list; clear error if unknown."""
    if isinstance(benchmark, str):
        names = list(ALL) if benchmark.strip() == "all" else [b.strip() for b in benchmark.split(",") if b.strip()]
    else:
        names = [str(b) for b in benchmark]
    unknown = [name for name in names if name not in ADAPTERS]
    if unknown or not names:
        raise EvalConfigError(f"unknown benchmark(s) {unknown or names}; choose from: all, {', '.join(ALL)}")
    return names


__all__ = ["ADAPTERS", "ALL", "GENERAL", "Adapter", "select"]
