"""One retry policy for every remote call of data_gen: SPARQL endpoints, Wikimedia Commons, model servers.

A call that fails in a way worth repeating (a 429, a 5xx, a timeout, a dropped connection, an
answer cut off mid-body) raises `Transient`. The policy then decides, the same way everywhere:

- at most `max_attempts` tries in all;
- between tries, the server's `Retry-After` when it sent one (seconds or an HTTP date), else
  exponential backoff with jitter: `min(backoff_max_s, backoff_base_s · 2^(attempt-1)) · U(0.5, 1.5)`;
- a `Retry-After` above `max_retry_after_s` is not waited out (`RetryAfterTooLong`): the caller stops
  and says so, instead of stalling a run for hours or hammering a server that asked for a pause.

`call_with_retries` is the synchronous driver (SPARQL, Commons); the async HTTP backend runs its
own loop (a semaphore, a shared pause) on the same policy. Callers translate `RetriesExhausted`
and `RetryAfterTooLong` into their own errors, which name the endpoint or the file.
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, TypeVar

T = TypeVar("T")


class Transient(Exception):
    """One failed attempt that may succeed when retried; `retry_after` is the server's requested wait."""

    def __init__(self, reason: str, retry_after: float | None = None, kind: str = "transient") -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after
        self.kind = kind


class RetryAfterTooLong(Exception):
    """The server asks for a longer pause than `max_retry_after_s`."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"Retry-After {seconds:g}s")
        self.seconds = seconds


class RetriesExhausted(Exception):
    """Every attempt failed; `last` is the last attempt's failure."""

    def __init__(self, last: Transient, attempts: int) -> None:
        super().__init__(f"{last.reason} (after {attempts} attempts)")
        self.last = last
        self.attempts = attempts


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int
    backoff_base_s: float
    backoff_max_s: float
    max_retry_after_s: float

    def backoff_s(self, attempt: int, rng: random.Random | Any = random) -> float:
        """Exponential backoff with ±50 % jitter before try `attempt + 1`."""
        base = min(self.backoff_max_s, self.backoff_base_s * 2 ** (attempt - 1))
        return base * rng.uniform(0.5, 1.5)

    def check_retry_after(self, seconds: float) -> float:
        """The server's pause, or RetryAfterTooLong when it is above `max_retry_after_s`."""
        if seconds > self.max_retry_after_s:
            raise RetryAfterTooLong(seconds)
        return seconds

    def wait_s(self, failure: Transient, attempt: int, rng: random.Random | Any = random) -> float:
        """Retry-After when the server sent one (checked against the cap), else backoff."""
        if failure.retry_after is not None:
            return self.check_retry_after(failure.retry_after)
        return self.backoff_s(attempt, rng)


class RetrySettingsMixin:
    """For a settings dataclass with the four policy fields: its `RetryPolicy` (SPARQL, Commons, HTTP backends)."""

    max_attempts: int
    backoff_base_s: float
    backoff_max_s: float
    max_retry_after_s: float

    @property
    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(self.max_attempts, self.backoff_base_s, self.backoff_max_s, self.max_retry_after_s)


def call_with_retries(
    attempt: Callable[[], T],
    policy: RetryPolicy,
    *,
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | Any = random,
    wait: Callable[[Transient, int], float | None] | None = None,
    on_retry: Callable[[Transient, float], None] | None = None,
) -> T:
    """`attempt()` until it returns, at most `policy.max_attempts` times (see module doc).

    `wait(failure, attempt)` overrides the pause (None: the caller has already paused, as Commons'
    per-host gate does for a Retry-After); `on_retry(failure, seconds)` is told of every retry.
    """
    last: Transient | None = None
    for number in range(1, policy.max_attempts + 1):
        try:
            return attempt()
        except Transient as failure:
            last = failure
        if number == policy.max_attempts:
            break
        seconds = wait(last, number) if wait is not None else policy.wait_s(last, number, rng)
        if on_retry is not None:
            on_retry(last, seconds or 0.0)
        if seconds is not None:
            sleep(seconds)
    assert last is not None
    raise RetriesExhausted(last, policy.max_attempts)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Retry-After as seconds: a number (fractions allowed) or an HTTP date; None if absent or unreadable."""
    if not value or not value.strip():
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, when.timestamp() - (time.time() if now is None else now.timestamp()))
