"""A loopback stand-in for Wikimedia Commons that serves generated images and injects faults.

It answers the requests the image stage makes, shaped like Commons:
- `GET /wiki/Special:FilePath/<file>?width=W` → `302` to `/upload/thumb/<h>/<hh>/<file>/<W>px-<file>`
  (only Commons' standard thumbnail widths; any other width gets 429, as on Commons);
- `GET /upload/thumb/…` → a JPEG generated deterministically from the file name, W wide, with the
  aspect of the file's "original" size (1600 x 1200 unless `set_size` says otherwise);
- `GET /w/api.php?action=query&prop=imageinfo&iiprop=url|extmetadata|size|mime&titles=File:A|File:B`
  → `imageinfo` + `extmetadata` (author, licence) per title, `missing` for deleted files, and the
  `normalized` list when a title is given with underscores.

Faults are set per file name (`set_fault`) and may expire after a number of hits, so a test can
say "two 429s with Retry-After: 1, then succeed"; they act on the upload request (the redirect
itself stays clean), except `deleted` (the API and the download both say the file is gone) and
`offsite_redirect` (FilePath redirects to a host the client must not follow). `delay_s` adds a
latency to every answer. The server records every request, the peak number it served at the same
time and the time-weighted mean of that number (`mean_busy`), so politeness can be measured.
"""

from __future__ import annotations

import hashlib
import io
import json
import random
import select
import socket
import struct
import threading
import time
import zlib
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, unquote, urlparse

from PIL import Image

from tests.helpers.ports import free_loopback_port

STANDARD_WIDTHS = (120, 250, 330, 500, 960, 1280, 1920)
FAULT_KINDS = (
    "not_found",  # 404
    "rate_limit",  # 429 with Retry-After
    "server_error",  # 500
    "slow",  # sleep before answering
    "truncate",  # Content-Length says more than is sent
    "wrong_content_type",  # text/html body
    "corrupt",  # image/jpeg header on bytes that are not a JPEG
    "empty",  # zero-byte body
    "oversize",  # a real JPEG wider than 20k px
    "bomb",  # a PNG whose header claims 50k x 50k pixels
    "reset",  # close the connection without an answer
    "huge_body",  # Content-Length of 2 GB (a client must refuse before reading)
    "deleted",  # the API reports the file missing; its download is 404
    "offsite_redirect",  # Special:FilePath redirects to another host (localhost instead of 127.0.0.1)
    "portrait",  # a real JPEG, but EXIF orientation 6 (stored rotated by 90°)
    "twin",  # the same picture as the file named in `twin_of` (a near-duplicate upload)
)
UPLOAD_PREFIX = "/upload/thumb/"


@dataclass
class Fault:
    """One injected fault; `times` hits of it, then normal answers (None: forever)."""

    kind: str
    times: int | None = None
    retry_after_s: float = 1.0
    delay_s: float = 2.0
    twin_of: str = ""

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {self.kind!r}; known: {', '.join(FAULT_KINDS)}")


@dataclass
class ServerStats:
    """What the server saw: requests in order, peak and time-weighted concurrency."""

    requests: list[tuple[float, str]] = field(default_factory=list)
    active: int = 0
    max_active: int = 0
    busy_integral: float = 0.0  # ∫ active dt
    first_at: float | None = None
    last_change: float = 0.0

    @property
    def mean_busy(self) -> float:
        """Mean number of requests in service between the first request and the last answer."""
        if self.first_at is None or self.last_change <= self.first_at:
            return 0.0
        return self.busy_integral / (self.last_change - self.first_at)

    def count(self, path_part: str) -> int:
        return sum(1 for _, path in self.requests if path_part in path)


def generated_jpeg(name: str, width: int, height: int | None = None) -> bytes:
    """A deterministic JPEG for `name`: a seeded grid of coloured blocks (distinct pHash per name), 3:4."""
    height = height or max(1, width * 3 // 4)
    rng = random.Random(hashlib.sha256(name.encode()).digest())
    grid = Image.new("RGB", (6, 5))
    grid.putdata([tuple(rng.randrange(256) for _ in range(3)) for _ in range(30)])
    image = grid.resize((width, height), Image.Resampling.NEAREST)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


def rotated_exif_jpeg(name: str, width: int, height: int) -> bytes:
    """The picture of `name` stored rotated (as a camera writes a portrait), EXIF orientation 6."""
    upright = Image.open(io.BytesIO(generated_jpeg(name, width, height)))
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # orientation 6 means: rotate 270° to show
    exif = Image.Exif()
    exif[0x0112] = 6
    buffer = io.BytesIO()
    stored.save(buffer, format="JPEG", quality=85, exif=exif.tobytes())
    return buffer.getvalue()


def decompression_bomb_png(side: int = 50_000) -> bytes:
    """A tiny PNG whose header claims `side` x `side` pixels (PIL refuses it on open)."""

    def chunk(tag: bytes, payload: bytes) -> bytes:
        body = tag + payload
        return struct.pack(">I", len(payload)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    pixels = chunk(b"IDAT", zlib.compress(b"\x00" * 64))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + pixels + chunk(b"IEND", b"")


def upload_path(file_name: str, width: int) -> str:
    """Commons' thumbnail layout: /thumb/<md5[0]>/<md5[:2]>/<name>/<W>px-<name>."""
    name = file_name.replace(" ", "_")
    digest = hashlib.md5(name.encode()).hexdigest()  # the layout, not security
    return f"{UPLOAD_PREFIX}{digest[0]}/{digest[:2]}/{quote(name)}/{width}px-{quote(name)}"


def imageinfo_page(file_name: str, base_url: str = "", size: tuple[int, int] = (1600, 1200)) -> dict:
    """The Commons API page of one existing file: URL, size, mime, author and licence."""
    digest = hashlib.sha256(file_name.encode()).hexdigest()
    name = file_name.replace(" ", "_")
    return {
        "pageid": int(digest[:6], 16),
        "ns": 6,
        "title": f"File:{file_name}",
        "imagerepository": "local",
        "imageinfo": [
            {
                "url": f"{base_url}/upload/{digest[0]}/{digest[:2]}/{quote(name)}",
                "descriptionurl": f"{base_url}/wiki/File:{quote(name)}",
                "width": size[0],
                "height": size[1],
                "size": 1000 + int(digest[6:10], 16),
                "mime": "image/jpeg",
                "extmetadata": {
                    "Artist": {"value": f"<a href='//example.invalid/u'>Photographer {digest[:6]}</a> &amp; co"},
                    "LicenseShortName": {"value": "CC BY-SA 4.0"},
                    "LicenseUrl": {"value": "https://creativecommons.org/licenses/by-sa/4.0"},
                },
            }
        ],
    }


def imageinfo_json(file_name: str) -> dict:
    """The Commons API answer for one file (see `imageinfo_page`)."""
    page = imageinfo_page(file_name)
    return {"batchcomplete": "", "query": {"pages": {str(page["pageid"]): page}}}


class FaultyImageServer:
    """Threaded HTTP server on 127.0.0.1; use as a context manager."""

    def __init__(self, delay_s: float = 0.0) -> None:
        self.port = free_loopback_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.api_url = f"{self.base_url}/w/api.php"
        self.file_path_url = f"{self.base_url}/wiki/Special:FilePath/"
        self.delay_s = delay_s
        self.stats = ServerStats()
        self._faults: dict[str, Fault] = {}
        self._sizes: dict[str, tuple[int, int]] = {}
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def file_url(self, file_name: str, width: int = 500) -> str:
        return f"{self.file_path_url}{quote(file_name)}?width={width}"

    def set_fault(self, file_name: str, fault: Fault) -> None:
        with self._lock:
            self._faults[file_name] = fault

    def set_size(self, file_name: str, width: int, height: int) -> None:
        """The "original" size of a file: the API reports it and thumbnails keep its aspect."""
        self._sizes[file_name] = (width, height)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def __enter__(self) -> FaultyImageServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def size_of(self, file_name: str) -> tuple[int, int]:
        return self._sizes.get(file_name, (1600, 1200))

    def _peek_fault(self, file_name: str) -> Fault | None:
        with self._lock:
            return self._faults.get(file_name)

    def _take_fault(self, file_name: str) -> Fault | None:
        with self._lock:
            fault = self._faults.get(file_name)
            if fault is None:
                return None
            if fault.times is not None:
                fault.times -= 1
                if fault.times <= 0:
                    del self._faults[file_name]
            return fault

    def _change(self, step: int, path: str | None = None) -> None:
        with self._lock:
            now = time.monotonic()
            stats = self.stats
            if stats.first_at is None:
                stats.first_at = now
            else:
                stats.busy_integral += stats.active * (now - stats.last_change)
            stats.last_change = now
            stats.active += step
            stats.max_active = max(stats.max_active, stats.active)
            if path is not None:
                stats.requests.append((now, path))

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(_CommonsHandler):
            owner = server

        return Handler


class _CommonsHandler(BaseHTTPRequestHandler):
    owner: FaultyImageServer
    protocol_version = "HTTP/1.1"
    _in_service = False

    def log_message(self, format: str, *args: object) -> None:
        return

    def do_GET(self) -> None:
        self.owner._change(+1, self.path)
        self._in_service = True
        try:
            if self.owner.delay_s:
                time.sleep(self.owner.delay_s)
            self._route()
        except (BrokenPipeError, ConnectionResetError):
            pass
        finally:
            self._release()

    def _release(self) -> None:
        """The request leaves service just before its last bytes go out: a client cannot have the full
        answer (and start its next request) while it is still counted, so the peak is not inflated."""
        if self._in_service:
            self._in_service = False
            self.owner._change(-1)

    def _route(self) -> None:
        url = urlparse(self.path)
        query = parse_qs(url.query)
        if url.path == "/w/api.php":
            self._api(query)
        elif url.path.startswith("/wiki/Special:FilePath/"):
            self._file_path(unquote(url.path[len("/wiki/Special:FilePath/") :]).replace("_", " "), query)
        elif url.path.startswith(UPLOAD_PREFIX):
            parts = url.path[len(UPLOAD_PREFIX) :].split("/")
            width = int(parts[-1].split("px-")[0])
            self._upload(unquote(parts[2]).replace("_", " "), width)
        else:
            self._send(404, b"not found", "text/plain")

    def _api(self, query: dict[str, list[str]]) -> None:
        if query.get("action") != ["query"] or query.get("prop") != ["imageinfo"]:
            self._send(400, b'{"error": {"code": "badparams"}}', "application/json")
            return
        pages: dict[str, dict] = {}
        normalized = []
        for index, title in enumerate(query.get("titles", [""])[0].split("|")):
            name = title.removeprefix("File:")
            if "_" in name:
                normalized.append({"from": title, "to": f"File:{name.replace('_', ' ')}"})
                name = name.replace("_", " ")
            fault = self.owner._peek_fault(name)
            if fault is not None and fault.kind == "deleted":
                pages[str(-1 - index)] = {"ns": 6, "title": f"File:{name}", "missing": "", "known": ""}
            else:
                page = imageinfo_page(name, self.owner.base_url, self.owner.size_of(name))
                pages[str(page["pageid"])] = page
        body: dict = {"batchcomplete": "", "query": {"pages": pages}}
        if normalized:
            body["query"]["normalized"] = normalized
        self._send(200, json.dumps(body).encode(), "application/json; charset=utf-8")

    def _file_path(self, file_name: str, query: dict[str, list[str]]) -> None:
        width = int(query.get("width", ["500"])[0])
        if width not in STANDARD_WIDTHS:
            self._send(429, b"non-standard thumbnail width", "text/plain", {"Retry-After": "1"})
            return
        fault = self.owner._peek_fault(file_name)
        base = self.owner.base_url
        if fault is not None and fault.kind == "offsite_redirect":
            base = f"http://localhost:{self.owner.port}"
        self._send(302, b"", "text/html", {"Location": base + upload_path(file_name, width)})

    def _upload(self, file_name: str, width: int) -> None:
        original = self.owner.size_of(file_name)
        height = max(1, round(width * original[1] / original[0]))
        fault = self.owner._take_fault(file_name)
        if fault is None or fault.kind == "offsite_redirect":
            self._send(200, generated_jpeg(file_name, width, height), "image/jpeg")
        else:
            self._answer_with_fault(fault, file_name, width, height)

    def _answer_with_fault(self, fault: Fault, file_name: str, width: int, height: int) -> None:
        kind = fault.kind
        if kind == "slow":
            if self._wait_unless_client_left(fault.delay_s):
                self._send(200, generated_jpeg(file_name, width, height), "image/jpeg")
        elif kind == "reset":
            self.close_connection = True
            self._release()
            self.connection.shutdown(2)
        elif kind in ("truncate", "huge_body"):
            body = generated_jpeg(file_name, width, height)
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(len(body) if kind == "truncate" else 2_000_000_000))
            self.end_headers()
            self._release()
            self.wfile.write(body[: len(body) // 2])
            self.close_connection = True
        elif kind == "portrait":
            self._send(200, rotated_exif_jpeg(file_name, width, height), "image/jpeg")
        elif kind == "twin":
            self._send(200, generated_jpeg(fault.twin_of, width, height), "image/jpeg")
        else:
            status, body, content_type, headers = _static_fault_answer(fault, file_name)
            self._send(status, body, content_type, headers)

    def _wait_unless_client_left(self, seconds: float) -> bool:
        """Sleep `seconds`, but stop early (False) when the client closes the connection (its timeout)."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            readable, _, _ = select.select([self.connection], [], [], min(0.02, left))
            if readable and not self.connection.recv(1, socket.MSG_PEEK):
                self.close_connection = True
                return False
        return True

    def _send(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self._release()
        self.end_headers()
        self.wfile.write(body)


def _static_fault_answer(fault: Fault, file_name: str) -> tuple[int, bytes, str, dict[str, str]]:
    answers: dict[str, tuple[int, bytes, str, dict[str, str]]] = {
        "not_found": (404, b"No file by this name exists.", "text/html", {}),
        "deleted": (404, b"No file by this name exists.", "text/html", {}),
        "rate_limit": (429, b"Too many requests", "text/plain", {"Retry-After": f"{fault.retry_after_s:g}"}),
        "server_error": (500, b"Internal error", "text/plain", {}),
        "wrong_content_type": (200, b"<html><body>login wall</body></html>", "text/html", {}),
        "corrupt": (200, b"\xff\xd8\xff\xe0" + b"\x00garbage" * 64, "image/jpeg", {}),
        "empty": (200, b"", "image/jpeg", {}),
        "bomb": (200, decompression_bomb_png(), "image/png", {}),
    }
    if fault.kind == "oversize":
        return 200, generated_jpeg(file_name, 20_500, 16), "image/jpeg", {}
    return answers[fault.kind]
