"""The files beside the shards: `manifest.json` (ours, with counts) and `sizes.json` (open_clip's).

A shard folder holds `<prefix>-NNNNNN.tar` files, `sizes.json` (shard name → sample count, the file
open_clip's loader reads) and `manifest.json`:

    {"format": "culturalground-wds/1", "total_samples": N, "total_qa_pairs": Q, "images": M,
     "shards": [{"name", "samples", "bytes", "sha256", "qa_pairs"}, …],
     "counts": {"language": {…}, "country": {…}, "property": {…}, "question_type": {…}}}

`counts` and `total_qa_pairs` count QA pairs: one per sample, or one per turn of a grouped sample
(shard_contract.sample); `qa_pairs` per shard and `total_qa_pairs` are absent from manifests written
before grouping existed, which readers take as one pair per sample (`qa_pair_counts`).

data_gen writes both with `write_manifest`; training, evaluation and `stage=validate` read them with
`read_manifest` / `shard_counts`, so every reader makes the same checks and a broken folder fails
with one `ManifestError` that names the file and the field, not a `KeyError` deep in a loader.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from shard_contract.atomic import atomic_write_bytes

MANIFEST_NAME = "manifest.json"
SIZES_NAME = "sizes.json"
MANIFEST_FORMAT = "culturalground-wds/1"
COUNTED_FIELDS = ("language", "country", "property", "question_type")


class ManifestError(ValueError):
    """A manifest or sizes file that is missing, unreadable or inconsistent; the message names it."""


def manifest_dict(shards: Sequence[Mapping[str, Any]], counts: Mapping[str, Mapping[str, int]],
                  images: int) -> dict[str, Any]:
    """The manifest as a JSON-ready dict (deterministic: counts sorted by key)."""
    return {
        "format": MANIFEST_FORMAT,
        "total_samples": sum(int(shard["samples"]) for shard in shards),
        "total_qa_pairs": sum(int(shard.get("qa_pairs", shard["samples"])) for shard in shards),
        "images": images,
        "shards": [dict(shard) for shard in shards],
        "counts": {name: dict(sorted(counts.get(name, {}).items())) for name in COUNTED_FIELDS},
    }


def write_manifest(folder: Path, manifest: Mapping[str, Any]) -> None:
    """Write `sizes.json` and `manifest.json` (in that order: the manifest is the done marker)."""
    folder = Path(folder)
    sizes = {shard["name"]: shard["samples"] for shard in manifest["shards"]}
    atomic_write_bytes(folder / SIZES_NAME, json.dumps(sizes, indent=1, sort_keys=True).encode())
    text = json.dumps(dict(manifest), ensure_ascii=False, indent=1, sort_keys=True)
    atomic_write_bytes(folder / MANIFEST_NAME, text.encode("utf-8"))


def _check_shard_name(path: Path, name: Any) -> str:
    if not isinstance(name, str) or not name.endswith(".tar") or PurePosixPath(name).name != name or name[0] == ".":
        raise ManifestError(f"{path}: shard name {name!r} is not a plain '<name>.tar' file name")
    return name


def _check_count(path: Path, what: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ManifestError(f"{path}: {what} is {value!r}, not a non-negative integer")
    return value


def _check_manifest(path: Path, manifest: Any) -> dict[str, Any]:
    if not isinstance(manifest, dict):
        raise ManifestError(f"{path} holds a JSON {type(manifest).__name__}, not an object")
    if manifest.get("format") != MANIFEST_FORMAT:
        raise ManifestError(f"{path} has format {manifest.get('format')!r}, expected {MANIFEST_FORMAT!r}")
    shards = manifest.get("shards")
    if not isinstance(shards, list):
        raise ManifestError(f"{path}: field 'shards' must be a list")
    names = set()
    for index, entry in enumerate(shards):
        if not isinstance(entry, dict):
            raise ManifestError(f"{path}: shards[{index}] is not an object")
        names.add(_check_shard_name(path, entry.get("name")))
        samples = _check_count(path, f"shards[{index}].samples", entry.get("samples"))
        if "qa_pairs" in entry and _check_count(path, f"shards[{index}].qa_pairs", entry["qa_pairs"]) < samples:
            raise ManifestError(f"{path}: shards[{index}] has fewer QA pairs than samples")
    if len(names) != len(shards):
        raise ManifestError(f"{path}: a shard is listed twice")
    total = _check_count(path, "total_samples", manifest.get("total_samples"))
    if total != sum(entry["samples"] for entry in shards):
        raise ManifestError(f"{path}: total_samples {total} is not the sum of the shards' samples")
    if "total_qa_pairs" in manifest and _check_count(path, "total_qa_pairs", manifest["total_qa_pairs"]) != sum(
            entry.get("qa_pairs", entry["samples"]) for entry in shards):
        raise ManifestError(f"{path}: total_qa_pairs is not the sum of the shards' QA pairs")
    counts = manifest.get("counts")
    if not isinstance(counts, dict) or any(not isinstance(counts.get(name), dict) for name in COUNTED_FIELDS):
        raise ManifestError(f"{path}: field 'counts' must hold an object per {', '.join(COUNTED_FIELDS)}")
    return manifest


def _load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ManifestError(f"{path} is not valid JSON: {error}") from error


def read_manifest(location: Path) -> dict[str, Any]:
    """Load and check a manifest: a shard folder's `manifest.json`, or that file's own path.

    FileNotFoundError when there is none; ManifestError naming the file and field when it is broken.
    """
    location = Path(location)
    path = location / MANIFEST_NAME if location.is_dir() else location
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: is {path.parent} a shard folder written by data_gen?")
    return _check_manifest(path, _load_json(path))


def shard_counts(folder: Path) -> list[tuple[str, int]]:
    """(shard name, samples) for every shard of a folder, sorted by name.

    From `manifest.json` when there is one, else from an open_clip style `sizes.json`, so folders
    written by other tools train too.
    """
    folder = Path(folder)
    if (folder / MANIFEST_NAME).is_file():
        entries = [(entry["name"], entry["samples"]) for entry in read_manifest(folder)["shards"]]
    elif (folder / SIZES_NAME).is_file():
        path = folder / SIZES_NAME
        sizes = _load_json(path)
        if not isinstance(sizes, dict):
            raise ManifestError(f"{path} holds a JSON {type(sizes).__name__}, not an object")
        entries = [(_check_shard_name(path, name), _check_count(path, name, n)) for name, n in sizes.items()]
    else:
        raise FileNotFoundError(f"no {MANIFEST_NAME} or {SIZES_NAME} in {folder}")
    return sorted(entries)


def qa_pair_counts(folder: Path) -> list[tuple[str, int]]:
    """(shard name, QA pairs) for every shard of a folder, sorted by name; one pair per sample where the
    manifest predates grouping or only `sizes.json` exists."""
    folder = Path(folder)
    if not (folder / MANIFEST_NAME).is_file():
        return shard_counts(folder)
    return sorted((entry["name"], entry.get("qa_pairs", entry["samples"])) for entry in read_manifest(folder)["shards"])
