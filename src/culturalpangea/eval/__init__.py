"""Evaluation on the culture benchmarks (CVQA, MaRVL, MaXM, M3Exam, XM100, ALM-Bench, MERLIN) and an
in-domain CulturalGround held-out split, per language and country, resumable.

Entry point: `python -m culturalpangea.eval benchmark=<name>|all checkpoint=<path> data_dir=<dir>`
(see `__main__`); `sbatch slurm/eval.sh …` on a cluster. Layers, each its own module:
`tables` (read a benchmark's published files) → `adapters/` (rows → `items.EvalItem`, prompts from
`prompts`) → `runner` (batched generation through an injected `Generator`, chunk commits to
`resume.PredictionStore`) → `scoring` with `metrics/` → `report` / `markdown` / `compare` /
`wandb_table`. `evaluate.evaluate` ties them together; `demo.evaluation_table` is the short path
`make demo` uses.
"""
