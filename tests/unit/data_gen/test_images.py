"""Image checks and normalisation, near-duplicates, placeholders, URL policy, journal, width choice."""

from __future__ import annotations

import io
import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from data_gen.images.checks import ImageLimits, ImageRejected, Journal, image_record, near_duplicates, normalize_image
from data_gen.images.commons_client import (
    CommonsSettings,
    FetchFailure,
    ImageMeta,
    UrlPolicy,
    check_title,
    plain_text,
    thumb_width,
)
from data_gen.images.placeholders import PlaceholderSource, placeholder_jpeg
from tests.helpers.image_server import decompression_bomb_png, generated_jpeg, rotated_exif_jpeg

LIMITS = ImageLimits()


def _encode(image: Image.Image, fmt: str = "JPEG") -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def test_a_good_jpeg_is_stored_as_rgb_jpeg_with_hashes():
    stored = normalize_image(generated_jpeg("a.jpg", 500), LIMITS)
    image = Image.open(io.BytesIO(stored.data))
    assert image.format == "JPEG" and image.mode == "RGB" and image.size == (500, 375) == (stored.width, stored.height)
    assert len(stored.sha256) == 64 and len(stored.phash) == 16
    assert normalize_image(generated_jpeg("a.jpg", 500), LIMITS) == stored  # deterministic


def test_small_images_are_scaled_up_to_the_minimum_short_side():
    stored = normalize_image(generated_jpeg("small.jpg", 250), LIMITS)  # 250 x 187
    assert min(stored.width, stored.height) == 336 and stored.width == round(250 * 336 / 187)


def test_exif_orientation_is_applied_and_not_kept():
    stored = normalize_image(rotated_exif_jpeg("p.jpg", 400, 500), LIMITS)
    assert (stored.width, stored.height) == (400, 500)
    upright = normalize_image(generated_jpeg("p.jpg", 400, 500), LIMITS).phash
    assert near_duplicates([upright, stored.phash], max_distance=4) == [None, 0]  # same picture, upright
    assert not Image.open(io.BytesIO(stored.data)).getexif()


def test_transparency_is_flattened_on_white():
    image = Image.new("RGBA", (400, 400), (255, 0, 0, 0))
    stored = normalize_image(_encode(image, "PNG"), LIMITS)
    assert Image.open(io.BytesIO(stored.data)).getpixel((200, 200)) >= (250, 250, 250)


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (b"", "corrupt"),
        (b"<html>login</html>", "corrupt"),
        (generated_jpeg("t.jpg", 500)[:-400], "corrupt"),  # truncated JPEG
        (b"\xff\xd8\xff\xe0" + b"\x00garbage" * 64, "corrupt"),
        (_encode(Image.new("RGB", (400, 400)), "BMP"), "corrupt"),  # a format Commons thumbnails never use
        (decompression_bomb_png(), "too_large"),
        (generated_jpeg("wide.jpg", 20_500, 16), "too_large"),
        (generated_jpeg("strip.jpg", 2100, 300), "refused"),  # aspect 7 > 6
    ],
)
def test_bad_bytes_get_the_right_status(data, status):
    with pytest.raises(ImageRejected) as caught:
        normalize_image(data, LIMITS)
    assert caught.value.status == status


def test_byte_and_pixel_caps_are_settings():
    data = generated_jpeg("x.jpg", 500)
    with pytest.raises(ImageRejected, match="max_bytes"):
        normalize_image(data, ImageLimits(max_bytes=len(data) - 1))
    with pytest.raises(ImageRejected, match="max_pixels"):
        normalize_image(data, ImageLimits(max_pixels=500 * 375 - 1))


def test_near_duplicates_point_to_the_first_kept_copy():
    base = normalize_image(generated_jpeg("a.jpg", 500), LIMITS).phash
    recompressed = Image.open(io.BytesIO(generated_jpeg("a.jpg", 500))).resize((480, 360))
    near = normalize_image(_encode(recompressed), LIMITS).phash
    other = normalize_image(generated_jpeg("b.jpg", 500), LIMITS).phash
    assert near_duplicates([base, None, other, near, base], max_distance=4) == [None, None, None, 0, 0]
    assert near_duplicates([base, near], max_distance=0) in ([None, None], [None, 0])


def test_placeholders_are_deterministic_large_enough_and_mutually_distinct(tmp_path):
    names = [f"Placeholder test {index}.jpg" for index in range(200)]
    assert placeholder_jpeg(names[0]) == placeholder_jpeg(names[0])
    stored = [normalize_image(placeholder_jpeg(name), LIMITS) for name in names]
    assert all(min(s.width, s.height) >= 336 for s in stored)
    assert near_duplicates([s.phash for s in stored], max_distance=4) == [None] * len(names)
    source = PlaceholderSource(tmp_path / "ph")
    metas = source.metadata([names[0], "bad/name.jpg"])
    assert isinstance(metas[names[0]], ImageMeta) and metas[names[0]].license == "CC0 1.0"
    assert isinstance(metas["bad/name.jpg"], FetchFailure) and metas["bad/name.jpg"].status == "refused"
    assert source.fetch(names[0], metas[names[0]]) == placeholder_jpeg(names[0]) and source.generated == 1
    hand_filled = PlaceholderSource(tmp_path / "empty", generate=False)
    assert hand_filled.metadata(["x.jpg"])["x.jpg"].status == "missing"


def test_a_picture_half_written_by_a_killed_run_is_removed_when_the_folder_next_generates(tmp_path):
    """The soak test of `stage=all` found one: a kill while a placeholder was written left its temp file."""
    folder = tmp_path / "ph"
    folder.mkdir()
    killed = subprocess.run([sys.executable, "-c", (
        "import os, signal, sys; from shard_contract.atomic import atomic_open\n"
        f"with atomic_open(__import__('pathlib').Path({str(folder / 'Half.jpg')!r})) as handle:\n"
        "    handle.write(b'half a picture'); handle.flush(); os.kill(os.getpid(), signal.SIGKILL)")],
        cwd=Path(__file__).resolve().parents[3], check=False)  # fmt: skip
    assert killed.returncode == -signal.SIGKILL
    leftovers = list(folder.glob(".Half.jpg.*.tmp"))
    assert len(leftovers) == 1
    PlaceholderSource(folder, generate=False)  # reading a folder (maybe the user's own) removes nothing
    assert leftovers[0].exists()
    source = PlaceholderSource(folder)
    assert not leftovers[0].exists()
    assert source.fetch("Half.jpg", source.metadata(["Half.jpg"])["Half.jpg"]) == placeholder_jpeg("Half.jpg")


def test_url_policy_allows_only_https_to_configured_hosts():
    policy = UrlPolicy(CommonsSettings())
    assert policy.check("https://upload.wikimedia.org/x.jpg")
    for url in ("http://upload.wikimedia.org/x.jpg", "https://evil.example/x.jpg", "file:///etc/passwd",
                "https://upload.wikimedia.org.evil.example/x", "ftp://commons.wikimedia.org/x"):
        with pytest.raises(FetchFailure) as caught:
            policy.check(url)
        assert caught.value.status == "refused"
    loopback = UrlPolicy(CommonsSettings(allowed_hosts=("127.0.0.1",), allow_http=True))
    assert loopback.check("http://127.0.0.1:8000/x")
    with pytest.raises(FetchFailure):
        loopback.check("http://localhost:8000/x")


def test_thumbnail_width_is_standard_and_wide_enough_for_the_short_side():
    assert thumb_width(ImageMeta(None, None, None, None, 1600, 1200), 500, 1280, 336) == 500  # 500x375
    assert thumb_width(ImageMeta(None, None, None, None, 3000, 1000), 500, 1280, 336) == 1280  # needs 1008
    assert thumb_width(ImageMeta(None, None, None, None, 1800, 1000), 500, 1280, 336) == 960  # needs 605
    assert thumb_width(ImageMeta(None, None, None, None, 1000, 3000), 500, 1280, 336) == 500  # portrait
    assert thumb_width(ImageMeta(None, None, None, None, 0, 0), 500, 1280, 336) == 500  # size unknown


def test_titles_and_commons_html_fields():
    assert check_title("Tour Eiffel (1889).jpg")
    for bad in ("", "a|b.jpg", "../x.jpg", "a/b.jpg", "x" * 300, ".hidden.jpg", "File:x.jpg"):
        with pytest.raises(FetchFailure):
            check_title(bad)
    assert plain_text("<a href='//x'>Jane <b>Doe</b></a> &amp; co\n") == "Jane Doe & co"
    assert plain_text(None) is None and plain_text("  ") is None


def test_journal_drops_a_torn_tail_and_keeps_appending(tmp_path):
    journal = Journal(tmp_path / ".FR.journal.jsonl")
    journal.start([image_record("Q1", "FR", 0, "a.jpg", "missing")])
    journal.append(image_record("Q2", "FR", 0, "b.jpg", "ok", path="images/FR/Q2-0.jpg"))
    with open(journal.path, "ab") as handle:
        handle.write(b'{"qid": "Q3", "sta')  # the crash
    assert [r["qid"] for r in journal.load()] == ["Q1", "Q2"]
    journal.append(image_record("Q3", "FR", 0, "c.jpg", "corrupt", detail="x"))
    lines = journal.path.read_text().splitlines()
    assert [json.loads(line)["qid"] for line in lines] == ["Q1", "Q2", "Q3"]
    with pytest.raises(ValueError, match="unknown image status"):
        image_record("Q1", "FR", 0, "a.jpg", "fine")


def test_a_host_pause_beyond_the_allowed_wait_fails_instead_of_sleeping():
    from data_gen.images.commons_client import HostGate

    slept: list[float] = []
    gate = HostGate(3, slept.append)
    gate.defer(3600)
    with pytest.raises(FetchFailure) as caught, gate.slot(max_pause=120):
        pass
    assert caught.value.status == "rate_limited" and slept == []


def _nearest_kept_by_full_scan(hashes, max_distance):
    """The reference: compare each hash with every kept hash (the stage's former ∝ n² loop)."""
    kept, result = [], []
    for position, value in enumerate(hashes):
        if value is None:
            result.append(None)
            continue
        number = int(value, 16)
        distances = [(bin(k ^ number).count("1"), i) for i, (k, _) in enumerate(kept)]
        best = min(distances, default=None)
        if best is not None and best[0] <= max_distance:
            result.append(kept[best[1]][1])
        else:
            kept.append((number, position))
            result.append(None)
    return result


@pytest.mark.parametrize("max_distance", [0, 1, 4, 10, 63, 64, 70])
def test_banded_near_duplicate_search_equals_the_full_scan(max_distance):
    """Issue 17 scale run: the full scan cost ∝ n² per country (20,000 images: 9 s); the banded
    (multi-index) search must give the same answer, ties included (nearest, then earliest kept)."""
    import random

    rng = random.Random(max_distance)
    centres = [rng.getrandbits(64) for _ in range(40)]
    hashes = []
    for _ in range(1500):
        if rng.random() < 0.05:
            hashes.append(None)
            continue
        value = rng.choice(centres)
        for bit in rng.sample(range(64), rng.randint(0, 8)):  # near copies of a few pictures
            value ^= 1 << bit
        hashes.append(f"{value:016x}")
    expected = _nearest_kept_by_full_scan(hashes, max_distance)
    assert near_duplicates(hashes, max_distance) == expected
    assert any(found is not None for found in expected) and any(found is None for found in expected)


def test_the_manifest_counts_country_files_not_the_journal_of_a_run_still_going_or_killed(tmp_path):
    # `Path.glob("*.jsonl")` also matches `.JP.journal.jsonl`: a run for FR while JP's run was going
    # (an array task) or after it was killed listed a country ".JP.journal" with JP's partial counts.
    from data_gen.images.stage import ImageSettings, write_manifest

    folder = tmp_path / "images"
    folder.mkdir()
    done = image_record("Q1", "FR", 0, "A.jpg", "ok", path="images/FR/Q1-0.jpg")
    (folder / "FR.jsonl").write_text(json.dumps(done) + "\n")
    (folder / ".JP.journal.jsonl").write_text(json.dumps(image_record("Q2", "JP", 0, "B.jpg", "ok")) + "\n")
    manifest = write_manifest(tmp_path, {}, ImageSettings(), None)
    assert list(manifest["countries"]) == ["FR"] and manifest["totals"] == {"ok": 1}
