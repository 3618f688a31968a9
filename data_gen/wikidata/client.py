"""A polite, robust SPARQL client: one interface over a remote endpoint (SPARQLWrapper) or the sample.

Every stage asks `SparqlClient.select(query)` and gets SPARQL-JSON bindings
(`[{"var": {"type", "value", "xml:lang"?, "datatype"?}}]`), whether the query ran on WDQS, QLever,
a local `oxigraph serve`, or the embedded pyoxigraph store: the very same query text everywhere.

Politeness (WDQS rules, see DESIGN.md §2), for remote endpoints:
- a descriptive User-Agent with contact details is mandatory; the client refuses to start without;
- one query in flight per endpoint (a process-wide lock per URL) and an optional minimum interval;
- 429 honours Retry-After (a wait above `max_retry_after_s` fails fast instead of hammering);
- 5xx, timeouts, dropped connections and 200-with-truncated-JSON are retried with exponential
  backoff and jitter, at most `max_attempts` tries in all (the shared policy of
  `data_gen.common.retry`); a 400 (the endpoint rejects the query) is never retried.
The lock is per process: parallel array jobs against WDQS would each hold one, which is why bulk
runs belong on a local endpoint (DESIGN.md). Results are cached on disk under a hash of
(endpoint, query text), written atomically, so a re-run issues zero requests; counters of queries,
requests, retries and cache hits go into the stage manifest.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import random
import threading
import time
import urllib.error
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlparse

from data_gen.common.errors import DataGenError, SettingsError
from data_gen.common.retry import (
    RetriesExhausted,
    RetryAfterTooLong,
    RetrySettingsMixin,
    Transient,
    call_with_retries,
    parse_retry_after,
)
from data_gen.common.user_agent import check_user_agent
from shard_contract.atomic import atomic_write_bytes

Bindings = list[dict[str, dict[str, str]]]


def redact_url(url: str) -> str:
    """`url` with the password of its user-info part replaced by `***` (for messages, cache and logs)."""
    parsed = urlparse(url)
    if parsed.password is None:
        return url
    netloc = parsed.netloc.replace(f":{parsed.password}@", ":***@", 1)
    return parsed._replace(netloc=netloc).geturl()


class SparqlError(DataGenError):
    """Base of every error the client raises; messages name the endpoint and the problem."""


class QueryRejectedError(SparqlError):
    """The endpoint refused the query itself (HTTP 400, syntax error): retrying cannot help."""


class MalformedResultError(SparqlError):
    """The endpoint answered, but not with complete SPARQL-JSON (e.g. 200 with cut-off JSON)."""


class EndpointUnavailableError(SparqlError):
    """The endpoint could not be reached or kept failing after every allowed attempt."""


class RateLimitedError(EndpointUnavailableError):
    """The endpoint keeps answering 429, or asks for a longer wait than allowed."""


@dataclass(frozen=True)
class SparqlSettings(RetrySettingsMixin):
    """Endpoint and politeness settings (the `endpoint:` block of configs/data_gen.yaml)."""

    url: str | None = None
    user_agent: str | None = None
    timeout_s: float = 60.0
    max_attempts: int = 5
    backoff_base_s: float = 2.0
    backoff_max_s: float = 60.0
    max_retry_after_s: float = 300.0
    min_interval_s: float = 0.0
    post_above_chars: int = 1500

    def __post_init__(self) -> None:
        if self.max_attempts < 1 or self.timeout_s <= 0 or self.backoff_base_s < 0 or self.min_interval_s < 0:
            raise ValueError("endpoint: max_attempts ≥ 1, timeout_s > 0, backoff/interval ≥ 0 required")

    def checked_url(self) -> str:
        """The endpoint URL, or a clear error when it is missing or malformed."""
        parsed = urlparse(self.url or "")
        shown = redact_url(self.url or "")
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise SettingsError(f"malformed endpoint URL {shown!r}: expected http(s)://host[:port]/path")
        try:
            parsed.port  # noqa: B018 - raises on a bad port
        except ValueError as error:
            raise SettingsError(f"malformed endpoint URL {shown!r}: {error}") from None
        return str(self.url)

    def checked_user_agent(self) -> str:
        return check_user_agent(self.user_agent)


@dataclass
class Counters:
    """What the client did; `requests` counts attempts that reached (or tried to reach) the endpoint."""

    queries: int = 0
    requests: int = 0
    retries: int = 0
    cache_hits: int = 0
    rate_limited: int = 0
    waited_s: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        values = asdict(self)
        values["waited_s"] = round(values["waited_s"], 3)
        return values


class Backend(Protocol):
    """Runs one query and returns the raw SPARQL-JSON bytes; `key` names the endpoint for the cache."""

    key: str

    def fetch(self, query: str) -> bytes: ...


class EndpointBackend:
    """A remote SPARQL endpoint through SPARQLWrapper; HTTP failures are classified here."""

    def __init__(self, settings: SparqlSettings) -> None:
        self.url = settings.checked_url()
        self.key = redact_url(self.url)  # names the endpoint in messages, the cache and the lock: no password
        self.agent = settings.checked_user_agent()
        self.settings = settings

    def _wrapper(self, query: str) -> Any:
        from SPARQLWrapper import JSON, POST, URLENCODED, SPARQLWrapper

        wrapper = SPARQLWrapper(self.url, agent=self.agent)
        wrapper.setReturnFormat(JSON)
        wrapper.setOnlyConneg(True)  # Accept header only: no format=json parameters some endpoints reject
        wrapper.setQuery(query)
        if len(query) > self.settings.post_above_chars:  # long VALUES lists: POST, not a huge URL
            wrapper.setMethod(POST)
            wrapper.setRequestMethod(URLENCODED)
        wrapper.timeout = self.settings.timeout_s  # setTimeout() truncates to int; urlopen takes floats
        return wrapper

    def fetch(self, query: str) -> bytes:
        from SPARQLWrapper.SPARQLExceptions import EndPointInternalError, EndPointNotFound, QueryBadFormed, Unauthorized

        try:
            response = self._wrapper(query).query().response
            try:
                return response.read()
            finally:
                response.close()
        except QueryBadFormed as error:
            raise QueryRejectedError(f"endpoint {self.key} rejected the query (HTTP 400): {_short(error)}") from None
        except EndPointNotFound:
            raise SparqlError(f"endpoint {self.key} answered 404: check endpoint.url") from None
        except Unauthorized:
            raise SparqlError(f"endpoint {self.key} answered 401: access refused") from None
        except EndPointInternalError as error:
            raise Transient(f"HTTP 500: {_short(error)}") from None
        except urllib.error.HTTPError as error:
            raise _http_error(self.key, error) from None
        except http.client.IncompleteRead as error:
            raise Transient(f"answer cut off mid-body ({_short(error, 80)})", kind="malformed") from None
        except (http.client.RemoteDisconnected, ConnectionError) as error:
            raise Transient(f"connection dropped ({type(error).__name__})") from None
        except TimeoutError as error:
            raise Transient(f"timed out after {self.settings.timeout_s:g}s ({error})") from None
        except urllib.error.URLError as error:
            raise Transient(f"cannot connect ({error.reason})") from None


def _http_error(url: str, error: urllib.error.HTTPError) -> Exception:
    retry_after = parse_retry_after(error.headers.get("Retry-After") if error.headers else None)
    if error.code == 429:
        return Transient("HTTP 429 Too Many Requests", retry_after=retry_after, kind="rate_limited")
    if error.code in (502, 503, 504) or error.code >= 500:
        return Transient(f"HTTP {error.code}", retry_after=retry_after)
    if error.code == 403:
        return SparqlError(f"endpoint {url} answered 403 (forbidden; on WDQS: check the User-Agent, or a ban)")
    if error.code == 414:
        return QueryRejectedError(f"endpoint {url} answered 414: query too long")
    return SparqlError(f"endpoint {url} answered HTTP {error.code}")


def _short(error: Exception, limit: int = 300) -> str:
    text = str(error)
    return text if len(text) <= limit else text[:limit] + "…"


class StoreBackend:
    """The in-process pyoxigraph store (the embedded sample), answering the same SPARQL-JSON bytes."""

    def __init__(self, store: Any, key: str = "sample") -> None:
        self.store = store
        self.key = key

    def fetch(self, query: str) -> bytes:
        from pyoxigraph import QueryResultsFormat

        try:
            results = self.store.query(query)
        except SyntaxError as error:
            raise QueryRejectedError(f"the sample store rejected the query: {error}") from None
        return results.serialize(format=QueryResultsFormat.JSON)


def parse_bindings(raw: bytes, where: str) -> Bindings:
    """Validate SPARQL-JSON and return its bindings; MalformedResultError on anything else."""
    try:
        document = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise MalformedResultError(
            f"{where} answered with malformed or truncated JSON ({len(raw)} bytes, {error})"
        ) from None
    results = document.get("results") if isinstance(document, dict) else None
    bindings = results.get("bindings") if isinstance(results, dict) else None
    if not isinstance(bindings, list):
        raise MalformedResultError(f"{where} answered JSON without results.bindings (not SPARQL-JSON)")
    for number, row in enumerate(bindings):
        if not isinstance(row, dict) or not all(_is_term(term) for term in row.values()):
            raise MalformedResultError(
                f"{where} answered a malformed binding (row {number}: {_short(ValueError(row), 120)}); "
                "every value must be an RDF term {type, value}"
            )
    return bindings


def _is_term(term: Any) -> bool:
    return (
        isinstance(term, dict)
        and term.get("type") in ("uri", "literal", "bnode", "typed-literal", "triple")
        and isinstance(term.get("value"), (str, dict))
        and all(isinstance(term.get(key, ""), str) for key in ("xml:lang", "datatype"))
    )


_LOCKS: dict[str, threading.Lock] = {}
_LAST_REQUEST: dict[str, float] = {}
_LOCKS_GUARD = threading.Lock()


def _endpoint_lock(key: str) -> threading.Lock:
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(key, threading.Lock())


class SparqlClient:
    """`select(query)` with cache, one-in-flight lock, bounded retries and counters."""

    def __init__(
        self,
        backend: Backend,
        settings: SparqlSettings | None = None,
        cache_dir: Path | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.backend = backend
        self.settings = settings or SparqlSettings()
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self.counters = Counters()
        self._sleep = sleep
        self._rng = rng or random.Random()

    def cache_path(self, query: str) -> Path | None:
        if self.cache_dir is None:
            return None
        digest = hashlib.sha256(f"{self.backend.key}\n{query}".encode()).hexdigest()
        return self.cache_dir / digest[:2] / f"{digest}.json"

    def select(self, query: str) -> Bindings:
        """Run a SELECT query and return its bindings (from the cache when this exact query ran before)."""
        self.counters.queries += 1
        path = self.cache_path(query)
        if path is not None and path.exists():
            try:
                cached = json.loads(path.read_text(encoding="utf-8"))
                self.counters.cache_hits += 1
                return cached["bindings"]
            except (json.JSONDecodeError, KeyError, UnicodeDecodeError):
                path.unlink(missing_ok=True)  # a damaged entry is simply fetched again
        bindings = self._fetch_with_retries(query)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            entry = {"endpoint": self.backend.key, "query": query, "bindings": bindings}
            atomic_write_bytes(path, json.dumps(entry, ensure_ascii=False, sort_keys=True).encode("utf-8"))
        return bindings

    def _wait_interval(self) -> None:
        if self.settings.min_interval_s <= 0:
            return
        last = _LAST_REQUEST.get(self.backend.key)
        if last is not None:
            gap = self.settings.min_interval_s - (time.monotonic() - last)
            if gap > 0:
                self._pause(gap)

    def _pause(self, seconds: float) -> None:
        self.counters.waited_s += seconds
        self._sleep(seconds)

    def _attempt(self, query: str, where: str) -> Bindings:
        self._wait_interval()
        self.counters.requests += 1
        try:
            try:
                raw = self.backend.fetch(query)
            finally:
                _LAST_REQUEST[self.backend.key] = time.monotonic()
            return parse_bindings(raw, where)
        except MalformedResultError as error:
            raise Transient(str(error), kind="malformed") from None

    def _count_retry(self, failure: Transient, seconds: float) -> None:
        self.counters.retries += 1
        self.counters.rate_limited += failure.retry_after is not None

    def _fetch_with_retries(self, query: str) -> Bindings:
        where = f"endpoint {self.backend.key}"
        policy = self.settings.retry_policy
        with _endpoint_lock(self.backend.key):
            try:
                return call_with_retries(lambda: self._attempt(query, where), policy, sleep=self._pause,
                                         rng=self._rng, on_retry=self._count_retry)
            except RetryAfterTooLong as too_long:
                raise RateLimitedError(
                    f"{where} asks to wait {too_long.seconds:g}s (Retry-After), more than "
                    f"max_retry_after_s={policy.max_retry_after_s:g}; try later or use a local endpoint"
                ) from None
            except RetriesExhausted as exhausted:
                raise _final_error(exhausted, where) from None


def _final_error(exhausted: RetriesExhausted, where: str) -> SparqlError:
    last, tries = exhausted.last, exhausted.attempts
    if last.kind == "malformed":
        return MalformedResultError(f"{last.reason} (after {tries} attempts)")
    if last.kind == "rate_limited":
        return RateLimitedError(f"{where} still rate-limits after {tries} attempts")
    return EndpointUnavailableError(f"{where} unavailable after {tries} attempts: {last.reason}")


def make_client(
    source: str,
    settings: SparqlSettings,
    cache_dir: Path | None,
    store_loader: Callable[[], Any] | None = None,
) -> SparqlClient:
    """`source="sample"` → the embedded store (no cache needed); `"endpoint"` → SPARQLWrapper with cache."""
    if source == "sample":
        if store_loader is None:
            from data_gen.wikidata.sample_store import load_sample_store as store_loader
        return SparqlClient(StoreBackend(store_loader()), settings, cache_dir=None)
    if source == "endpoint":
        return SparqlClient(EndpointBackend(settings), settings, cache_dir=cache_dir)
    raise SettingsError(f"unknown source {source!r}: use source=sample or source=endpoint")
