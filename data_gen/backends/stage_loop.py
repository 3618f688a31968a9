"""The run loop shared by the two model-backed record stages, `refine` and `filter`.

Both map the parts of the previous stage one to one (`data_gen.common.parts.map_parts`): atomic
parts, resume by skipping finished parts, `parts=START:END` slices for SLURM array tasks. On top
of that this module adds what a model stage needs:

- a settings fingerprint (`settings.json` in the stage folder): backend, model, prompt version,
  decision limits and the sha256 of the input stage's manifest. A re-run with different settings
  or on regenerated input is refused with the differing keys named, instead of silently mixing
  parts made two ways. Transport settings (url, concurrency, timeouts, parts) are not part of it:
  a resumed run may use another server node or another slice.
- lazy backend loading: the model is loaded on the first part that needs work, so a re-run of
  finished work (or an array task whose slice is already done) costs nothing.
- completion: the stage manifest is written as soon as every input part has its output part —
  by whichever run completes the set (identical content whoever writes it); `finalize=true`
  writes it without processing anything and fails, naming the first missing part, when the set
  is incomplete (the last step of an array job).
"""

from __future__ import annotations

import hashlib
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from data_gen.backends.base import BackendError, BackendSettings
from data_gen.common.errors import DataGenError
from data_gen.common.layout import Layout
from data_gen.common.parts import (
    MANIFEST_NAME,
    PartRef,
    check_fingerprint,
    list_parts,
    map_parts,
    require_complete,
    write_stage_manifest,
)
from data_gen.common.progress import format_table

Record = dict[str, Any]
PartFunction = Callable[[PartRef, list[Record]], tuple[list[Record], Counter]]


@dataclass
class ModelStage:
    """One model stage: its name, input stage, settings and a factory for its part function."""

    name: str
    input_stage: str
    settings: BackendSettings
    fingerprint: dict[str, Any]
    make_part_function: Callable[[], PartFunction]
    notes: list[str] = field(default_factory=list)  # printed after the summary (e.g. rejected examples)


def part_range(cfg: DictConfig, settings: BackendSettings) -> str | None:
    """The stage block's `parts`, else a top-level `parts` (array scripts may set either)."""
    return settings.parts if settings.parts not in (None, "") else cfg.get("parts")


def input_digest(in_dir: Path) -> str:
    return hashlib.sha256((Path(in_dir) / MANIFEST_NAME).read_bytes()).hexdigest()


def missing_parts(in_dir: Path, stage_dir: Path) -> list[PartRef]:
    done = set(list_parts(stage_dir))
    return [ref for ref in list_parts(in_dir) if ref not in done]


def _lazy(factory: Callable[[], PartFunction]) -> PartFunction:
    loaded: list[PartFunction] = []

    def transform(ref: PartRef, records: list[Record]) -> tuple[list[Record], Counter]:
        if not loaded:
            loaded.append(factory())
        return loaded[0](ref, records)

    return transform


def run_model_stage(cfg: DictConfig, stage: ModelStage) -> tuple[dict[str, Any], str]:
    """Run (or finalize) one model stage; return its manifest ({} while incomplete) and a summary."""
    layout = Layout.of(cfg)
    in_dir, stage_dir = layout.stage(stage.input_stage), layout.stage(stage.name)
    require_complete(in_dir, stage.input_stage)
    fingerprint = {**stage.fingerprint, "stage": stage.name, "input_manifest_sha256": input_digest(in_dir)}
    check_fingerprint(stage_dir, fingerprint)
    total = len(list_parts(in_dir))
    if stage.settings.finalize:
        missing = missing_parts(in_dir, stage_dir)
        if missing:
            first = missing[0]
            raise DataGenError(
                f"{stage.name}: {len(missing)} of {total} parts missing (first {first.country}/{first.name}); "
                f"run the array tasks that cover them before finalize=true"
            )
        manifest = write_stage_manifest(stage_dir, stage.name, {"settings": fingerprint})
        title = f"{stage.name}: outcomes, all parts"
        return manifest, _summary(title, manifest["reasons"], f"finalized: {total} parts")
    try:
        counts = map_parts(
            in_dir,
            stage_dir,
            _lazy(stage.make_part_function),
            part_range(cfg, stage.settings),
            show_progress=bool(cfg.get("progress", False)),
            desc=stage.name,
        )
    except BackendError as error:
        done = total - len(missing_parts(in_dir, stage_dir))
        raise DataGenError(f"{stage.name}: {error} ({done} of {total} parts done and kept; re-run to resume)") from None
    missing = missing_parts(in_dir, stage_dir)
    manifest: dict[str, Any] = {}
    if not missing:
        manifest = write_stage_manifest(stage_dir, stage.name, {"settings": fingerprint})
        status = f"complete: {total} parts, manifest written"
    else:
        status = f"{total - len(missing)} of {total} parts done; manifest once all exist (or finalize=true)"
    head = (
        f"this run: {counts.parts_written} parts written, {counts.parts_already_done} already done; "
        f"records {counts.records_in} in, {counts.records_out} out; {status}"
    )
    for note in stage.notes:
        print(note, file=sys.stderr)
    return manifest, _summary(f"{stage.name}: outcomes, selected parts", dict(counts.reasons), head)


def _summary(title: str, reasons: dict[str, int], head: str) -> str:
    rows = sorted(reasons.items(), key=lambda item: (-item[1], item[0]))
    return f"{head}\n" + format_table(["outcome", "records"], rows, title=title)
