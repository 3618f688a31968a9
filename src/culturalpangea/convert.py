"""Checkpoint conversion and parity CLI.

    python -m culturalpangea.convert --from-hf <llava_next_dir> --out <project_dir>
    python -m culturalpangea.convert --to-hf <project_dir>|<run_dir>|<run_dir>/checkpoints/last.ckpt \
                                     --out <llava_next_dir>
    python -m culturalpangea.convert --check-parity <llava_next_dir> [--against <project_dir>]
                                     [--dtype float32|bfloat16] [--device cpu|cuda] [--tolerance X]

Conversions write safetensors (sharded at `--max-shard-size`), carry the config, tokenizer and
generation config (and HF's processor files on export); `--to-hf` also takes a training run folder
(its final export, else its newest checkpoint) or one of its Lightning checkpoints
(training/run_export.py). They create the output folder only when it
is complete; an existing output is kept unless `--overwrite`. `--check-parity` runs the project's
model (loaded from the HF folder, or from `--against`, e.g. the result of `--from-hf`) and
transformers' LlavaNext on the same random single-resolution, anyres, multi-image and padded
inputs, prints one line per case and `max_abs_logit_diff=<value>` as its last line; with
`--tolerance` it exits 1 when the difference is larger. Bad input ends with a one-line error and
exit status 2.
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
from pathlib import Path

from culturalpangea.errors import UserError, run_reporting_user_errors
from culturalpangea.models.weights import DEFAULT_MAX_SHARD_BYTES

_UNITS = {"": 1, "B": 1, "KB": 1000, "MB": 1000**2, "GB": 1000**3, "KIB": 1024, "MIB": 1024**2, "GIB": 1024**3}


def parse_size(text: str) -> int:
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMG]?I?B?)\s*", text.upper())
    if not match or match.group(2) not in _UNITS:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 5GB, 500MB, 1000000)")
    return int(float(match.group(1)) * _UNITS[match.group(2)])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m culturalpangea.convert", description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--from-hf", type=Path, metavar="DIR", help="HF LlavaNext folder to import")
    mode.add_argument("--to-hf", type=Path, metavar="PATH",
                      help="project checkpoint, training run folder or run checkpoint (.ckpt) to export")
    mode.add_argument("--check-parity", type=Path, metavar="HF_DIR", help="HF LlavaNext folder to compare against")
    parser.add_argument("--out", type=Path, help="output folder (conversions)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output folder")
    parser.add_argument("--max-shard-size", type=parse_size, default=DEFAULT_MAX_SHARD_BYTES)
    parser.add_argument("--against", type=Path, help="parity: load the project's model from this checkpoint")
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tolerance", type=float, help="parity: exit 1 when the max difference exceeds this")
    return parser


def _run_parity(args: argparse.Namespace) -> int:
    import torch

    from culturalpangea.models.parity import check_parity

    results = check_parity(args.check_parity, dtype=getattr(torch, args.dtype), device=args.device,
                           seed=args.seed, project_dir=args.against)
    for case in results:
        print(f"{case.name}: max_abs_diff={case.max_abs_diff:.3e} max_abs_logit={case.max_abs_logit:.3f} "
              f"image_tokens={case.image_tokens}")
    worst = max(case.max_abs_diff for case in results)
    failed = args.tolerance is not None and not worst <= args.tolerance
    if failed:
        print(f"parity check failed: {worst:.3e} > tolerance {args.tolerance:.3e}", file=sys.stderr)
    print(f"max_abs_logit_diff={worst:.6e}")
    return 1 if failed else 0


def _convert(args: argparse.Namespace) -> dict:
    from culturalpangea.models.checkpoint import convert_from_hf, convert_to_hf

    if args.out is None:
        raise UserError("--out is required for --from-hf and --to-hf")
    if args.from_hf is not None:
        return convert_from_hf(args.from_hf, args.out, args.overwrite, args.max_shard_size)
    from culturalpangea.training.run_export import (
        project_from_lightning_checkpoint,
        remove_staging,
        resolve_export_source,
        staging_dir,
    )

    source = resolve_export_source(args.to_hf)
    if args.out.exists() and not args.overwrite:  # before a 7B model is rebuilt from a Lightning checkpoint
        raise FileExistsError(f"{args.out} already exists (pass --overwrite to replace it)")
    if not source.is_lightning:
        return {"from": str(source.path), **convert_to_hf(source.path, args.out, args.overwrite, args.max_shard_size)}
    try:
        project = project_from_lightning_checkpoint(source.path, source.run_dir, staging_dir(args.out))
        return {"from": str(source.path), **convert_to_hf(project, args.out, args.overwrite, args.max_shard_size)}
    finally:
        remove_staging(args.out)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.check_parity is not None:
        return run_reporting_user_errors(lambda: _run_parity(args))
    summary = run_reporting_user_errors(lambda: _convert(args))
    if isinstance(summary, int):
        return summary
    counts = " ".join(f"{key}={value}" for key, value in summary.items())
    print(f"wrote {args.out} ({counts})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
