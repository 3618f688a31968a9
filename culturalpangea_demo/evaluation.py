"""The evaluation step of `make demo`: a checkpoint on the in-domain held-out split and a few
benchmark fixtures, returned as the Markdown table the demo report ends with.

Generation is capped at 8 new tokens by default (a random model never stops on its own). The
demo has no benchmark downloads, so CVQA and XM100 come from `benchmark_fixtures` (tiny copies in
their published formats) and the held-out split is the demo's own shards when given (else the
fixture's). The numbers of a tiny random model are meaningless; what the table shows is that the
whole path — adapters, batched generation, scoring, zero-shot marks — runs end to end.

    python -m culturalpangea_demo.evaluation <checkpoint> <out_dir> [--heldout DIR] [--manifest FILE_OR_DIR]
        [--build-tiny-from TOKENIZER_DIR]

`--build-tiny-from` first builds a random tiny LlavaNext checkpoint at <checkpoint> (with that
tokenizer) when none is there, for a demo that has no trained checkpoint yet.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from culturalpangea.config import config_dir
from culturalpangea.eval.evaluate import EvalSettings, evaluate
from culturalpangea.eval.markdown import benchmark_markdown, summary_table
from culturalpangea.eval.runner import Generator
from culturalpangea_demo.benchmark_fixtures import FOLDERS, write_fixtures
from shard_contract.atomic import atomic_write_text

DEMO_BENCHMARKS = ("cvqa", "xm100")


def default_benchmark_options() -> dict[str, Any]:
    """The `benchmarks:` block of configs/eval.yaml (reference generation lengths and options)."""
    return OmegaConf.to_container(OmegaConf.load(config_dir() / "eval.yaml").benchmarks)


def evaluation_table(checkpoint: str | Path, out_dir: str | Path, heldout_dir: str | Path | None = None,
                     training_manifest: str | Path | None = None, generator: Generator | None = None,
                     benchmarks: Sequence[str] = DEMO_BENCHMARKS, batch_size: int = 8,
                     max_new_tokens_cap: int | None = 8) -> str:
    """Evaluate `checkpoint` on the held-out split + fixture benchmarks; return the Markdown table."""
    out_dir = Path(out_dir)
    data = out_dir / "benchmark_fixtures"
    missing = [name for name in benchmarks if not (data / FOLDERS.get(name, name)).exists()]
    if heldout_dir is None and not (data / FOLDERS["culturalground"]).exists():
        missing.append("culturalground")
    if missing:
        write_fixtures(data, missing)
    options = default_benchmark_options()
    if heldout_dir is not None:
        options["culturalground"]["path"] = str(Path(heldout_dir).resolve())
    settings = EvalSettings(
        benchmarks=[*benchmarks, "culturalground"], data_dir=data, out_dir=out_dir / "eval",
        checkpoint=str(checkpoint), batch_size=batch_size, per_benchmark=options,
        training_manifest=str(training_manifest) if training_manifest else None, explicit=True,
        max_new_tokens_cap=max_new_tokens_cap,
    )
    if generator is None:
        from culturalpangea.eval.generation import ModelGenerator

        generator = ModelGenerator(str(checkpoint), device="cpu", dtype="float32")
    report = evaluate(settings, generator)
    parts = ["## Evaluation", f"Checkpoint `{checkpoint}` on the held-out CulturalGround split and fixture copies "
             f"of {', '.join(benchmarks)} (tiny random model, answers capped at {max_new_tokens_cap} tokens: "
             "the numbers only show that the path runs).",
             summary_table(report), benchmark_markdown("culturalground (in-domain)", report["benchmarks"]
                                                       ["culturalground"])]
    return "\n\n".join(parts) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint")
    parser.add_argument("out_dir")
    parser.add_argument("--heldout", default=None, help="shard folder of the held-out split")
    parser.add_argument("--manifest", default=None, help="training shard manifest (zero-shot marks)")
    parser.add_argument("--build-tiny-from", default=None, help="tokenizer folder: build a tiny checkpoint first")
    args = parser.parse_args(argv)
    if args.build_tiny_from and not (Path(args.checkpoint) / "config.json").exists():
        from tiny_models.llava_next import build_tiny_llava_next

        build_tiny_llava_next(Path(args.checkpoint), Path(args.build_tiny_from))
    table = evaluation_table(args.checkpoint, args.out_dir, args.heldout, args.manifest)
    atomic_write_text(Path(args.out_dir) / "eval" / "EVAL_TABLE.md", table)
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
