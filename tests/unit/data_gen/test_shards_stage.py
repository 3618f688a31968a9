"""`stage=shards`, `stage=validate`, `stage=stats` and `stage=import_llava` on synthetic QA records."""

from __future__ import annotations

import gc
import hashlib
import io
import itertools
import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest
import webdataset as wds

from data_gen.common.errors import DataGenError
from data_gen.common.parts import iter_records
from data_gen.pipeline.run_all import run_all
from data_gen.qa.generate import QASettings
from data_gen.qa.stage import run_qa
from data_gen.shards import spool as spool_module
from data_gen.shards import stage as shards_stage
from data_gen.shards.importers import run_import_llava
from data_gen.shards.spool import spool_records
from data_gen.shards.stage import DROPPED_FIELDS, SPOOL_FOLDER, ShardsSettings, run_shards
from data_gen.shards.stats import run_stats
from data_gen.shards.validate import ValidationError, run_validate
from tests.helpers.datagen_config import datagen_config
from tests.helpers.page_cache import resident_pages
from tests.helpers.qa_inputs import tiny_jpeg, write_inputs

ROOT = Path(__file__).resolve().parents[3]
SETTINGS = ShardsSettings(input="qa", max_samples=150, heldout_fraction=0.1)


@pytest.fixture(scope="module")
def sharded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = write_inputs(tmp_path_factory.mktemp("shards"), per_country=12)
    run_qa(out, QASettings(mcq_fraction=0.5))
    run_shards(out, SETTINGS)
    return out


def _hashes(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.glob("*.tar"))}


def test_the_folders_hold_every_record_once_in_id_order_with_entities_held_out(sharded: Path) -> None:
    records = {r["id"]: r for r in iter_records(sharded / "qa")}
    seen = {}
    folder_of_entity: dict[str, set[str]] = {}
    for question_type in ("open", "mcq", "heldout"):
        folder = sharded / "shards" / question_type
        manifest = json.loads((folder / "manifest.json").read_text())
        if question_type == "heldout":
            assert 0 < manifest["total_samples"] < len(records) // 5
        else:
            assert len(manifest["shards"]) > 1
            assert manifest["counts"]["question_type"] == {question_type: manifest["total_samples"]}
        keys = []
        for sample in wds.WebDataset(sorted(str(p) for p in folder.glob("*.tar")), shardshuffle=False):
            sample_json = json.loads(sample["json"])
            keys.append(sample["__key__"])
            seen[sample["__key__"]] = sample_json
            assert not set(DROPPED_FIELDS) & set(sample_json)
            source = records[sample["__key__"]]
            folder_of_entity.setdefault(source["qid"], set()).add("heldout" if question_type == "heldout" else "train")
            assert sample_json["conversations"] == source["conversations"]
            assert sample["jpg"] == (sharded / source["image"]).read_bytes()
        assert keys == sorted(keys)
    assert set(seen) == set(records)
    assert all(len(folders) == 1 for folders in folder_of_entity.values())  # held out by entity, never split
    countries_in_first_shard = {v["country"] for v in list(seen.values())[:150]}
    assert len(countries_in_first_shard) > 1  # hash-prefixed IDs mix countries within a shard


def test_shards_read_back_with_hf_datasets(sharded: Path, tmp_path: Path) -> None:
    from datasets import load_dataset

    files = sorted(str(p) for p in (sharded / "shards" / "mcq").glob("*.tar"))
    dataset = load_dataset("webdataset", data_files={"train": files}, split="train", cache_dir=str(tmp_path))
    manifest = json.loads((sharded / "shards" / "mcq" / "manifest.json").read_text())
    assert len(dataset) == manifest["total_samples"]
    row = dataset[0]
    assert row["json"]["question_type"] == "mcq" and row["json"]["answer"] in row["json"]["choices"]
    assert row["jpg"].size == (32, 32)


def test_rerun_is_byte_identical_and_repairs_damage(sharded: Path) -> None:
    folder = sharded / "shards" / "open"
    before = _hashes(folder)
    victim = sorted(folder.glob("*.tar"))[1]
    victim.write_bytes(victim.read_bytes()[:1000])
    (folder / f".{victim.name}.tmp").write_bytes(b"partial")
    run_shards(sharded, SETTINGS)
    assert _hashes(folder) == before
    assert not list(folder.glob(".*.tmp"))


def test_validate_passes_then_names_the_first_bad_sample(sharded: Path, tmp_path: Path) -> None:
    cfg = datagen_config(sharded)
    assert "validate" in run_validate(cfg).summary
    broken = tmp_path / "broken"
    broken.mkdir()
    source = sharded / "shards" / "mcq"
    for path in source.iterdir():
        if path.is_file():
            (broken / path.name).write_bytes(path.read_bytes())
    first = sorted(broken.glob("*.tar"))[0]
    members = []
    with tarfile.open(first) as tar:
        for member in tar:
            members.append((member, tar.extractfile(member).read()))
    key = members[1][0].name.split(".")[0]
    sample = json.loads(members[1][1])
    sample["answer"] = "not an option"
    members[1] = (members[1][0], json.dumps(sample).encode())
    with tarfile.open(first, "w") as tar:
        for member, data in members:
            member.size = len(data)
            tar.addfile(member, io.BytesIO(data))
    with pytest.raises(ValidationError, match="sha256 differs"):
        run_validate(datagen_config(sharded, f"shard_dir={broken}"))
    manifest = json.loads((broken / "manifest.json").read_text())
    manifest["shards"][0]["sha256"] = hashlib.sha256(first.read_bytes()).hexdigest()
    (broken / "manifest.json").write_text(json.dumps(manifest))
    result = subprocess.run(
        [sys.executable, "-m", "data_gen", "stage=validate", f"out_dir={sharded}", f"shard_dir={broken}"],
        capture_output=True, text=True, cwd=ROOT, check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: {first.name}: sample '{key}': field 'answer' is not one of 'choices'"
    )


def test_missing_image_stops_before_any_tar_is_written(tmp_path: Path) -> None:
    out = write_inputs(tmp_path, per_country=4)
    run_qa(out, QASettings())
    record = next(iter_records(out / "qa"))
    (out / record["image"]).unlink()
    with pytest.raises(DataGenError, match=f"image '{record['image']}' of record"):
        run_shards(out, ShardsSettings(input="qa"))
    assert not (out / "shards" / "open").exists()
    with pytest.raises(ValueError, match=r"filter output .* run it first"):
        run_shards(out, ShardsSettings())
    with pytest.raises(ValueError, match=r"shards\.input must be one of"):
        ShardsSettings(input="entities")


def test_a_record_id_twice_in_the_input_stops_the_stage_naming_both_places(tmp_path: Path) -> None:
    """The index holds one packed string per record and checks IDs on 64-bit hashes instead of a set of
    the IDs (data_gen/shards/stage.py, `build_index`): a duplicate is still found, across parts and
    across output folders, and named with both places before any tar is written."""
    from data_gen.shards.stage import IndexEntry, unpack

    out = write_inputs(tmp_path, per_country=4)
    run_qa(out, QASettings(mcq_fraction=1.0))
    parts = sorted((out / "qa").rglob("part-*.jsonl"))
    first = json.loads(parts[0].read_text(encoding="utf-8").splitlines()[0])
    copy = {**first, "question_type": "mcq" if first["question_type"] == "open" else "open"}  # another folder
    with parts[-1].open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(copy, ensure_ascii=False) + "\n")
    with pytest.raises(DataGenError, match=rf"record '{first['id']}' appears twice in qa/ \(.*part-.* at byte 0 and "):
        run_shards(out, ShardsSettings(input="qa"))
    assert not (out / "shards" / "open").exists()
    assert unpack("g1_en_open\0k_1\0a\0ff") == IndexEntry("k_1", 10, 255, "g1_en_open")


def test_stats_write_tables_and_charts_beside_each_manifest(sharded: Path) -> None:
    result = run_stats(datagen_config(sharded))
    combined = json.loads((sharded / "shards" / "stats" / "stats.json").read_text())
    open_n = json.loads((sharded / "shards" / "open" / "manifest.json").read_text())["total_samples"]
    mcq_n = json.loads((sharded / "shards" / "mcq" / "manifest.json").read_text())["total_samples"]
    assert combined["total_samples"] == open_n + mcq_n == result.manifest["total_samples"]
    assert set(combined["counts"]["images_per_country"]) == {"FR", "IL", "IN", "JP"}
    for folder in ("open", "mcq", "stats"):
        base = sharded / "shards" / folder / ("" if folder == "stats" else "stats")
        assert (base / "stats.md").exists() and (base / "language.png").read_bytes()[:4] == b"\x89PNG"
    assert "![images_per_country](images_per_country.png)" in (sharded / "shards" / "stats" / "stats.md").read_text()


def test_import_llava_through_the_cli_stage(tmp_path: Path) -> None:
    images = tmp_path / "imgs"
    images.mkdir()
    (images / "a.jpg").write_bytes(tiny_jpeg(1))
    rows = [
        {"id": "x1", "image": "a.jpg", "language": "ja",
         "conversations": [{"from": "human", "value": "<image>\nWhat is this?"}, {"from": "gpt", "value": "A cat"}]},
        {"id": "x2", "image": "../escape.jpg",
         "conversations": [{"from": "human", "value": "<image>\nQ"}, {"from": "gpt", "value": "A"}]},
    ]  # fmt: skip
    annotations = tmp_path / "data.json"
    annotations.write_text(json.dumps(rows))
    cfg = datagen_config(tmp_path / "out", f"import.annotations={annotations}", f"import.images={images}",
                         "import.name=culturalground", "import.prefix=cg-jp")  # fmt: skip
    result = run_import_llava(cfg)
    assert result.manifest["imported"] == 1 and result.manifest["skipped"] == {"unsafe_image_path": 1}
    assert (tmp_path / "out" / "imported" / "culturalground" / "manifest.json").exists()
    with pytest.raises(DataGenError, match=r"needs import\.annotations"):
        run_import_llava(datagen_config(tmp_path / "out"))


def test_all_runs_each_stage_once_and_skips_finished_ones(tmp_path: Path) -> None:
    out = write_inputs(tmp_path, per_country=5)
    stages = "all.stages=[qa,refine,filter,shards,stats]"
    cfg = datagen_config(out, "refine.backend=none", "filter.backend=none", stages)
    first = run_all(cfg)
    assert [row["status"] for row in first] == ["ran"] * 5
    assert [row["status"] for row in run_all(cfg)] == ["complete, skipped"] * 5
    (out / "shards" / "manifest.json").unlink()  # as if killed while sharding
    rows = run_all(cfg)
    assert [row["status"] for row in rows] == ["complete, skipped"] * 3 + ["ran", "ran"]
    with pytest.raises(DataGenError, match=r"unknown stage\(s\) \['bogus'\]"):
        run_all(datagen_config(out, "all.stages=[qa,bogus]"))


def test_grouped_shards_put_an_images_pairs_in_one_conversation(sharded: Path, tmp_path: Path) -> None:
    """Issue 18 §1: `shards.group=image_language`: one sample per (image, language, question type), its QA
    pairs as turns in a seeded order, at most `max_turns` per sample; every pair exactly once; the held-out
    split stays one pair per sample; re-runs byte-identical; far fewer bytes than one image copy per pair."""
    out = write_inputs(tmp_path, per_country=12)
    run_qa(out, QASettings(mcq_fraction=0.5))
    settings = ShardsSettings(input="qa", max_samples=150, heldout_fraction=0.1, group="image_language", max_turns=3)
    result = run_shards(out, settings)
    records = {r["id"]: r for r in iter_records(out / "qa")}
    seen: list[str] = []
    split_groups = 0
    for question_type in ("open", "mcq"):
        folder = out / "shards" / question_type
        manifest = json.loads((folder / "manifest.json").read_text())
        pairs_in_folder = 0
        for sample in wds.WebDataset(sorted(str(p) for p in folder.glob("*.tar")), shardshuffle=False):
            body = json.loads(sample["json"])
            sources = [records[pair["id"]] for pair in body["qa"]]
            assert 1 <= len(sources) <= 3 and body["question_type"] == question_type
            assert {(s["image"], s["language"], s["question_type"]) for s in sources} == {
                (sources[0]["image"], body["language"], question_type)}  # one image, language and type
            assert sample["jpg"] == (out / sources[0]["image"]).read_bytes()  # the image once per sample
            turns = body["conversations"]
            assert len(turns) == 2 * len(sources) and turns[0]["value"].startswith("<image>\n")
            assert sum(turn["value"].count("<image>") for turn in turns) == 1
            for index, source in enumerate(sources):
                human, gpt = turns[2 * index: 2 * index + 2]
                assert gpt == source["conversations"][1]
                assert human["value"] == source["conversations"][0]["value"].removeprefix(
                    "" if index == 0 else "<image>\n")
                assert body["qa"][index]["answer"] == source["answer"]
                assert body["qa"][index]["property"] == source["property"]
            split_groups += sample["__key__"].endswith("_01")
            pairs_in_folder += len(sources)
            seen += [pair["id"] for pair in body["qa"]]
        assert manifest["total_qa_pairs"] == pairs_in_folder == result["folders"][question_type]["qa_pairs"]
        assert manifest["total_samples"] < pairs_in_folder
        assert sum(manifest["counts"]["property"].values()) == pairs_in_folder  # counts are per pair
    assert split_groups > 0  # groups with more than max_turns pairs continue in further samples
    heldout = [json.loads(s["json"]) for s in wds.WebDataset(
        sorted(str(p) for p in (out / "shards" / "heldout").glob("*.tar")), shardshuffle=False)]
    assert heldout and all("qa" not in s and s["answer"] for s in heldout)  # one question per evaluation item
    seen += [s["id"] for s in heldout]
    assert sorted(seen) == sorted(records)  # every pair exactly once
    grouped_bytes = sum(p.stat().st_size for p in (out / "shards" / "open").glob("*.tar"))
    ungrouped_bytes = sum(p.stat().st_size for p in (sharded / "shards" / "open").glob("*.tar"))
    assert grouped_bytes < ungrouped_bytes / 2  # the same inputs, one image copy per sample
    before = _hashes(out / "shards" / "open")
    run_shards(out, settings)
    assert _hashes(out / "shards" / "open") == before
    assert "validate" in run_validate(datagen_config(out)).summary  # the contract accepts grouped samples


@pytest.mark.parametrize("group", ["none", "image_language"])
def test_records_read_a_small_window_at_a_time_give_the_same_tars(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, group: str
) -> None:
    """Records are spooled and read back `READ_WINDOW` index entries at a time; windows cut between
    samples (a grouped sample's pairs never straddle two), so any window size writes the same bytes."""
    out = write_inputs(tmp_path / "a", per_country=12)
    run_qa(out, QASettings(mcq_fraction=0.5))
    settings = ShardsSettings(input="qa", max_samples=150, heldout_fraction=0.1, group=group, max_turns=3)
    run_shards(out, settings)
    whole = {qt: _hashes(out / "shards" / qt) for qt in ("open", "mcq", "heldout")}
    monkeypatch.setattr(shards_stage, "READ_WINDOW", 4)
    for qt in ("open", "mcq", "heldout"):
        shutil.rmtree(out / "shards" / qt)
    run_shards(out, settings)
    assert {qt: _hashes(out / "shards" / qt) for qt in ("open", "mcq", "heldout")} == whole


def _parts(folder: Path, count: int = 3, lines: int = 5) -> tuple[list[Path], list[list[int]]]:
    """JSON Lines parts; the last one without a final newline. Returns the paths and each line's offset."""
    folder.mkdir(parents=True, exist_ok=True)
    paths, offsets = [], []
    for number in range(count):
        data = b"".join(b'{"n": %d, "line": %d}\n' % (number, line) for line in range(lines))
        paths.append(folder / f"part-{number}.jsonl")
        paths[-1].write_bytes(data[:-1] if number == count - 1 else data)
        offsets.append([0, *itertools.accumulate(len(line) for line in data.splitlines(keepends=True))][:-1])
    return paths, offsets


def test_the_spool_reads_each_part_once_and_gives_each_window_its_lines_in_file_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths, offsets = _parts(tmp_path / "qa")
    wanted = [(2, 4, 0), (0, 1, 1), (2, 0, 1), (1, 3, 0), (0, 4, 0), (0, 0, 2), (2, 2, 0)]  # part, line, window
    opened: list[str] = []
    real_open = open
    monkeypatch.setattr(spool_module, "open", lambda path, *a: opened.append(Path(path).name) or real_open(path, *a),
                        raising=False)  # fmt: skip
    spool = spool_records(tmp_path / "spool", paths, np.array([w[0] for w in wanted], dtype=np.int32),
                          np.array([offsets[p][line] for p, line, _ in wanted], dtype=np.int64),
                          np.array([w[2] for w in wanted], dtype=np.int32))  # fmt: skip
    assert [name for name in opened if name.startswith("part-")] == ["part-0.jsonl", "part-1.jsonl", "part-2.jsonl"]
    for window in range(3):
        expected = sorted((p, line) for p, line, w in wanted if w == window)
        assert [json.loads(line) for line in spool.take(window)] == [{"n": p, "line": ln} for p, ln in expected]
        assert not spool.path(window).exists()  # taken once: the disk is given back as the tars grow
    with pytest.raises(DataGenError, match="disappeared"):
        spool.take(0)


@pytest.mark.skipif(not hasattr(os, "posix_fadvise"), reason="posix_fadvise is Linux-only")
def test_a_spooled_part_leaves_the_page_cache(tmp_path: Path) -> None:
    """Read twice (index, spool) and never again: its pages are left to the images."""
    paths, offsets = _parts(tmp_path / "qa", count=2, lines=100_000)
    for path in paths:  # on disk (qa parts are written atomically, fsynced) and cached, as the index pass leaves them
        with open(path, "rb") as handle:
            os.fsync(handle.fileno())
            handle.read()
    if not all(resident_pages(path) for path in paths):
        pytest.skip(f"{tmp_path} does not keep read files in the page cache")
    wanted = [(part, offset) for part, starts in enumerate(offsets) for offset in starts[::1000]]
    spool = spool_records(tmp_path / "spool", paths, np.array([p for p, _ in wanted], dtype=np.int32),
                          np.array([o for _, o in wanted], dtype=np.int64), np.zeros(len(wanted), dtype=np.int32))
    assert len(spool.take(0)) == len(wanted)
    assert [resident_pages(path) for path in paths] == [0, 0]


def test_a_part_changed_since_it_was_indexed_stops_the_spool(tmp_path: Path) -> None:
    paths, _ = _parts(tmp_path / "qa")
    with pytest.raises(DataGenError, match=r"part-1\.jsonl changed while the stage ran.*byte 7"):
        spool_records(tmp_path / "spool", paths, np.array([0, 1], dtype=np.int32), np.array([0, 7], dtype=np.int64),
                      np.array([0, 0], dtype=np.int32))  # fmt: skip


def test_too_little_disk_for_the_spool_stops_the_stage_before_a_tar_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Filling a disk is out of reach of a test: the free space is the one thing faked here."""
    out = write_inputs(tmp_path, per_country=4)
    run_qa(out, QASettings(mcq_fraction=0.5))
    real_usage = shutil.disk_usage
    monkeypatch.setattr(spool_module.shutil, "disk_usage", lambda path: real_usage(path)._replace(free=1000))
    with pytest.raises(DataGenError, match=r"needs [\d,]+ bytes of temporary space .* only 1,000 are free"):
        run_shards(out, SETTINGS)
    assert not list((out / "shards").rglob("*.tar"))
    assert not (out / "shards" / SPOOL_FOLDER).exists()


def test_a_spool_left_by_a_killed_run_is_replaced_and_none_is_left_after(tmp_path: Path) -> None:
    out = write_inputs(tmp_path, per_country=4)
    run_qa(out, QASettings(mcq_fraction=0.5))
    run_shards(out, SETTINGS)
    assert not (out / "shards" / SPOOL_FOLDER).exists()
    whole = {qt: _hashes(out / "shards" / qt) for qt in ("open", "mcq", "heldout")}
    leftover = out / "shards" / SPOOL_FOLDER
    leftover.mkdir()
    (leftover / "window-000000.jsonl").write_bytes(b'{"id": "left by a killed run"}\n')
    shutil.rmtree(out / "shards" / "open")
    run_shards(out, SETTINGS)
    assert {qt: _hashes(out / "shards" / qt) for qt in ("open", "mcq", "heldout")} == whole
    assert not leftover.exists()


def test_the_index_is_hidden_from_the_cyclic_gc_while_tars_are_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full collection walks every tracked container: with the 9.3M-entry index in sight the write
    loop was quadratic at 1M entities. Frozen while writing (gc.freeze), back in sight afterwards."""
    out = write_inputs(tmp_path, per_country=4)
    run_qa(out, QASettings(mcq_fraction=0.5))
    frozen_while_writing: list[int] = []
    real_write = shards_stage.write_shards

    def write(samples, folder, spec):
        frozen_while_writing.append(gc.get_freeze_count())
        return real_write(samples, folder, spec)

    monkeypatch.setattr(shards_stage, "write_shards", write)
    before = gc.get_freeze_count()
    run_shards(out, SETTINGS)
    assert len(frozen_while_writing) == 3 and min(frozen_while_writing) > before
    assert gc.get_freeze_count() == before
