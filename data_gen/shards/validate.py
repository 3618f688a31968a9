"""`stage=validate`: check a shard folder against the contract; the first bad sample is named.

    python -m data_gen stage=validate out_dir=D [shard_dir=D/shards/open]

Without `shard_dir` both `shards/open` and `shards/mcq` are checked; the first bad sample ends the
run with its shard and key named and exit code 2.

Reads every tar with the standard library (no WebDataset tolerance), so anything a strict reader
would trip over is reported: unsafe or unexpected member names, members that are not regular
files, samples without JSON, JSON that is not UTF-8 or breaks the contract, images that do not
decode, and a manifest whose hashes or counts disagree with the shards.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig
from PIL import Image

from data_gen.common.errors import DataGenError
from data_gen.common.layout import SHARD_FOLDERS, Layout
from data_gen.common.progress import format_table
from data_gen.common.stage_result import StageResult
from shard_contract.manifest import COUNTED_FIELDS, read_manifest
from shard_contract.sample import check_key, check_sample, qa_pairs_of

ALLOWED_EXTENSIONS = ("jpg", "json")


class ValidationError(DataGenError, ValueError):
    """The first contract violation found in a shard folder."""


@dataclass(frozen=True)
class ValidationSummary:
    shards: int
    samples: int
    images: int


def _members(shard: Path) -> Iterator[tuple[str, str, bytes]]:
    with tarfile.open(shard, mode="r:") as tar:
        for member in tar:
            name = member.name
            if not member.isreg():
                raise ValidationError(f"{shard.name}: member {name!r} is not a regular file")
            if "/" in name or "\\" in name or name.startswith(".") or ".." in name:
                raise ValidationError(f"{shard.name}: unsafe member name {name!r}")
            key, _, extension = name.partition(".")
            if extension not in ALLOWED_EXTENSIONS:
                raise ValidationError(f"{shard.name}: member {name!r} has an unexpected extension")
            handle = tar.extractfile(member)
            data = handle.read() if handle else b""
            if len(data) != member.size:
                raise ValidationError(f"{shard.name}: member {name!r} is truncated")
            yield key, extension, data


def _samples(shard: Path) -> Iterator[tuple[str, dict[str, bytes]]]:
    current_key, parts = None, {}
    for key, extension, data in _members(shard):
        if key != current_key:
            if current_key is not None:
                yield current_key, parts
            current_key, parts = key, {}
        if extension in parts:
            raise ValidationError(f"{shard.name}: sample {key!r} has two .{extension} members")
        parts[extension] = data
    if current_key is not None:
        yield current_key, parts


def _check_one(shard: Path, key: str, parts: dict[str, bytes]) -> dict:
    where = f"{shard.name}: sample {key!r}"
    problem = check_key(key)
    if problem:
        raise ValidationError(f"{where}: {problem}")
    if "json" not in parts:
        raise ValidationError(f"{where}: no .json member")
    try:
        sample = json.loads(parts["json"].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValidationError(f"{where}: JSON does not decode: {error}") from error
    problem = check_sample(sample, has_image="jpg" in parts)
    if problem:
        raise ValidationError(f"{where}: {problem}")
    if sample["id"] != key:
        raise ValidationError(f"{where}: field 'id' is {sample['id']!r}, not the key")
    if "jpg" in parts:
        try:
            with Image.open(io.BytesIO(parts["jpg"])) as image:
                image.load()
        except Exception as error:  # PIL raises many types for bad data
            raise ValidationError(f"{where}: image does not decode: {error}") from error
    return sample


def validate_shard_folder(folder: Path) -> ValidationSummary:
    """Check every shard in `folder` and its manifest; raise ValidationError at the first problem."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    counts = {name: Counter() for name in COUNTED_FIELDS}
    samples = images = 0
    seen_keys: set[str] = set()
    for entry in manifest["shards"]:
        shard = folder / entry["name"]
        if not shard.exists():
            raise ValidationError(f"{entry['name']}: listed in the manifest but missing")
        if hashlib.sha256(shard.read_bytes()).hexdigest() != entry["sha256"]:
            raise ValidationError(f"{entry['name']}: sha256 differs from the manifest")
        in_shard = pairs_in_shard = 0
        for key, parts in _samples(shard):
            sample = _check_one(shard, key, parts)
            if key in seen_keys:
                raise ValidationError(f"{shard.name}: sample {key!r} appears twice in the folder")
            seen_keys.add(key)
            in_shard += 1
            images += "jpg" in parts
            pairs = qa_pairs_of(sample)  # one per sample, or one per turn of a grouped sample
            pairs_in_shard += len(pairs)
            for pair in pairs:
                for name in COUNTED_FIELDS:
                    value = pair.get(name)
                    counts[name][str(value) if value is not None else "none"] += 1
        if in_shard != entry["samples"]:
            raise ValidationError(f"{entry['name']}: {in_shard} samples, manifest says {entry['samples']}")
        if pairs_in_shard != entry.get("qa_pairs", in_shard):
            raise ValidationError(f"{entry['name']}: {pairs_in_shard} QA pairs, manifest says {entry['qa_pairs']}")
        samples += in_shard
    for name in COUNTED_FIELDS:
        if dict(counts[name]) != manifest["counts"][name]:
            raise ValidationError(f"manifest counts per {name} differ from the shards")
    return ValidationSummary(shards=len(manifest["shards"]), samples=samples, images=images)


def shard_folders(cfg: DictConfig) -> list[Path]:
    """`shard_dir` when given, else the shards stage's two training folders."""
    if cfg.get("shard_dir"):
        return [Path(str(cfg.shard_dir))]
    layout = Layout.of(cfg)
    return [layout.shard_folder(name) for name in SHARD_FOLDERS]


def run_validate(cfg: DictConfig) -> StageResult:
    """`stage=validate` (registered in data_gen.pipeline.registry)."""
    rows = []
    for folder in shard_folders(cfg):
        summary = validate_shard_folder(folder)
        rows.append([str(folder), summary.shards, summary.samples, summary.images])
    title = "validate: every sample follows the contract"
    table = format_table(["folder", "shards", "samples", "images"], rows, title=title)
    return StageResult(manifest={"valid": [row[0] for row in rows]}, summary=table)
