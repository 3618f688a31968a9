"""Which checkpoint a run resumes from: an explicit path, or `last` (the newest one in the run folder).

`ckpt_path=last` is what `slurm/train.sh` passes on every (re)start of a job: the first start finds
nothing and trains from scratch; a restart after a crash or a pre-emption finds the newest of the
periodic `checkpoints/last.ckpt` and Lightning's SLURM `hpc_ckpt_<n>.ckpt` (written when the job
was signalled) and continues from it. Newest is by the step stored in the checkpoint's name or
mtime, never by guessing: both kinds are full Lightning checkpoints (weights, optimizer,
scheduler, loop state and the data position).
"""

from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger(__name__)


def checkpoint_dir(run_dir: Path) -> Path:
    return Path(run_dir) / "checkpoints"


def candidate_checkpoints(run_dir: Path) -> list[Path]:
    """Every resumable checkpoint of a run folder (periodic last + SLURM HPC checkpoints)."""
    run_dir = Path(run_dir)
    found = [path for path in checkpoint_dir(run_dir).glob("last*.ckpt") if path.is_file()]
    found += [path for path in run_dir.glob("hpc_ckpt_*.ckpt") if path.is_file()]
    return found


def resolve_ckpt_path(spec: str | None, run_dir: Path) -> str | None:
    """None → fresh start; `last` → the newest checkpoint in `run_dir` (None if there is none); a path → itself."""
    if spec in (None, "", "null", "none"):
        return None
    if str(spec) == "last":
        candidates = candidate_checkpoints(run_dir)
        if not candidates:
            log.info("ckpt_path=last: no checkpoint in %s yet, starting from scratch", run_dir)
            return None
        newest = max(candidates, key=lambda path: path.stat().st_mtime_ns)
        log.info("ckpt_path=last: resuming from %s", newest)
        return str(newest)
    path = Path(str(spec))
    if not path.is_file():
        raise FileNotFoundError(f"ckpt_path {spec!r} does not exist")
    return str(path)
