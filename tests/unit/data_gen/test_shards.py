"""Shard writer and validator: deterministic bytes, resume after damage, strict contract checks."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest
import webdataset as wds

from data_gen.shards.validate import ValidationError, validate_shard_folder
from data_gen.shards.writer import ShardSpec, write_shards
from shard_contract.manifest import read_manifest
from shard_contract.sample import ContractError
from tests.helpers.shard_samples import make_sample, make_samples


def _hashes(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_shards_are_cut_by_count_and_bytes(tmp_path):
    report = write_shards(make_samples(25), tmp_path / "a", ShardSpec(max_samples=10))
    assert [s["samples"] for s in report.shards] == [10, 10, 5]
    report = write_shards(make_samples(25), tmp_path / "b", ShardSpec(max_bytes=12_000))
    assert len(report.shards) > 3 and report.total_samples == 25


def test_rerun_and_other_folder_give_byte_identical_shards(tmp_path):
    write_shards(make_samples(30), tmp_path / "a", ShardSpec(max_samples=8))
    first = _hashes(tmp_path / "a")
    report = write_shards(make_samples(30), tmp_path / "a", ShardSpec(max_samples=8))
    assert report.reused == 4 and report.written == 0
    assert _hashes(tmp_path / "a") == first
    write_shards(make_samples(30), tmp_path / "b", ShardSpec(max_samples=8))
    assert _hashes(tmp_path / "b") == first


def test_resume_repairs_damage_and_removes_temp_and_stale_files(tmp_path):
    folder = tmp_path / "s"
    write_shards(make_samples(30), folder, ShardSpec(max_samples=8))
    reference = _hashes(folder)
    write_shards(make_samples(80), folder, ShardSpec(max_samples=8))  # an older, longer run: shards 0–9
    (folder / "shard-000001.tar").unlink()
    (folder / "shard-000002.tar").write_bytes(b"torn")
    (folder / ".shard-000003.tar.tmp").write_bytes(b"partial")
    report = write_shards(make_samples(30), folder, ShardSpec(max_samples=8))
    assert report.written == 3 and report.reused == 1  # shard 3 holds 6 samples now, 8 in the longer run
    assert _hashes(folder) == reference  # stale shards 4–9 (written here) and the temp file removed


def test_manifest_counts_and_sizes(tmp_path):
    write_shards(make_samples(12), tmp_path, ShardSpec(max_samples=5))
    manifest = read_manifest(tmp_path)
    assert manifest["total_samples"] == 12 and manifest["images"] == 11
    assert manifest["counts"]["language"] == {"am": 2, "ar": 2, "el": 2, "en": 2, "hi": 2, "ja": 2}
    assert manifest["counts"]["question_type"] == {"open": 12}
    assert json.loads((tmp_path / "sizes.json").read_text()) == {
        "shard-000000.tar": 5, "shard-000001.tar": 5, "shard-000002.tar": 2,
    }


def test_keys_must_increase_and_samples_must_follow_the_contract(tmp_path):
    with pytest.raises(ValueError, match="strictly increasing"):
        write_shards([make_sample(2), make_sample(1)], tmp_path / "a")
    with pytest.raises(ValueError, match="strictly increasing"):
        write_shards([make_sample(1), make_sample(1)], tmp_path / "b")
    bad = make_sample(3)
    del bad.sample["answer"]
    with pytest.raises(ContractError, match=r"JP-Q1003.*missing field 'answer'"):
        write_shards([bad], tmp_path / "c")
    assert not list((tmp_path / "c").glob("*.tar"))


def test_shards_read_back_with_webdataset(tmp_path):
    write_shards(make_samples(20), tmp_path, ShardSpec(max_samples=6))
    urls = [str(p) for p in sorted(tmp_path.glob("shard-*.tar"))]
    rows = list(wds.WebDataset(urls, shardshuffle=False).decode("pil"))
    assert [row["__key__"] for row in rows] == [s.key for s in make_samples(20)]
    assert rows[0]["jpg"].size == (24, 24) and rows[0]["json"]["language"] == "en"
    assert "jpg" not in rows[9]


def test_shards_read_back_with_hf_datasets(tmp_path):
    from datasets import load_dataset

    samples = [make_sample(index) for index in range(8)]
    write_shards(samples, tmp_path / "shards", ShardSpec(max_samples=3))
    files = sorted(str(p) for p in (tmp_path / "shards").glob("shard-*.tar"))
    dataset = load_dataset("webdataset", data_files={"train": files}, split="train", cache_dir=str(tmp_path / "c"))
    assert len(dataset) == 8
    assert dataset[0]["__key__"] == samples[0].key and dataset[0]["json"]["qid"] == "Q1000"
    assert dataset[0]["jpg"].size == (24, 24)


def test_validate_accepts_written_shards(tmp_path):
    write_shards(make_samples(15), tmp_path, ShardSpec(max_samples=4))
    summary = validate_shard_folder(tmp_path)
    assert (summary.shards, summary.samples, summary.images) == (4, 15, 14)


def _rewrite_member(shard: Path, member_name: str, data: bytes | None, new_name: str | None = None) -> None:
    with tarfile.open(shard) as tar:
        members = [(m, tar.extractfile(m).read()) for m in tar]
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for member, original in members:
            payload = original
            if member.name == member_name:
                payload = original if data is None else data
                member.name = new_name or member.name
                member.size = len(payload)
            tar.addfile(member, io.BytesIO(payload))
    shard.write_bytes(buffer.getvalue())


@pytest.mark.parametrize(
    ("member", "data", "new_name", "message"),
    [
        ("JP-Q1001-P571-ja-open-00001.json", b"{not json", None, r"JP-Q1001.*JSON does not decode"),
        ("JP-Q1001-P571-ja-open-00001.json", b'{"id": "x"}', None, r"JP-Q1001.*missing field"),
        ("JP-Q1001-P571-ja-open-00001.json", b"\xff\xfe", None, r"JP-Q1001.*JSON does not decode"),
        ("JP-Q1001-P571-ja-open-00001.jpg", b"\xff\xd8garbage", None, r"JP-Q1001.*image does not decode"),
        ("JP-Q1001-P571-ja-open-00001.jpg", None, "../evil.jpg", r"unsafe member name"),
    ],
)
def test_validate_names_the_first_bad_sample(tmp_path, member, data, new_name, message):
    write_shards(make_samples(6), tmp_path, ShardSpec(max_samples=10))
    shard = tmp_path / "shard-000000.tar"
    _rewrite_member(shard, member, data, new_name)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    manifest["shards"][0]["sha256"] = hashlib.sha256(shard.read_bytes()).hexdigest()
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ValidationError, match=message):
        validate_shard_folder(tmp_path)


def test_validate_catches_manifest_drift(tmp_path):
    write_shards(make_samples(6), tmp_path, ShardSpec(max_samples=10))
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    manifest["counts"]["language"]["en"] = 99
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ValidationError, match="counts per language"):
        validate_shard_folder(tmp_path)
    (tmp_path / "shard-000000.tar").write_bytes(b"x")
    with pytest.raises(ValidationError, match="sha256"):
        validate_shard_folder(tmp_path)
