"""A loopback SPARQL endpoint that misbehaves on cue, to test the client's retries, errors and manners.

Each request takes the next answer from a script (then the default answer, a valid SPARQL-JSON
result): `("429", retry_after)`, `("500",)`, `("503",)`, `("cut",)` (200 with JSON cut in half),
`("cut_body",)` (Content-Length larger than the body), `("400",)`, `("slow", seconds)`,
`("reset",)` (connection closed without an answer), `("json", obj)` (200 with any JSON), `("ok",)`.

Optionally it enforces a WDQS-style budget (`limit_query_time`): at most `budget_s` seconds of
query time per sliding `window_s`; a request beyond it gets 429 with Retry-After and starts a
ban. The server *measures* what politeness means: requests arriving while a Retry-After is still
running (`early_requests`), the peak number in flight, and the busiest window of query time.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from tests.helpers.ports import free_loopback_port

RESULT = {
    "head": {"vars": ["item", "label"]},
    "results": {
        "bindings": [
            {
                "item": {"type": "uri", "value": "http://www.wikidata.org/entity/Q243"},
                "label": {"type": "literal", "value": "tour Eiffel", "xml:lang": "fr"},
            }
        ]
    },
}


@dataclass
class Seen:
    method: str
    query: str
    user_agent: str
    start: float = 0.0
    end: float = 0.0
    processed: float = 0.0  # when the server finished working on it, before the answer was written


@dataclass
class FaultStats:
    requests: list[Seen] = field(default_factory=list)
    active: int = 0
    max_active: int = 0
    early_requests: int = 0  # arrived while a Retry-After the server had sent was still running
    throttled: int = 0  # 429s sent because the query-time budget was used up


@dataclass
class QueryTimeLimit:
    """WDQS-style: `budget_s` of query time per sliding `window_s`; beyond it, 429 + Retry-After."""

    budget_s: float
    window_s: float
    retry_after_s: float
    query_time_s: float  # how long each served query takes


class SparqlFaultServer:
    """Threaded HTTP server on 127.0.0.1 answering `/sparql`; use as a context manager."""

    def __init__(self) -> None:
        self.port = free_loopback_port()
        self.url = f"http://127.0.0.1:{self.port}/sparql"
        self.stats = FaultStats()
        self.script: list[tuple] = []
        self.result = RESULT
        self.limit: QueryTimeLimit | None = None
        self._banned_until = 0.0
        self._lock = threading.Lock()
        owner = self

        class Handler(_Handler):
            server_owner = owner

        self._httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> SparqlFaultServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def plan(self, *answers: tuple) -> None:
        with self._lock:
            self.script = list(answers)

    def limit_query_time(self, budget_s: float, window_s: float, retry_after_s: float, query_time_s: float) -> None:
        self.limit = QueryTimeLimit(budget_s, window_s, retry_after_s, query_time_s)

    @property
    def count(self) -> int:
        return len(self.stats.requests)

    def busiest_window_s(self, window_s: float) -> float:
        """The most query time (served requests) that fell in any sliding window of `window_s`."""
        spans = [(s.start, s.end) for s in self.stats.requests if s.end > s.start]
        best = 0.0
        for start, _ in spans:
            stop = start + window_s
            best = max(best, sum(max(0.0, min(end, stop) - max(begin, start)) for begin, end in spans))
        return best

    def _used_in_window(self, now: float) -> float:
        assert self.limit is not None
        since = now - self.limit.window_s
        return sum(max(0.0, s.end - max(s.start, since)) for s in self.stats.requests if s.end > since)

    def _next(self, seen: Seen) -> tuple:
        with self._lock:
            now = seen.start
            self.stats.requests.append(seen)
            self.stats.active += 1
            self.stats.max_active = max(self.stats.max_active, self.stats.active)
            if now < self._banned_until:
                self.stats.early_requests += 1
                return ("429", f"{self._banned_until - now:.3f}")
            if self.script:
                answer = self.script.pop(0)
            elif self.limit and self._used_in_window(now) >= self.limit.budget_s:
                self.stats.throttled += 1
                answer = ("429", f"{self.limit.retry_after_s:g}")
            else:
                answer = ("slow", self.limit.query_time_s) if self.limit else ("ok",)
            if answer[0] == "429":
                self._banned_until = now + float(answer[1])
            return answer

    def _processed(self, seen: Seen) -> None:
        """The query is done; only the answer's bytes are left to write.

        Concurrency is counted up to here: a client that waits for one answer before it sends the next
        query may get its next query in before this handler thread returns from writing, which is
        not two queries in flight.
        """
        with self._lock:
            if not seen.processed:
                self.stats.active -= 1
                seen.processed = time.monotonic()

    def _done(self, seen: Seen, served: bool) -> None:
        self._processed(seen)
        with self._lock:
            if served:
                seen.end = seen.processed


class _Handler(BaseHTTPRequestHandler):
    server_owner: SparqlFaultServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        return

    def do_GET(self) -> None:
        self._serve("GET", parse_qs(urlparse(self.path).query).get("query", [""])[0])

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length).decode()
        self._serve("POST", parse_qs(body).get("query", [""])[0])

    def _serve(self, method: str, query: str) -> None:
        owner = self.server_owner
        seen = Seen(method, query, self.headers.get("User-Agent", ""), start=time.monotonic())
        self._seen = seen
        answer = owner._next(seen)
        served = False
        try:
            served = self._answer(answer, owner)
        except (BrokenPipeError, ConnectionResetError):
            pass
        finally:
            owner._done(seen, served)

    def _answer(self, answer: tuple, owner: SparqlFaultServer) -> bool:
        """Send the scripted answer; True when a query was actually run (it used query time)."""
        kind = answer[0]
        body = json.dumps(owner.result).encode()
        if kind == "slow":
            time.sleep(answer[1])
            kind = "ok"
        if kind == "ok":
            self._send(200, body, "application/sparql-results+json")
            return True
        if kind == "json":
            self._send(200, json.dumps(answer[1]).encode(), "application/sparql-results+json")
            return True
        if kind == "429":
            self._send(429, b"Too Many Requests", "text/plain", {"Retry-After": str(answer[1])})
        elif kind in ("500", "502", "503"):
            self._send(int(kind), b"java.lang.RuntimeException: busy", "text/plain")
        elif kind == "400":
            self._send(400, b"MalformedQueryException: Encountered \" <EOF> ", "text/plain")
        elif kind == "cut":
            self._send(200, body[: len(body) // 2], "application/sparql-results+json")
        elif kind == "cut_body":
            self.send_response(200)
            self.send_header("Content-Type", "application/sparql-results+json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.close_connection = True
        elif kind == "reset":
            self.close_connection = True
            self.connection.shutdown(2)
        else:
            raise ValueError(f"unknown scripted answer {answer!r}")
        return False

    def _send(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        self.server_owner._processed(self._seen)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)
