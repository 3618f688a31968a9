"""`make demo`: the whole project end to end on the embedded default, and what it needs that no user does.

This package sits above both halves (it chains data_gen, training and evaluation through their
command lines) and outside the production code paths:

- `run` (`python -m culturalpangea_demo`): runs the steps, writes `<out_dir>/REPORT.md`;
- `steps`: each step's command line and the report section it writes;
- `evaluation`: the demo's evaluation step (held-out split + benchmark fixtures → a table);
- `benchmark_fixtures`: tiny copies of every benchmark in its published layout, for the demo and
  the tests (the benchmarks themselves cannot be downloaded here).
"""
