"""Where every stage keeps its files under `out_dir`: the one place that names the folders.

    out_dir/
      entities/<CC>.jsonl, manifest.json          stage=entities
      images/<CC>/<QID>-<i>.jpg, images/<CC>.jsonl, manifest.json
      qa/ refine/ filter/  <CC>/part-NNNNN.jsonl, manifest.json   (the record stages, common/parts.py)
      shards/open/ shards/mcq/ shards/heldout/   WebDataset tars + manifest.json (shard_contract)
      shards/manifest.json, shards/stats/stats.json
      imported/<name>/                            stage=import_llava
      tiny_models/                                `model: tiny` stand-ins
      cache/                                      SPARQL answers (configs/data_gen.yaml `cache.dir`)

A stage asks `Layout` for a path instead of joining folder names itself, so the folder structure
is written down once and `stage=all` finds every stage's done marker here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig

from shard_contract.manifest import MANIFEST_NAME

RECORD_STAGES = ("qa", "refine", "filter")
STAGE_FOLDERS = ("entities", "images", *RECORD_STAGES, "shards")
SHARD_FOLDERS = ("open", "mcq")  # one training source per question type
HELDOUT = "heldout"


@dataclass(frozen=True)
class Layout:
    """The paths of one data_gen output folder."""

    out_dir: Path

    @classmethod
    def of(cls, cfg: DictConfig) -> Layout:
        return cls(Path(str(cfg.out_dir)))

    def stage(self, name: str) -> Path:
        """The folder of stage `name` (entities, images, qa, refine, filter, shards)."""
        if name not in STAGE_FOLDERS:
            raise ValueError(f"no stage folder named {name!r}; known: {', '.join(STAGE_FOLDERS)}")
        return self.out_dir / name

    def manifest(self, stage: str) -> Path:
        return self.stage(stage) / MANIFEST_NAME

    def done_marker(self, stage: str) -> Path:
        """The file a stage writes last (`stats` is a step of its own on the shards' folder)."""
        return self.stats / "stats.json" if stage == "stats" else self.manifest(stage)

    def entity_records(self, country: str) -> Path:
        return self.stage("entities") / f"{country}.jsonl"

    def image_records(self, country: str) -> Path:
        return self.stage("images") / f"{country}.jsonl"

    def image_folder(self, country: str) -> Path:
        return self.stage("images") / country

    def country_record_files(self, stage: str) -> list[Path]:
        """Every `<CC>.jsonl` of `entities` or `images`, sorted: never a hidden journal or temp file
        (`Path.glob("*.jsonl")` also matches `.<CC>.journal.jsonl`, the images journal of a run still
        going or killed)."""
        folder = self.stage(stage)
        if not folder.is_dir():
            return []
        return sorted(path for path in folder.glob("*.jsonl") if not path.name.startswith("."))

    def image_journal(self, country: str) -> Path:
        return self.stage("images") / f".{country}.journal.jsonl"

    @staticmethod
    def image_file(country: str, name: str) -> str:
        """An image's path relative to `out_dir`, as records store it."""
        return f"images/{country}/{name}"

    def shard_folder(self, name: str) -> Path:
        """`shards/open`, `shards/mcq` or `shards/heldout`."""
        if name not in (*SHARD_FOLDERS, HELDOUT):
            raise ValueError(f"no shard folder named {name!r}")
        return self.stage("shards") / name

    @property
    def stats(self) -> Path:
        return self.stage("shards") / "stats"

    def imported(self, name: str) -> Path:
        return self.out_dir / "imported" / name

    @property
    def tiny_models(self) -> Path:
        return self.out_dir / "tiny_models"
