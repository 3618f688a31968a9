"""The fault-injecting image server itself: each fault is observable by a plain HTTP client."""

from __future__ import annotations

import http.client
import io
import json
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from PIL import Image

from tests.helpers.image_server import Fault


def _get(url: str, timeout: float = 10.0) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_serves_deterministic_jpeg_at_standard_width(image_server):
    status, headers, body = _get(image_server.file_url("Taj Mahal.jpg", 500))
    assert status == 200 and headers["Content-Type"] == "image/jpeg"
    assert Image.open(io.BytesIO(body)).size == (500, 375)
    assert _get(image_server.file_url("Taj Mahal.jpg", 500))[2] == body


def test_non_standard_width_is_rate_limited_like_commons(image_server):
    status, headers, _ = _get(image_server.file_url("x.jpg", 400))
    assert status == 429 and headers["Retry-After"] == "1"


def test_fault_expires_after_its_hits(image_server):
    image_server.set_fault("a.jpg", Fault("rate_limit", times=2, retry_after_s=3))
    assert [_get(image_server.file_url("a.jpg"))[0] for _ in range(3)] == [429, 429, 200]


@pytest.mark.parametrize(
    ("kind", "status", "content_type"),
    [("not_found", 404, "text/html"), ("server_error", 500, "text/plain"), ("wrong_content_type", 200, "text/html")],
)
def test_status_faults(image_server, kind, status, content_type):
    image_server.set_fault("f.jpg", Fault(kind))
    got_status, headers, _ = _get(image_server.file_url("f.jpg"))
    assert got_status == status and headers["Content-Type"] == content_type


def test_corrupt_empty_bomb_and_oversize_bodies(image_server):
    for kind in ("corrupt", "empty"):
        image_server.set_fault(f"{kind}.jpg", Fault(kind))
        body = _get(image_server.file_url(f"{kind}.jpg"))[2]
        with pytest.raises(Exception):  # noqa: B017 - any decoder error is the point
            Image.open(io.BytesIO(body)).load()
    image_server.set_fault("bomb.png", Fault("bomb"))
    with pytest.raises(Image.DecompressionBombError):
        Image.open(io.BytesIO(_get(image_server.file_url("bomb.png"))[2]))
    image_server.set_fault("wide.jpg", Fault("oversize"))
    assert Image.open(io.BytesIO(_get(image_server.file_url("wide.jpg"))[2])).width > 20_000


def test_truncated_body_and_reset_are_client_errors(image_server):
    image_server.set_fault("t.jpg", Fault("truncate"))
    with pytest.raises(http.client.IncompleteRead):
        _get(image_server.file_url("t.jpg"))
    image_server.set_fault("r.jpg", Fault("reset"))
    with pytest.raises((ConnectionError, http.client.RemoteDisconnected, urllib.error.URLError)):
        _get(image_server.file_url("r.jpg"))


def test_slow_fault_and_peak_concurrency_are_measured(image_server):
    for index in range(4):
        image_server.set_fault(f"s{index}.jpg", Fault("slow", delay_s=0.5))
    start = time.monotonic()
    with ThreadPoolExecutor(4) as pool:
        statuses = list(pool.map(lambda i: _get(image_server.file_url(f"s{i}.jpg"))[0], range(4)))
    assert statuses == [200] * 4
    assert time.monotonic() - start >= 0.5
    assert image_server.stats.max_active == 4


def test_commons_api_gives_author_and_licence(image_server):
    body = _get(f"{image_server.base_url}/w/api.php?action=query&prop=imageinfo&titles=File:Taj%20Mahal.jpg")[2]
    page = next(iter(json.loads(body)["query"]["pages"].values()))
    meta = page["imageinfo"][0]["extmetadata"]
    assert page["title"] == "File:Taj Mahal.jpg"
    assert meta["LicenseShortName"]["value"] == "CC BY-SA 4.0" and "Photographer" in meta["Artist"]["value"]
