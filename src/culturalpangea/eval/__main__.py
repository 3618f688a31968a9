"""`python -m culturalpangea.eval benchmark=<name>|all checkpoint=<path> data_dir=<dir> [overrides]`.

Composes `configs/eval.yaml`, loads the checkpoint (`generation.ModelGenerator`), evaluates the
selected benchmarks into the run folder (`out_dir`, by default Hydra's run folder) and prints a
summary. Bad configuration or data (a missing checkpoint, an absent benchmark folder asked for by
name, a run folder holding predictions from other settings) — the named `UserError` types of
`culturalpangea.errors` — ends with a one-line `error: …` and exit status 2; bad *items* never stop
the run (they are reported with their IDs); anything else is a bug and shows its traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig, OmegaConf

from culturalpangea.config import CONFIG_DIR, register_resolvers
from culturalpangea.errors import run_reporting_user_errors
from culturalpangea.eval.adapters import select
from culturalpangea.eval.evaluate import EvalSettings, check_some_data, evaluate, summary_lines
from culturalpangea.eval.items import EvalConfigError
from culturalpangea.eval.runner import Generator


def settings_from_config(cfg: DictConfig) -> EvalSettings:
    """`EvalSettings` from the composed config (checkpoint required, benchmarks checked)."""
    if OmegaConf.is_missing(cfg, "checkpoint"):
        raise EvalConfigError("checkpoint=<path> is required (a project checkpoint or an HF LlavaNext folder)")
    benchmark = cfg.benchmark
    names = select(benchmark if isinstance(benchmark, str) else list(benchmark))
    explicit = not (isinstance(benchmark, str) and benchmark.strip() == "all")
    manifest = cfg.get("training_manifest")
    return EvalSettings(
        benchmarks=names, data_dir=Path(str(cfg.data_dir)), out_dir=Path(str(cfg.out_dir)),
        checkpoint=str(cfg.checkpoint), batch_size=int(cfg.batch_size), max_new_tokens=int(cfg.max_new_tokens),
        per_benchmark=OmegaConf.to_container(cfg.benchmarks, resolve=True) if cfg.get("benchmarks") else {},
        training_manifest=OmegaConf.to_container(manifest) if OmegaConf.is_list(manifest) else manifest,
        compare_to=cfg.get("compare_to"), resume=bool(cfg.resume), missing=str(cfg.missing),
        generation=OmegaConf.to_container(cfg.generation, resolve=True), explicit=explicit,
        max_new_tokens_cap=cfg.get("max_new_tokens_cap"),
    )


def _log_wandb(cfg: DictConfig, report: dict[str, Any], out_dir: Path) -> None:
    logger = cfg.get("logger") or {}
    if not cfg.get("wandb_table", True) or "wandb" not in logger:
        return
    resolved = OmegaConf.to_container(cfg, resolve=True)
    from culturalpangea.eval.wandb_table import log_report
    from culturalpangea.run_folder import write_run_files

    run_name = write_run_files(out_dir, resolved, str(cfg.task_name))
    folder = log_report(report, OmegaConf.to_container(logger.wandb, resolve=True), out_dir, run_name, resolved)
    print(f"[eval] W&B table logged ({folder})")


def _evaluate(cfg: DictConfig, generator: Generator | None) -> tuple[EvalSettings, dict[str, Any]]:
    settings = settings_from_config(cfg)
    check_some_data(settings)  # before the model is loaded: a wrong data_dir fails in a second
    if generator is None:
        from culturalpangea.eval.generation import ModelGenerator

        generator = ModelGenerator(settings.checkpoint, device=str(cfg.device), dtype=str(cfg.dtype),
                                   sampling=settings.generation)
    report = evaluate(settings, generator)
    _log_wandb(cfg, report, settings.out_dir)
    return settings, report


def run(cfg: DictConfig, generator: Generator | None = None) -> int:
    """Evaluate as configured; return the exit status. `generator` replaces the model (tests)."""
    outcome = run_reporting_user_errors(lambda: _evaluate(cfg, generator), legacy_env="EVAL_TRACEBACK")
    if isinstance(outcome, int):
        return outcome
    settings, report = outcome
    print(summary_lines(report))
    print(f"[eval] report: {settings.out_dir / 'report.md'}")
    return 0


@hydra.main(config_path=str(CONFIG_DIR), config_name="eval", version_base="1.3")
def main(cfg: DictConfig) -> None:
    code = run(cfg)
    if code:
        sys.exit(code)


if __name__ == "__main__":
    register_resolvers()
    main()
