"""Stage 2 against a Commons-shaped loopback server: every injected fault ends in its status, politely.

Entities come from the real entities stage run on a synthetic Wikidata-shaped graph (one image per
item, `Synthetic item <i>.jpg`); images from `tests/helpers/image_server.py`, which injects faults
per file and measures the client's concurrency.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from PIL import Image

from data_gen.entities.selection import EntitySettings
from data_gen.entities.stage import run_entities
from data_gen.images.checks import read_image_records
from data_gen.images.commons_client import CommonsSettings
from data_gen.images.stage import ImageSettings, make_source, run_images, summary_table
from data_gen.wikidata.client import SparqlClient, StoreBackend
from data_gen.wikidata.regions import load_regions
from tests.helpers.datagen_cli import TEST_AGENT
from tests.helpers.image_server import Fault, FaultyImageServer
from tests.helpers.wikidata_snippet import store_from_turtle, synthetic_country_turtle

FAST = {"max_attempts": 3, "backoff_base_s": 0.01, "backoff_max_s": 0.05, "timeout_s": 0.6, "max_retry_after_s": 5}


def name(index: int) -> str:
    return f"Synthetic item {index}.jpg"


def make_entities(out_dir: Path, count: int) -> None:
    france = load_regions().by_key("FR")
    store = store_from_turtle(synthetic_country_turtle(france.qid, count, ("fr", "en")))
    run_entities(SparqlClient(StoreBackend(store)), [france], EntitySettings(links=("P17",)), out_dir)


def commons_for(server: FaultyImageServer) -> CommonsSettings:
    return CommonsSettings(server.file_path_url, server.api_url, ("127.0.0.1",), allow_http=True)


def run_against(server: FaultyImageServer, out_dir: Path, **overrides) -> dict:
    settings = ImageSettings(origin="commons", **{**FAST, **overrides})
    source = make_source(settings, commons_for(server), "endpoint", TEST_AGENT, out_dir)
    return run_images(source, ["FR"], settings, out_dir)


def by_file(out_dir: Path) -> dict[str, dict]:
    return {record["file"]: record for record in read_image_records(out_dir, "FR")}


def uploads_of(server: FaultyImageServer, index: int) -> int:
    return server.stats.count(f"px-Synthetic_item_{index}.jpg")


FAULTS = {
    1: (Fault("not_found"), "missing"),
    2: (Fault("deleted"), "missing"),
    3: (Fault("rate_limit", times=2, retry_after_s=0.2), "ok"),
    4: (Fault("rate_limit", retry_after_s=0.1), "rate_limited"),
    5: (Fault("server_error"), "unavailable"),
    6: (Fault("slow", delay_s=1.5), "unavailable"),
    7: (Fault("truncate"), "unavailable"),
    8: (Fault("reset"), "unavailable"),
    9: (Fault("wrong_content_type"), "corrupt"),
    10: (Fault("corrupt"), "corrupt"),
    11: (Fault("empty"), "corrupt"),
    12: (Fault("oversize"), "too_large"),
    13: (Fault("bomb"), "too_large"),
    14: (Fault("huge_body"), "too_large"),
    15: (Fault("offsite_redirect"), "refused"),
    16: (Fault("portrait"), "ok"),
    17: (Fault("server_error", times=1), "ok"),
    18: (Fault("reset", times=1), "ok"),
}


def test_every_fault_ends_in_its_status_and_a_rerun_retries_only_failures(tmp_path):
    make_entities(tmp_path, 24)
    with FaultyImageServer() as server:
        for index, (fault, _) in FAULTS.items():
            server.set_fault(name(index), fault)
        server.set_size(name(19), 4000, 1000)  # a panorama: a wider thumbnail is asked for
        manifest = run_against(server, tmp_path)
        records = by_file(tmp_path)
        for index, (_, status) in FAULTS.items():
            assert records[name(index)]["status"] == status, (index, records[name(index)])
        assert uploads_of(server, 2) == 0  # the API said the file is gone: no download attempted
        assert uploads_of(server, 5) == 3 and uploads_of(server, 1) == 1  # 5xx retried, 404 not
        assert server.stats.max_active <= 3

        ok = [r for r in records.values() if r["status"] == "ok"]
        assert len(ok) == 24 - 14
        for record in ok:
            image = Image.open(tmp_path / record["path"])
            assert image.format == "JPEG" and image.mode == "RGB" and min(image.size) >= 336
            assert record["license"] == "CC BY-SA 4.0" and record["author"].startswith("Photographer ")
            assert record["url"].startswith(server.base_url + "/upload/") and record["placeholder"] is False
        # served as 375x500 pixels + EXIF orientation 6: stored upright, as the 500x375 picture it shows
        assert (records[name(16)]["width"], records[name(16)]["height"]) == (500, 375)
        assert server.stats.count("width=1280") == 1 and records[name(19)]["height"] == 336
        assert all(r["path"] is None and r["detail"] for r in records.values() if r["status"] != "ok")
        assert manifest["countries"]["FR"]["statuses"] == {
            "corrupt": 3, "missing": 2, "ok": 10, "rate_limited": 1, "refused": 1, "too_large": 3, "unavailable": 4,
        }
        assert "rate_limited" in summary_table(manifest)
        assert not list(tmp_path.rglob(".*.tmp")) and not list(tmp_path.rglob(".*.journal.jsonl"))

        server.clear_faults()
        before = {index: uploads_of(server, index) for index in range(24)}
        run_against(server, tmp_path)
        again = by_file(tmp_path)
        retried = {index for index in range(24) if uploads_of(server, index) > before[index]}
        assert retried == {4, 5, 6, 7, 8}  # rate_limited and unavailable only
        assert all(again[name(index)]["status"] == "ok" for index in retried)
        assert again[name(9)] == records[name(9)] and again[name(0)] == records[name(0)]


def test_a_long_retry_after_gives_up_without_hammering(tmp_path):
    make_entities(tmp_path, 6)
    with FaultyImageServer() as server:
        for index in range(6):
            server.set_fault(name(index), Fault("rate_limit", retry_after_s=3600))
        run_against(server, tmp_path, max_retry_after_s=60)
        records = by_file(tmp_path)
    assert {r["status"] for r in records.values()} == {"rate_limited"}
    assert server.stats.count("/upload/") <= 3  # the pause applies to the whole host at once


def test_retry_after_pauses_every_thread_and_connections_stay_at_three(tmp_path):
    make_entities(tmp_path, 30)
    with FaultyImageServer(delay_s=0.05) as server:
        server.set_fault(name(7), Fault("rate_limit", times=1, retry_after_s=0.5))
        run_against(server, tmp_path, workers=8)
        records = by_file(tmp_path)
    assert {r["status"] for r in records.values()} == {"ok"}
    assert server.stats.max_active == 3  # busy, and never more than 3
    limited_at = next(t for t, path in server.stats.requests if "px-Synthetic_item_7.jpg" in path)
    quiet = [t for t, _ in server.stats.requests if limited_at + 0.15 < t < limited_at + 0.5]
    assert quiet == []  # nobody asked while the Retry-After ran


def test_near_duplicates_and_same_file_twice_are_duplicates_in_rank_order(tmp_path):
    make_entities(tmp_path, 8)
    path = tmp_path / "entities" / "FR.jsonl"
    entities = [json.loads(line) for line in path.read_text().splitlines()]
    entities[5]["images"] = list(entities[2]["images"])  # two entities share one Commons file
    path.write_text("".join(json.dumps(e, sort_keys=True, ensure_ascii=False) + "\n" for e in entities))
    with FaultyImageServer() as server:
        twin = entities[1]["images"][0]
        server.set_fault(entities[3]["images"][0], Fault("twin", twin_of=twin))  # another upload, same picture
        run_against(server, tmp_path)
        shared = entities[2]["images"][0]
        assert server.stats.count("px-" + shared.replace(" ", "_")) == 1
    records = read_image_records(tmp_path, "FR")
    assert [r["qid"] for r in records] == [e["qid"] for e in entities]  # rank order
    assert records[5]["status"] == "duplicate" and records[5]["duplicate_of"] == f"{entities[2]['qid']}#0"
    assert records[3]["status"] == "duplicate" and records[3]["duplicate_of"] == f"{entities[1]['qid']}#0"
    assert records[1]["status"] == "ok" and records[3]["phash"]
    assert not (tmp_path / f"images/FR/{entities[3]['qid']}-0.jpg").exists()


def test_commons_needs_a_user_agent_and_allowed_hosts(tmp_path):
    make_entities(tmp_path, 2)
    settings = ImageSettings(origin="commons")
    with FaultyImageServer() as server:
        with pytest.raises(ValueError, match="descriptive user_agent"):
            make_source(settings, commons_for(server), "endpoint", None, tmp_path)
        other = CommonsSettings(server.file_path_url, server.api_url, ("upload.wikimedia.org",), allow_http=True)
        with pytest.raises(ValueError, match="not in allowed_hosts"):
            make_source(settings, other, "endpoint", TEST_AGENT, tmp_path)
        assert server.stats.requests == []


def test_stored_bytes_do_not_depend_on_the_download_order(tmp_path):
    make_entities(tmp_path / "a", 10)
    make_entities(tmp_path / "b", 10)
    with FaultyImageServer() as server:
        run_against(server, tmp_path / "a", workers=1)
        run_against(server, tmp_path / "b", workers=6)
    for code_file in ("images/FR.jsonl",):
        assert (tmp_path / "a" / code_file).read_bytes() == (tmp_path / "b" / code_file).read_bytes()
    first = sorted(p.name for p in (tmp_path / "a/images/FR").iterdir())
    assert first == sorted(p.name for p in (tmp_path / "b/images/FR").iterdir()) and len(first) == 10
    image = Image.open(io.BytesIO((tmp_path / "a/images/FR" / first[0]).read_bytes()))
    assert image.size == (500, 375)


def test_a_rerun_cleans_its_own_stale_images_and_never_a_users_file(tmp_path):
    """Issue 15 §4: before, every .jpg in images/FR/ that no record named was deleted, a user's photo too."""
    make_entities(tmp_path, 4)
    with FaultyImageServer() as server:
        run_against(server, tmp_path)
        folder = tmp_path / "images" / "FR"
        photo, stale = folder / "my holiday photo.jpg", folder / "Q999999-0.jpg"  # stale: an own name, no record
        photo.write_bytes(b"mine")
        stale.write_bytes(b"from an earlier selection")
        run_against(server, tmp_path)
    assert photo.read_bytes() == b"mine" and not stale.exists()
    assert sum(record["status"] == "ok" for record in by_file(tmp_path).values()) == 4
