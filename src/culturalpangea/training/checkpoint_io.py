"""Checkpoint writing that never leaves a half-written file: temp file, fsync, then rename.

Lightning's default writer streams `torch.save` straight into the target path, so a full disk or a
kill in the middle leaves a truncated `last.ckpt` — exactly the file a resumed run reads first.
Here the checkpoint goes to `.<name>.tmp` beside the target and replaces it only once complete, so
the previous checkpoint stays intact until the new one is whole. A full disk surfaces as a
`CheckpointWriteError` that says so (ENOSPC), names the file and the free space, and removes the
temp file. Loading is Lightning's (`TorchCheckpointIO.load_checkpoint`, which passes its own
`weights_only` choice to `torch.load`): only the run's own checkpoints are loaded this way; weights
that come from elsewhere load through safetensors (models/weights.py).

Scope: the DDP/single-device path. FSDP (sharded state dict) and DeepSpeed write directories with
their own distributed checkpoint writers, which do not go through this plugin.
"""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path
from typing import Any

import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO

from shard_contract.atomic import atomic_open


class CheckpointWriteError(RuntimeError):
    """A checkpoint could not be written; the previous checkpoint at that path is untouched."""


def _errno_in_chain(error: BaseException | None) -> int | None:
    """The errno of the first OSError in an exception's cause/context chain."""
    seen = 0
    while error is not None and seen < 10:
        if isinstance(error, OSError) and error.errno is not None:
            return error.errno
        error, seen = error.__cause__ or error.__context__, seen + 1
    return None


class AtomicCheckpointIO(TorchCheckpointIO):
    """`TorchCheckpointIO` with atomic replacement and a clear error on a full disk."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: str | os.PathLike,
                        storage_options: Any | None = None) -> None:
        if storage_options is not None:
            raise TypeError(f"{type(self).__name__} takes no storage_options, got {storage_options!r}")
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            with atomic_open(target) as handle:  # temp file beside it, fsync, rename; removed on failure
                torch.save(checkpoint, handle)
        except (OSError, RuntimeError) as error:  # torch wraps a failed write in a RuntimeError
            if _errno_in_chain(error) == errno.ENOSPC:
                free = shutil.disk_usage(target.parent).free
                raise CheckpointWriteError(
                    f"no space left on device writing checkpoint {target} ({free / 2**20:.1f} MiB free); "
                    "the previous checkpoint is intact — free some space and resume with ckpt_path=last"
                ) from error
            raise CheckpointWriteError(f"could not write checkpoint {target}: {error}") from error
