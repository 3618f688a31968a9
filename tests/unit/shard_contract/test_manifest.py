"""The shard folder's manifest, as both halves read it: written by data_gen, checked on every read."""

from __future__ import annotations

import json

import pytest

from culturalpangea.data.sources import SourceError, load_sources
from data_gen.shards.writer import ShardSpec, write_shards
from shard_contract.manifest import MANIFEST_FORMAT, ManifestError, read_manifest, shard_counts
from tests.helpers.shard_samples import make_samples


def _folder(tmp_path, count=5):
    folder = tmp_path / "shards"
    write_shards(make_samples(count), folder, ShardSpec(max_samples=2))
    return folder


def _rewrite(folder, change):
    path = folder / "manifest.json"
    manifest = json.loads(path.read_text())
    change(manifest)
    path.write_text(json.dumps(manifest))


def test_what_data_gen_writes_reads_back_by_folder_and_by_file(tmp_path):
    folder = _folder(tmp_path)
    manifest = read_manifest(folder)
    assert manifest["format"] == MANIFEST_FORMAT and manifest["total_samples"] == 5
    assert read_manifest(folder / "manifest.json") == manifest
    assert shard_counts(folder) == [("shard-000000.tar", 2), ("shard-000001.tar", 2), ("shard-000002.tar", 1)]
    assert json.loads((folder / "sizes.json").read_text()) == dict(shard_counts(folder))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda m: m.update(format="other/1"), "has format 'other/1'"),
        (lambda m: m.update(shards={"a": 1}), "'shards' must be a list"),
        (lambda m: m["shards"][0].update(name="../evil.tar"), "not a plain '<name>.tar'"),
        (lambda m: m["shards"][0].update(samples="2"), r"shards\[0\].samples is '2'"),
        (lambda m: m["shards"][1].update(name="shard-000000.tar"), "listed twice"),
        (lambda m: m.update(total_samples=6), "total_samples 6 is not the sum"),
        (lambda m: m["counts"].pop("language"), "'counts' must hold an object per language"),
    ],
)
def test_a_broken_manifest_is_named_with_its_field(tmp_path, change, message):
    folder = _folder(tmp_path)
    _rewrite(folder, change)
    with pytest.raises(ManifestError, match=message):
        read_manifest(folder)


def test_missing_and_torn_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="shard folder written by data_gen"):
        read_manifest(tmp_path)
    (tmp_path / "manifest.json").write_text('{"format": ')
    with pytest.raises(ManifestError, match="not valid JSON"):
        read_manifest(tmp_path)


def test_an_open_clip_sizes_file_is_enough_and_is_checked_too(tmp_path):
    (tmp_path / "sizes.json").write_text(json.dumps({"b-000001.tar": 3, "b-000000.tar": 4}))
    assert shard_counts(tmp_path) == [("b-000000.tar", 4), ("b-000001.tar", 3)]
    (tmp_path / "sizes.json").write_text(json.dumps({"b-000000.tar": -1}))
    with pytest.raises(ManifestError, match="not a non-negative integer"):
        shard_counts(tmp_path)


def test_training_refuses_a_broken_manifest_through_the_contract(tmp_path):
    """Training used to parse manifest.json on its own, with none of these checks."""
    folder = _folder(tmp_path)
    assert load_sources({"cg": {"path": folder, "weight": 1.0}})[0].samples == 5
    _rewrite(folder, lambda m: m.update(total_samples=99))
    with pytest.raises(SourceError, match=r"source 'cg': unreadable manifest: .*total_samples 99"):
        load_sources({"cg": {"path": folder, "weight": 1.0}})
