"""The weights a user points `convert --to-hf` at: a project checkpoint, a run folder, or a Lightning checkpoint.

What a training run leaves is a run folder (`config.yaml`, `checkpoints/last.ckpt`, and after a
finished run `export/project` + `export/hf`). A user converting "their run" points at the folder
or at `last.ckpt`; both are accepted (issue 19 §3):

- a project checkpoint (`config.json` with `format: culturalpangea-vlm`) is used as it is;
- a run folder: its `export/project` when the run finished and exported, else its newest
  resumable checkpoint (the one `ckpt_path=last` would resume from, e.g. after a pre-emption);
- a Lightning checkpoint (`*.ckpt`): the model is built from the run folder's resolved
  `config.yaml` (the folder above `checkpoints/`, or the checkpoint's own folder for SLURM's
  `hpc_ckpt_<n>.ckpt`), its weights replaced by the checkpoint's, and written as a project
  checkpoint first (into a hidden folder beside the output, removed afterwards).

Anything else is a `CheckpointError` that lists these three forms.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

import yaml
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO

from culturalpangea.models.checkpoint import is_project_checkpoint, save_pretrained_vlm
from culturalpangea.models.weights import CheckpointError
from culturalpangea.training.checkpoints import candidate_checkpoints

log = logging.getLogger(__name__)
RUN_CONFIG = "config.yaml"
MODEL_PREFIX = "model."  # the LightningModule holds the VLM as `self.model`
ACCEPTED = ("a project checkpoint (a folder whose config.json says format culturalpangea-vlm, "
            "e.g. <run>/export/project), "
            "a training run folder (holding config.yaml and checkpoints/), or a Lightning checkpoint of a run "
            "(<run>/checkpoints/last.ckpt)")


@dataclass(frozen=True)
class ExportSource:
    """Where the weights come from: a project checkpoint folder, or a Lightning checkpoint and its run folder."""

    path: Path
    run_dir: Path | None = None  # set for a Lightning checkpoint

    @property
    def is_lightning(self) -> bool:
        return self.run_dir is not None


def _run_dir_of(checkpoint: Path) -> Path | None:
    for folder in (checkpoint.parent, checkpoint.parent.parent):
        if (folder / RUN_CONFIG).is_file():
            return folder
    return None


def resolve_export_source(path: Path) -> ExportSource:
    """The weights `path` names, by the rules of the module docstring."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path} does not exist; --to-hf takes {ACCEPTED}")
    if path.is_dir() and is_project_checkpoint(path):
        return ExportSource(path)
    if path.is_dir() and (path / RUN_CONFIG).is_file():
        exported = path / "export" / "project"
        if is_project_checkpoint(exported):
            log.info("%s is a run folder: converting its final export %s", path, exported)
            return ExportSource(exported)
        candidates = candidate_checkpoints(path)
        if not candidates:
            raise CheckpointError(f"{path} is a run folder with neither export/project nor a checkpoint yet "
                                  "(has it trained a step?)")
        newest = max(candidates, key=lambda candidate: candidate.stat().st_mtime_ns)
        log.info("%s is a run folder without a final export: converting its newest checkpoint %s", path, newest)
        return ExportSource(newest, path)
    if path.is_file() and path.suffix == ".ckpt":
        run_dir = _run_dir_of(path)
        if run_dir is None:
            raise CheckpointError(f"{path}: no {RUN_CONFIG} beside it or in the folder above, so the model it "
                                  "belongs to is unknown; convert from the run folder that wrote it")
        return ExportSource(path, run_dir)
    raise CheckpointError(f"{path} is not something --to-hf can convert; it takes {ACCEPTED}")


def project_from_lightning_checkpoint(checkpoint: Path, run_dir: Path, out_dir: Path) -> Path:
    """Build the run's model from its config, load the checkpoint's weights, write a project checkpoint."""
    from culturalpangea.models.builder import build_vlm

    config = yaml.safe_load((Path(run_dir) / RUN_CONFIG).read_text(encoding="utf-8"))
    if not isinstance(config, dict) or not isinstance(config.get("model"), dict):
        raise CheckpointError(f"{run_dir / RUN_CONFIG} has no model section; is {run_dir} a training run folder?")
    state = TorchCheckpointIO().load_checkpoint(checkpoint).get("state_dict")
    if not isinstance(state, dict):
        raise CheckpointError(f"{checkpoint} holds no state_dict; is it a Lightning checkpoint of a run?")
    weights = {key[len(MODEL_PREFIX):]: value for key, value in state.items() if key.startswith(MODEL_PREFIX)}
    model = build_vlm(config["model"])
    missing, unexpected = model.load_state_dict(weights, strict=False)
    if missing or unexpected:
        raise CheckpointError(f"{checkpoint} does not match the model of {run_dir / RUN_CONFIG}: "
                              f"missing {sorted(missing)[:5]}, unexpected {sorted(unexpected)[:5]}")
    return save_pretrained_vlm(model, out_dir, overwrite=True)


def staging_dir(out_dir: Path) -> Path:
    """The hidden project checkpoint a Lightning checkpoint goes through on its way to `out_dir`."""
    out_dir = Path(out_dir)
    return out_dir.parent / f".{out_dir.name}.project"


def remove_staging(out_dir: Path) -> None:
    shutil.rmtree(staging_dir(out_dir), ignore_errors=True)
