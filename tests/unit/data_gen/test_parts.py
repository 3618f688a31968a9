"""Chunked stage files: atomic parts, global order, ranges for array jobs, resume without redoing work."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from data_gen.common.parts import (
    PartRef,
    StageIOError,
    iter_records,
    list_parts,
    map_parts,
    parse_range,
    read_part,
    require_complete,
    split_into_parts,
    summarize,
    write_part,
    write_stage_manifest,
)


def _fill(stage_dir, countries=("JP", "FR"), per_country=5, chunk=2):
    for country in countries:
        records = ({"id": f"{country}-{i}", "n": i} for i in range(per_country))
        for ref, chunk_records in split_into_parts(country, records, chunk):
            write_part(stage_dir, ref, chunk_records, {"records_in": len(chunk_records),
                                                       "records_out": len(chunk_records), "reasons": {}})


def test_split_into_parts_cuts_by_size_and_numbers_parts():
    parts = list(split_into_parts("FR", ({"i": i} for i in range(5)), 2))
    assert [ref for ref, _ in parts] == [PartRef("FR", 0), PartRef("FR", 1), PartRef("FR", 2)]
    assert [len(records) for _, records in parts] == [2, 2, 1]
    with pytest.raises(StageIOError):
        list(split_into_parts("FR", [], 0))


def test_parts_are_listed_in_global_order_and_read_back(tmp_path):
    _fill(tmp_path / "qa")
    parts = list_parts(tmp_path / "qa")
    assert [(p.country, p.index) for p in parts] == [("FR", 0), ("FR", 1), ("FR", 2), ("JP", 0), ("JP", 1), ("JP", 2)]
    assert [r["id"] for r in iter_records(tmp_path / "qa", "JP")] == [f"JP-{i}" for i in range(5)]
    assert len(list(iter_records(tmp_path / "qa"))) == 10


def test_a_stats_file_without_its_part_is_not_a_complete_part(tmp_path):
    ref = PartRef("FR", 0)
    ref.stats_path(tmp_path).parent.mkdir(parents=True)
    ref.stats_path(tmp_path).write_text("{}")
    (tmp_path / "FR" / ".part-00000.jsonl.tmp").write_text('{"half": ')
    assert list_parts(tmp_path) == []


def test_bad_record_lines_name_the_file_and_line(tmp_path):
    path = tmp_path / "part-00000.jsonl"
    path.write_text('{"ok": 1}\n{"broken": \n')
    with pytest.raises(StageIOError, match=r"part-00000\.jsonl:2"):
        read_part(path)
    path.write_text('{"ok": 1}\n[1, 2]\n')
    with pytest.raises(StageIOError, match="JSON object"):
        read_part(path)


@pytest.mark.parametrize(("spec", "expected"), [
    (None, range(6)), ("all", range(6)), ("2:4", range(2, 4)), ("4:", range(4, 6)), (":2", range(0, 2)),
    ("5:99", range(5, 6)), ("7:9", range(6, 6)),
])
def test_parse_range(spec, expected):
    assert parse_range(spec, 6) == expected


@pytest.mark.parametrize("spec", ["a:b", "3", "4:2", "1-3"])
def test_parse_range_rejects_bad_specs(spec):
    with pytest.raises(StageIOError):
        parse_range(spec, 6)


def _keep_even(ref, records):
    kept = [r for r in records if r["n"] % 2 == 0]
    return kept, Counter(kept=len(kept), dropped_odd=len(records) - len(kept))


def test_map_parts_resumes_and_array_slices_cover_the_whole(tmp_path):
    _fill(tmp_path / "qa")
    calls = []

    def transform(ref, records):
        calls.append(ref)
        return _keep_even(ref, records)

    first = map_parts(tmp_path / "qa", tmp_path / "filter_a", transform, part_range="0:3")
    second = map_parts(tmp_path / "qa", tmp_path / "filter_a", transform, part_range="3:")
    assert (first.parts_written, second.parts_written) == (3, 3)
    again = map_parts(tmp_path / "qa", tmp_path / "filter_a", transform)
    assert again.parts_written == 0 and again.parts_already_done == 6 and len(calls) == 6
    assert again.records_in == 10 and again.records_out == 6
    assert again.reasons == Counter(kept=6, dropped_odd=4)
    whole = map_parts(tmp_path / "qa", tmp_path / "filter_b", _keep_even)
    for ref in list_parts(tmp_path / "filter_b"):
        assert ref.path(tmp_path / "filter_a").read_bytes() == ref.path(tmp_path / "filter_b").read_bytes()
    assert whole.as_dict()["records_out"] == 6


def test_map_parts_removes_leftover_temp_files(tmp_path):
    _fill(tmp_path / "qa", countries=("FR",))
    leftover = tmp_path / "out" / "FR" / ".part-00000.jsonl.tmp"
    leftover.parent.mkdir(parents=True)
    leftover.write_text("half")
    map_parts(tmp_path / "qa", tmp_path / "out", _keep_even)
    assert not leftover.exists()
    assert not list((tmp_path / "out").rglob("*.tmp"))


def test_manifest_marks_completion_and_sums_parts(tmp_path):
    _fill(tmp_path / "qa")
    with pytest.raises(StageIOError, match="run it first"):
        require_complete(tmp_path / "qa", "qa")
    manifest = write_stage_manifest(tmp_path / "qa", "qa", {"seed": 3})
    assert manifest["records_out"] == 10 and manifest["parts"] == 6 and manifest["seed"] == 3
    assert manifest["countries"]["JP"] == {"records_in": 5, "records_out": 5}
    assert require_complete(tmp_path / "qa", "qa") == json.loads((tmp_path / "qa" / "manifest.json").read_text())
    assert summarize(tmp_path / "qa")["records_in"] == 10


def test_part_refs_are_validated():
    with pytest.raises(StageIOError):
        PartRef("fr", 0)
    with pytest.raises(StageIOError):
        PartRef("FR", -1)
