"""The one retry policy of data_gen (common/retry.py): bounded attempts, backoff with jitter, Retry-After."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from data_gen.common.retry import (
    RetriesExhausted,
    RetryAfterTooLong,
    RetryPolicy,
    Transient,
    call_with_retries,
    parse_retry_after,
)

POLICY = RetryPolicy(max_attempts=4, backoff_base_s=1.0, backoff_max_s=3.0, max_retry_after_s=60.0)


def _flaky(failures):
    """An attempt that raises the given Transient failures in turn, then returns 'ok'."""
    queue = list(failures)

    def attempt():
        if queue:
            raise queue.pop(0)
        return "ok"

    return attempt


def test_backoff_doubles_up_to_the_cap_with_half_to_one_and_a_half_jitter():
    rng = random.Random(0)
    for attempt, base in ((1, 1.0), (2, 2.0), (3, 3.0), (6, 3.0)):  # 4, 8, 32 capped at backoff_max_s
        draws = [POLICY.backoff_s(attempt, rng) for _ in range(200)]
        assert 0.5 * base <= min(draws) and max(draws) <= 1.5 * base
        assert max(draws) - min(draws) > 0.5 * base  # jittered, not constant


def test_retry_after_is_used_as_given_and_refused_above_the_cap():
    sleeps, retries = [], []
    result = call_with_retries(_flaky([Transient("HTTP 429", retry_after=7.0, kind="rate_limited"),
                                       Transient("HTTP 503")]), POLICY, sleep=sleeps.append,
                               rng=random.Random(1), on_retry=lambda failure, s: retries.append(failure.kind))
    assert result == "ok" and sleeps[0] == 7.0 and 1.0 <= sleeps[1] <= 3.0
    assert retries == ["rate_limited", "transient"]
    with pytest.raises(RetryAfterTooLong) as too_long:
        call_with_retries(_flaky([Transient("HTTP 429", retry_after=61.0)]), POLICY, sleep=sleeps.append)
    assert too_long.value.seconds == 61.0


def test_attempts_are_bounded_and_the_last_failure_is_kept():
    calls = []

    def always_down():
        calls.append(1)
        raise Transient(f"cannot connect #{len(calls)}")

    with pytest.raises(RetriesExhausted, match=r"cannot connect #4 \(after 4 attempts\)") as exhausted:
        call_with_retries(always_down, POLICY, sleep=lambda s: None)
    assert len(calls) == 4 and exhausted.value.attempts == 4


def test_a_caller_that_already_paused_makes_the_loop_skip_its_sleep():
    sleeps = []
    result = call_with_retries(_flaky([Transient("HTTP 429", retry_after=5.0)]), POLICY, sleep=sleeps.append,
                               wait=lambda failure, attempt: None)
    assert result == "ok" and sleeps == []


def test_retry_after_header_forms():
    now = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
    assert parse_retry_after("7") == 7.0 and parse_retry_after(" 0.5 ") == 0.5
    assert parse_retry_after(format_datetime(now + timedelta(seconds=30), usegmt=True), now=now) == 30.0
    assert parse_retry_after(format_datetime(now - timedelta(seconds=30), usegmt=True), now=now) == 0.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None and parse_retry_after(" ") is None
