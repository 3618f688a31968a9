"""A loopback stand-in for Wikimedia Commons that serves generated images and injects faults.

It answers the two kinds of request the image stage makes:
- `GET /wiki/Special:FilePath/<file>?width=W` → a JPEG generated deterministically from the file
  name (only Commons' standard thumbnail widths are served; any other width gets 429, as on Commons);
- `GET /w/api.php?action=query&prop=imageinfo&titles=File:<file>…` → `imageinfo`/`extmetadata`
  JSON with an author and a licence.

Faults are set per file name (`set_fault`) and may expire after a number of hits, so a test can
say "two 429s with Retry-After: 1, then succeed". The server records every request and the
highest number of requests it was serving at the same time, so politeness can be measured.
"""

from __future__ import annotations

import hashlib
import io
import json
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
)


@dataclass
class Fault:
    """One injected fault; `times` hits of it, then normal answers (None: forever)."""

    kind: str
    times: int | None = None
    retry_after_s: float = 1.0
    delay_s: float = 2.0

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {self.kind!r}; known: {', '.join(FAULT_KINDS)}")


@dataclass
class ServerStats:
    """What the server saw: requests in order and the peak concurrency."""

    requests: list[tuple[float, str]] = field(default_factory=list)
    active: int = 0
    max_active: int = 0


def generated_jpeg(name: str, width: int, height: int | None = None) -> bytes:
    """A deterministic JPEG for `name`: colours derived from the name's hash, 3:4 by default."""
    digest = hashlib.sha256(name.encode()).digest()
    height = height or max(1, width * 3 // 4)
    image = Image.new("RGB", (width, height), tuple(digest[:3]))
    stripe = Image.new("RGB", (max(1, width // 3), height), tuple(digest[3:6]))
    image.paste(stripe, (digest[6] % max(1, width - stripe.width + 1), 0))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


def decompression_bomb_png(side: int = 50_000) -> bytes:
    """A tiny PNG whose header claims `side` x `side` pixels (PIL refuses it on open)."""

    def chunk(tag: bytes, payload: bytes) -> bytes:
        body = tag + payload
        return struct.pack(">I", len(payload)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    pixels = chunk(b"IDAT", zlib.compress(b"\x00" * 64))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + pixels + chunk(b"IEND", b"")


def imageinfo_json(file_name: str) -> dict:
    """The Commons API answer for one file: URL, size, mime, author and licence."""
    digest = hashlib.sha256(file_name.encode()).hexdigest()
    return {
        "batchcomplete": "",
        "query": {
            "pages": {
                str(int(digest[:6], 16)): {
                    "ns": 6,
                    "title": f"File:{file_name}",
                    "imageinfo": [
                        {
                            "url": f"/wiki/Special:FilePath/{file_name}",
                            "width": 1600,
                            "height": 1200,
                            "mime": "image/jpeg",
                            "extmetadata": {
                                "Artist": {"value": f"<a href='//example.invalid/u'>Photographer {digest[:6]}</a>"},
                                "LicenseShortName": {"value": "CC BY-SA 4.0"},
                                "LicenseUrl": {"value": "https://creativecommons.org/licenses/by-sa/4.0"},
                            },
                        }
                    ],
                }
            }
        },
    }


class FaultyImageServer:
    """Threaded HTTP server on 127.0.0.1; use as a context manager."""

    def __init__(self) -> None:
        self.port = free_loopback_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.stats = ServerStats()
        self._faults: dict[str, Fault] = {}
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def file_url(self, file_name: str, width: int = 500) -> str:
        return f"{self.base_url}/wiki/Special:FilePath/{quote(file_name)}?width={width}"

    def set_fault(self, file_name: str, fault: Fault) -> None:
        with self._lock:
            self._faults[file_name] = fault

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def __enter__(self) -> FaultyImageServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

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

    def _enter_request(self, path: str) -> None:
        with self._lock:
            self.stats.requests.append((time.monotonic(), path))
            self.stats.active += 1
            self.stats.max_active = max(self.stats.max_active, self.stats.active)

    def _leave_request(self) -> None:
        with self._lock:
            self.stats.active -= 1

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(_CommonsHandler):
            owner = server

        return Handler


class _CommonsHandler(BaseHTTPRequestHandler):
    owner: FaultyImageServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        return

    def do_GET(self) -> None:
        self.owner._enter_request(self.path)
        try:
            self._route()
        except (BrokenPipeError, ConnectionResetError):
            pass
        finally:
            self.owner._leave_request()

    def _route(self) -> None:
        url = urlparse(self.path)
        query = parse_qs(url.query)
        if url.path == "/w/api.php":
            title = query.get("titles", [""])[0]
            self._send(200, json.dumps(imageinfo_json(title.removeprefix("File:"))).encode(), "application/json")
            return
        prefix = "/wiki/Special:FilePath/"
        if not url.path.startswith(prefix):
            self._send(404, b"not found", "text/plain")
            return
        file_name = unquote(url.path[len(prefix) :])
        width = int(query.get("width", ["500"])[0])
        if width not in STANDARD_WIDTHS:
            self._send(429, b"non-standard thumbnail width", "text/plain", {"Retry-After": "1"})
            return
        fault = self.owner._take_fault(file_name)
        if fault is None:
            self._send(200, generated_jpeg(file_name, width), "image/jpeg")
        else:
            self._answer_with_fault(fault, file_name, width)

    def _answer_with_fault(self, fault: Fault, file_name: str, width: int) -> None:
        kind = fault.kind
        if kind == "slow":
            time.sleep(fault.delay_s)
            self._send(200, generated_jpeg(file_name, width), "image/jpeg")
        elif kind == "reset":
            self.close_connection = True
            self.connection.shutdown(2)
        elif kind == "truncate":
            body = generated_jpeg(file_name, width)
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.close_connection = True
        else:
            status, body, content_type, headers = _static_fault_answer(fault, file_name)
            self._send(status, body, content_type, headers)

    def _send(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)


def _static_fault_answer(fault: Fault, file_name: str) -> tuple[int, bytes, str, dict[str, str]]:
    answers: dict[str, tuple[int, bytes, str, dict[str, str]]] = {
        "not_found": (404, b"No file by this name exists.", "text/html", {}),
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
