"""The SPARQL client's manners and failure handling, proven against a misbehaving loopback endpoint."""

from __future__ import annotations

import random
import threading
import time

import pytest

from data_gen.common.retry import parse_retry_after
from data_gen.wikidata.client import (
    EndpointBackend,
    EndpointUnavailableError,
    MalformedResultError,
    QueryRejectedError,
    RateLimitedError,
    SparqlClient,
    SparqlSettings,
    StoreBackend,
    make_client,
    parse_bindings,
)
from tests.helpers.ports import free_loopback_port
from tests.helpers.sparql_fault_server import SparqlFaultServer
from tests.helpers.wikidata_snippet import snippet_store

AGENT = "CulturalPangea-tests/0.1 (https://example.org/culturalpangea; tests@example.org)"
QUERY = "SELECT ?item ?label WHERE { ?item <http://www.w3.org/2000/01/rdf-schema#label> ?label }"


@pytest.fixture
def server():
    with SparqlFaultServer() as running:
        yield running


def _client(url: str, tmp_path=None, **overrides) -> SparqlClient:
    values = {"url": url, "user_agent": AGENT, "timeout_s": 5, "backoff_base_s": 0.01, "backoff_max_s": 0.05}
    settings = SparqlSettings(**{**values, **overrides})
    return SparqlClient(EndpointBackend(settings), settings, cache_dir=tmp_path, rng=random.Random(0))


def test_answers_and_sends_the_descriptive_user_agent(server):
    rows = _client(server.url).select(QUERY)
    assert rows[0]["label"] == {"type": "literal", "value": "tour Eiffel", "xml:lang": "fr"}
    assert server.stats.requests[0].user_agent == AGENT and server.stats.requests[0].query == QUERY


@pytest.mark.parametrize("agent", [None, "", "python-requests/2.31", "MyBot/1.0 (no contact here)"])
def test_no_request_without_a_descriptive_user_agent(server, agent):
    with pytest.raises(ValueError, match="descriptive user_agent is required"):
        _client(server.url, user_agent=agent)
    assert server.count == 0


@pytest.mark.parametrize("url", [None, "query.wikidata.org/sparql", "ftp://host/sparql", "http://:80/x", "http://h:99x/"])
def test_malformed_endpoint_url_is_refused(url):
    with pytest.raises(ValueError, match="malformed endpoint URL"):
        SparqlSettings(url=url, user_agent=AGENT).checked_url()


def test_429_retry_after_is_honoured_and_nothing_arrives_early(server):
    server.plan(("429", "0.4"), ("429", "0.3"))
    client = _client(server.url)
    start = time.monotonic()
    assert client.select(QUERY)
    assert time.monotonic() - start >= 0.7
    assert server.count == 3 and server.stats.early_requests == 0
    assert client.counters.rate_limited == 2 and client.counters.retries == 2


def test_a_retry_after_beyond_the_allowed_wait_fails_fast(server):
    server.plan(("429", "3600"))
    start = time.monotonic()
    with pytest.raises(RateLimitedError, match="asks to wait 3600s"):
        _client(server.url, max_retry_after_s=60).select(QUERY)
    assert time.monotonic() - start < 30 and server.count == 1  # gave up at once instead of waiting an hour


def test_5xx_timeouts_and_resets_are_retried_with_bounded_jittered_backoff(server):
    server.plan(("500",), ("503",), ("reset",), ("slow", 1.5))
    waits: list[float] = []
    settings = SparqlSettings(url=server.url, user_agent=AGENT, timeout_s=0.5, backoff_base_s=1.0, backoff_max_s=3.0)
    client = SparqlClient(EndpointBackend(settings), settings, sleep=waits.append, rng=random.Random(1))
    assert client.select(QUERY)
    assert server.count == 5 and client.counters.retries == 4
    bounds = [(0.5, 1.5), (1.0, 3.0), (2.0, 4.5), (1.5, 4.5)]  # base·2^k capped at 3 s, times U(0.5, 1.5)
    assert all(low <= wait <= high for wait, (low, high) in zip(waits, bounds, strict=True))
    assert len(set(waits)) == 4  # jittered, not a fixed schedule


def test_persistent_5xx_gives_up_after_max_attempts(server):
    server.plan(*[("500",)] * 10)
    with pytest.raises(EndpointUnavailableError, match="unavailable after 3 attempts: HTTP 500"):
        _client(server.url, max_attempts=3).select(QUERY)
    assert server.count == 3


@pytest.mark.parametrize("kind", ["cut", "cut_body"])
def test_truncated_json_is_retried_then_reported_clearly(server, kind):
    server.plan((kind,), ("ok",))
    assert _client(server.url).select(QUERY)
    server.plan(*[(kind,)] * 5)
    with pytest.raises(MalformedResultError, match=r"(truncated|cut off).*after 2 attempts"):
        _client(server.url, max_attempts=2).select(QUERY)


def test_a_rejected_query_is_not_retried(server):
    server.plan(("400",), ("ok",))
    with pytest.raises(QueryRejectedError, match="rejected the query"):
        _client(server.url).select("SELECT nonsense")
    assert server.count == 1


@pytest.mark.parametrize(
    "document",
    [
        {"head": {}},
        {"results": {"bindings": "none"}},
        {"results": {"bindings": [{"item": "Q1"}]}},
        {"results": {"bindings": [{"item": {"type": "uri"}}]}},
        {"results": {"bindings": [{"item": {"type": "literal", "value": "x", "xml:lang": 3}}]}},
    ],
)
def test_unexpected_bindings_are_malformed_results(server, document):
    server.plan(*[("json", document)] * 2)
    with pytest.raises(MalformedResultError):
        _client(server.url, max_attempts=2).select(QUERY)


def test_endpoint_down_is_a_clear_error_after_bounded_tries():
    url = f"http://127.0.0.1:{free_loopback_port()}/sparql"
    with pytest.raises(EndpointUnavailableError, match=r"unavailable after 2 attempts: cannot connect"):
        _client(url, max_attempts=2).select(QUERY)


def test_disk_cache_makes_a_rerun_issue_zero_requests(server, tmp_path):
    first = _client(server.url, tmp_path)
    answers = [first.select(QUERY), first.select(QUERY + " LIMIT 1")]
    assert server.count == 2 and first.counters.cache_hits == 0
    second = _client(server.url, tmp_path)
    assert [second.select(QUERY), second.select(QUERY + " LIMIT 1")] == answers
    assert server.count == 2 and second.counters.as_dict()["cache_hits"] == 2 and second.counters.requests == 0
    entry = second.cache_path(QUERY)
    entry.write_text("{ torn", encoding="utf-8")  # a damaged entry is fetched again, not trusted
    assert _client(server.url, tmp_path).select(QUERY) == answers[0] and server.count == 3


def test_long_queries_go_as_post(server):
    long_query = QUERY + " # " + "x" * 2000
    _client(server.url).select(long_query)
    assert server.stats.requests[-1].method == "POST" and server.stats.requests[-1].query == long_query


def test_one_query_in_flight_and_the_wdqs_style_budget_is_never_exceeded(server):
    """Four threads share one endpoint whose budget is 0.6 s of query time per 1 s window."""
    server.limit_query_time(budget_s=0.6, window_s=1.0, retry_after_s=0.5, query_time_s=0.15)
    client = _client(server.url, max_attempts=8)
    errors: list[BaseException] = []

    def work(index: int) -> None:
        try:
            for step in range(3):
                client.select(f"{QUERY} # {index}-{step}")
        except BaseException as error:  # collected and asserted below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(index,)) for index in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert server.stats.max_active == 1
    assert server.stats.throttled >= 1  # the budget was reached, so the test exercised the 429 path
    assert server.stats.early_requests == 0
    assert server.busiest_window_s(1.0) <= 0.6 + 0.15 + 0.05  # budget plus at most the query that crossed it


def test_embedded_store_answers_the_same_sparql_json_shape():
    client = make_client("sample", SparqlSettings(), cache_dir=None, store_loader=snippet_store)
    assert isinstance(client.backend, StoreBackend)
    rows = client.select(
        "PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#> SELECT ?label WHERE "
        "{ <http://www.wikidata.org/entity/Q243> rdfs:label ?label FILTER(LANG(?label) = 'ja') }"
    )
    assert rows == [{"label": {"type": "literal", "value": "エッフェル塔", "xml:lang": "ja"}}]
    with pytest.raises(QueryRejectedError):
        client.select("SELECT WHERE {")
    with pytest.raises(ValueError, match="unknown source"):
        make_client("wdqs", SparqlSettings(), cache_dir=None)


def test_retry_after_parsing():
    assert parse_retry_after("7") == 7.0 and parse_retry_after("0.5") == 0.5
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    assert 0 <= parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") < 1  # a date in the past: no wait
    with pytest.raises(MalformedResultError, match="malformed or truncated JSON"):
        parse_bindings(b'{"results": {"bindings": [', "endpoint X")
