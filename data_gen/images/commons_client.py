"""Wikimedia Commons for the images stage: a polite HTTP client, the metadata API and thumbnail URLs.

`PoliteHttp` is the only code that talks to the network for images. Its rules follow Wikimedia's
robot policy and DESIGN.md §2:
- a descriptive User-Agent is required (the same check as the SPARQL client);
- at most `concurrency_per_host` requests in flight per host (a semaphore per host name), so the
  stage never exceeds 3 connections to Commons however many worker threads it runs;
- a 429's Retry-After pauses the *whole host* (every thread waits), a wait above
  `max_retry_after_s` gives up on the file as `rate_limited` instead of stalling the run; other
  transient failures (5xx, timeouts, resets, bodies shorter than their Content-Length) get bounded
  exponential backoff with jitter;
- only https to `allowed_hosts`, checked for the first URL and for every redirect hop (loopback
  http exists only behind the explicit `allow_http` test setting); at most 5 hops;
- a body larger than `max_bytes` is refused from its Content-Length, or cut off while reading.
Failures end as a `FetchFailure(status, detail)` with the stage's per-file status vocabulary.

`CommonsSource` asks the Commons API for author, licence, original size and MIME type of up to
`api_batch_size` files per request (`prop=imageinfo`, `iiprop=url|extmetadata|size|mime`), then
downloads each file as a thumbnail through `Special:FilePath/<file>?width=W`. W is a standard
thumbnail width (others are answered with 429 by Commons): the configured width, or a larger
standard one when the image is so wide that its short side would fall under `min_short_side`.
"""

from __future__ import annotations

import html
import http.client
import json
import random
import re
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import quote, urlencode, urljoin, urlparse

from data_gen.common.errors import SettingsError
from data_gen.common.retry import (
    RetriesExhausted,
    RetryAfterTooLong,
    RetrySettingsMixin,
    Transient,
    call_with_retries,
    parse_retry_after,
)
from data_gen.common.user_agent import check_user_agent

STANDARD_WIDTHS = (120, 250, 330, 500, 960, 1280, 1920)
MAX_REDIRECTS = 5
# MediaWiki forbids these in titles (and `:/\` in file names); a name with them is not a Commons file.
ILLEGAL_TITLE = re.compile(r"[#<>\[\]|{}/\\:\x00-\x1f\x7f]")


class FetchFailure(Exception):
    """A file that could not be had; `status` is the stage's per-file status, `detail` says why."""

    def __init__(self, status: str, detail: str) -> None:
        super().__init__(f"{status}: {detail}")
        self.status = status
        self.detail = detail


@dataclass(frozen=True)
class CommonsSettings:
    """The `images.commons` block: where Commons is and which hosts downloads may touch."""

    file_path_url: str = "https://commons.wikimedia.org/wiki/Special:FilePath/"
    api_url: str = "https://commons.wikimedia.org/w/api.php"
    allowed_hosts: tuple[str, ...] = ("commons.wikimedia.org", "upload.wikimedia.org")
    allow_http: bool = False


@dataclass(frozen=True)
class HttpSettings(RetrySettingsMixin):
    """Politeness and limits for `PoliteHttp` (from the `images:` block)."""

    user_agent: str
    concurrency_per_host: int = 3
    timeout_s: float = 30.0
    max_attempts: int = 4
    backoff_base_s: float = 1.0
    backoff_max_s: float = 30.0
    max_retry_after_s: float = 120.0
    max_bytes: int = 25_000_000

    def __post_init__(self) -> None:
        if not 1 <= self.concurrency_per_host <= 3:
            raise ValueError("images.concurrency_per_host must be 1, 2 or 3 (Wikimedia asks for at most 3)")
        if self.max_attempts < 1 or self.timeout_s <= 0 or self.max_bytes < 1:
            raise ValueError("images: max_attempts ≥ 1, timeout_s > 0 and max_bytes ≥ 1 required")


class UrlPolicy:
    """https only (http only when `allow_http`), and only to the allowed hosts."""

    def __init__(self, settings: CommonsSettings) -> None:
        self.hosts = {host.lower() for host in settings.allowed_hosts}
        self.schemes = {"https", "http"} if settings.allow_http else {"https"}

    def check(self, url: str) -> str:
        parsed = urlparse(url)
        host = (parsed.hostname or "").lower()
        if parsed.scheme not in self.schemes:
            raise FetchFailure("refused", f"{parsed.scheme or 'no'} scheme not allowed: {url[:200]}")
        if host not in self.hosts:
            raise FetchFailure("refused", f"host {host or '?'} not in allowed_hosts: {url[:200]}")
        return url


class HostGate:
    """At most `limit` requests in flight to one host, and a shared not-before time (Retry-After)."""

    def __init__(self, limit: int, sleep: Callable[[float], None]) -> None:
        self._slots = threading.BoundedSemaphore(limit)
        self._lock = threading.Lock()
        self._sleep = sleep
        self.not_before = 0.0

    def defer(self, seconds: float) -> None:
        with self._lock:
            self.not_before = max(self.not_before, time.monotonic() + seconds)

    def remaining(self) -> float:
        return self.not_before - time.monotonic()

    @contextmanager
    def slot(self, max_pause: float) -> Iterator[float]:
        """Hold one of the host's slots; yields the seconds spent waiting for the host's pause.

        A pause longer than `max_pause` (a huge Retry-After) is not waited out: FetchFailure.
        """
        waited = 0.0
        while True:
            pause = self.remaining()
            if pause > max_pause:
                raise FetchFailure("rate_limited", f"host asked to pause {pause:.0f}s, more than max_retry_after_s")
            if pause > 0:
                self._sleep(pause)
                waited += pause
                continue
            self._slots.acquire()
            if self.remaining() <= 0:
                break
            self._slots.release()  # a 429 arrived while we waited for the slot
        try:
            yield waited
        finally:
            self._slots.release()


@dataclass
class HttpCounters:
    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    redirects: int = 0
    refused: int = 0
    bytes: int = 0
    waited_s: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        values = asdict(self)
        values["waited_s"] = round(values["waited_s"], 3)
        return values


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Redirects come back as HTTPError 3xx so every hop can be checked before it is followed."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: ANN001
        return None


class PoliteHttp:
    """GET with per-host concurrency, Retry-After, bounded retries, checked redirects and a size cap."""

    def __init__(
        self,
        settings: HttpSettings,
        policy: UrlPolicy,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self.agent = check_user_agent(settings.user_agent)
        self.policy = policy
        self.counters = HttpCounters()
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._gates: dict[str, HostGate] = {}
        self._lock = threading.Lock()
        self._opener = urllib.request.build_opener(_NoRedirect())

    def _gate(self, host: str) -> HostGate:
        with self._lock:
            return self._gates.setdefault(host, HostGate(self.settings.concurrency_per_host, self._sleep))

    def _count(self, **steps: float) -> None:
        with self._lock:
            for name, step in steps.items():
                setattr(self.counters, name, getattr(self.counters, name) + step)

    def get(self, url: str, want_image: bool) -> bytes:
        """The body at `url` (after checked redirects); FetchFailure when it cannot be had."""
        policy = self.settings.retry_policy

        def wait(failure: Transient, attempt: int) -> float | None:
            # a Retry-After already paused the whole host (HostGate): no extra wait in this thread
            return None if failure.retry_after is not None else policy.backoff_s(attempt, self._rng)

        def count(failure: Transient, seconds: float) -> None:
            self._count(retries=1, waited_s=seconds)

        try:
            return call_with_retries(lambda: self._follow(url, want_image), policy, sleep=self._sleep, wait=wait,
                                     on_retry=count)
        except RetriesExhausted as exhausted:
            status = "rate_limited" if exhausted.last.kind == "rate_limited" else "unavailable"
            raise FetchFailure(status, str(exhausted)) from None

    def _follow(self, url: str, want_image: bool) -> bytes:
        for _ in range(MAX_REDIRECTS + 1):
            try:
                self.policy.check(url)
            except FetchFailure:
                self._count(refused=1)
                raise
            location = self._once(url, want_image)
            if isinstance(location, bytes):
                return location
            self._count(redirects=1)
            url = urljoin(url, location)
        raise FetchFailure("refused", f"more than {MAX_REDIRECTS} redirects")

    def _once(self, url: str, want_image: bool) -> bytes | str:
        """One request: the body, or the Location of a redirect."""
        host = (urlparse(url).hostname or "").lower()
        gate = self._gate(host)
        request = urllib.request.Request(url, headers={"User-Agent": self.agent, "Accept": "*/*"})
        with gate.slot(self.settings.max_retry_after_s) as waited:
            self._count(requests=1, waited_s=waited)
            try:
                with self._opener.open(request, timeout=self.settings.timeout_s) as response:
                    content_type = response.headers.get("Content-Type", "")
                    if want_image and not content_type.lower().startswith("image/"):
                        raise FetchFailure("corrupt", f"content type {content_type or 'missing'!r}, not an image")
                    return self._read(response)
            except urllib.error.HTTPError as error:
                return self._http_error(error, gate, host)
            except (http.client.IncompleteRead, http.client.RemoteDisconnected, ConnectionError) as error:
                raise Transient(f"connection broken ({type(error).__name__})") from None
            except TimeoutError:
                raise Transient(f"timed out after {self.settings.timeout_s:g}s") from None
            except urllib.error.URLError as error:
                if isinstance(error.reason, TimeoutError):
                    raise Transient(f"timed out after {self.settings.timeout_s:g}s") from None
                raise Transient(f"cannot connect ({error.reason})") from None

    def _read(self, response: http.client.HTTPResponse) -> bytes:
        limit = self.settings.max_bytes
        declared = response.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise FetchFailure("too_large", f"Content-Length {declared} bytes exceeds max_bytes={limit}")
        chunks, total = [], 0
        while chunk := response.read(65536):
            total += len(chunk)
            if total > limit:
                raise FetchFailure("too_large", f"body exceeds max_bytes={limit}")
            chunks.append(chunk)
        if declared and declared.isdigit() and total != int(declared):
            raise Transient(f"body cut off: {total} of {declared} bytes")
        self._count(bytes=total)
        return b"".join(chunks)

    def _http_error(self, error: urllib.error.HTTPError, gate: HostGate, host: str) -> str:
        code = error.code
        error.close()
        if code in (301, 302, 303, 307, 308):
            location = error.headers.get("Location") if error.headers else None
            if not location:
                raise FetchFailure("refused", f"HTTP {code} without a Location")
            return location
        if code == 429:
            self._count(rate_limited=1)
            retry_after = parse_retry_after(error.headers.get("Retry-After") if error.headers else None)
            if retry_after is not None:
                gate.defer(retry_after)  # every thread on this host pauses, not just this one
                try:
                    self.settings.retry_policy.check_retry_after(retry_after)
                except RetryAfterTooLong:
                    raise FetchFailure("rate_limited", f"{host} asks to wait {retry_after:g}s (Retry-After)") from None
            raise Transient("HTTP 429", retry_after=retry_after, kind="rate_limited")
        if code >= 500:
            raise Transient(f"HTTP {code}")
        if code in (404, 410):
            raise FetchFailure("missing", f"HTTP {code}")
        raise FetchFailure("refused", f"HTTP {code}")


@dataclass(frozen=True)
class ImageMeta:
    """What the image stage keeps about a file besides its pixels."""

    url: str | None
    author: str | None
    license: str | None
    license_url: str | None
    width: int = 0  # of the original file, 0 when unknown
    height: int = 0


def check_title(file_name: str) -> str:
    """A Commons file name (without `File:`) that can be put in a URL and a title list."""
    if not file_name or len(file_name.encode()) > 240 or ILLEGAL_TITLE.search(file_name) or file_name.startswith("."):
        raise FetchFailure("refused", f"not a valid Commons file name: {file_name[:80]!r}")
    return file_name


def thumb_width(meta: ImageMeta, width: int, max_width: int, min_short_side: int) -> int:
    """The standard thumbnail width to ask for: `width`, or wider so the short side reaches the minimum."""
    wanted = width
    if meta.width > meta.height > 0:  # landscape: the short side is the thumbnail's height
        wanted = max(width, -(-min_short_side * meta.width // meta.height))
    fitting = [w for w in STANDARD_WIDTHS if w >= wanted and w <= max_width]
    return fitting[0] if fitting else max(w for w in STANDARD_WIDTHS if w <= max_width)


def plain_text(value: Any, limit: int = 300) -> str | None:
    """Commons extmetadata values are HTML fragments: tags dropped, entities decoded, spaces collapsed."""
    if not isinstance(value, str):
        return None
    text = " ".join(html.unescape(re.sub(r"<[^>]*>", " ", value)).split())
    return text[:limit] or None


class CommonsSource:
    """Files from Wikimedia Commons (or a Commons-shaped server in tests)."""

    placeholder = False

    def __init__(self, http: PoliteHttp, settings: CommonsSettings, batch_size: int, widths: tuple[int, int, int]):
        self.http = http
        self.settings = settings
        self.batch_size = max(1, min(50, batch_size))
        self.width, self.max_width, self.min_short_side = widths
        for url in (settings.api_url, settings.file_path_url):
            try:
                http.policy.check(url)
            except FetchFailure as failure:
                raise SettingsError(f"images.commons: {failure.detail}") from None

    def metadata(self, titles: list[str]) -> dict[str, ImageMeta | FetchFailure]:
        """Author, licence and size per file; batched API queries."""
        found: dict[str, ImageMeta | FetchFailure] = {}
        valid = []
        for title in titles:
            try:
                valid.append(check_title(title))
            except FetchFailure as failure:
                found[title] = failure
        for start in range(0, len(valid), self.batch_size):
            batch = valid[start : start + self.batch_size]
            try:
                found.update(self._metadata_batch(batch))
            except FetchFailure as failure:
                found.update(dict.fromkeys(batch, failure))
        return found

    def _metadata_batch(self, titles: list[str]) -> dict[str, ImageMeta | FetchFailure]:
        params = {
            "action": "query",
            "format": "json",
            "prop": "imageinfo",
            "iiprop": "url|extmetadata|size|mime",
            "iiextmetadatafilter": "Artist|LicenseShortName|LicenseUrl",
            "titles": "|".join(f"File:{title}" for title in titles),
        }
        raw = self.http.get(f"{self.settings.api_url}?{urlencode(params)}", want_image=False)
        try:
            query = json.loads(raw.decode("utf-8"))["query"]
            pages = query["pages"]
        except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as error:
            raise FetchFailure("unavailable", f"Commons API answer unreadable ({type(error).__name__})") from None
        renamed = {item.get("to"): item.get("from") for item in query.get("normalized", []) if isinstance(item, dict)}
        pages = pages.values() if isinstance(pages, dict) else pages
        found: dict[str, ImageMeta | FetchFailure] = {}
        for page in pages:
            title = renamed.get(page.get("title"), page.get("title", ""))
            found[str(title).removeprefix("File:")] = _page_meta(page)
        for title in titles:
            found.setdefault(title, FetchFailure("missing", "not in the Commons API answer"))
        return found

    def fetch(self, title: str, meta: ImageMeta) -> bytes:
        width = thumb_width(meta, self.width, self.max_width, self.min_short_side)
        url = f"{self.settings.file_path_url}{quote(check_title(title).replace(' ', '_'))}?width={width}"
        return self.http.get(url, want_image=True)


def _page_meta(page: dict[str, Any]) -> ImageMeta | FetchFailure:
    if "missing" in page or "invalid" in page:
        return FetchFailure("missing", "Commons has no such file")
    info = (page.get("imageinfo") or [{}])[0]
    mime = str(info.get("mime", "image/"))
    if not mime.startswith("image/"):
        return FetchFailure("refused", f"not an image ({mime})")
    meta = info.get("extmetadata") or {}

    def field(name: str) -> str | None:
        entry = meta.get(name)
        return plain_text(entry.get("value")) if isinstance(entry, dict) else None

    return ImageMeta(
        url=info.get("url") if isinstance(info.get("url"), str) else None,
        author=field("Artist"),
        license=field("LicenseShortName"),
        license_url=field("LicenseUrl"),
        width=int(info.get("width") or 0),
        height=int(info.get("height") or 0),
    )
