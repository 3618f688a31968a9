"""OpenAI-compatible HTTP backend (a vLLM or SGLang server): async, bounded, polite, retried.

One `asyncio` run per batch of requests (a stage part): an `aiohttp` session with at most
`concurrency` requests in flight (a semaphore plus a connector of the same size), so the server's
continuous batching stays full while the client never floods it. Each request is retried up to
`max_attempts` times on 429, 408 and 5xx answers, timeouts, dropped connections and 200 answers
whose body is not the expected JSON (a server cut off mid-answer). Waits are exponential backoff
with ±50 % jitter, or the server's `Retry-After` (seconds or an HTTP date) when it sends one; a
`Retry-After` pauses *every* request of the client, not just the one that got it, and one longer
than `max_retry_after_s` stops the stage rather than sleeping for hours. Other 4xx answers
(e.g. 400 for a prompt that is too long) cannot be fixed by retrying: they come back as that
request's error. When a request runs out of attempts the whole batch fails with `BackendError`
(nothing of the part is written; a re-run resumes there).

Trade-off: requests of one part are all issued before the next part starts, so the tail of each
part runs below full concurrency; with parts of a few thousand records and a concurrency of
32–128 that costs a few percent, and in exchange a part is the unit of resume.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from data_gen.backends.base import BackendError, BackendSettings, Generation, Message, Score, VisionRequest
from data_gen.backends.prompts import data_url_part, filter_messages, p_yes_from_logprobs, p_yes_from_text
from data_gen.common.retry import RetryAfterTooLong, Transient, parse_retry_after

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class Rejected:
    """A request the server refused for good (a 4xx other than 408/429)."""

    status: int
    message: str


class OpenAIHttpClient:
    """POSTs JSON bodies to `<url>/<path>` with bounded concurrency and retries (see module doc)."""

    def __init__(self, settings: BackendSettings) -> None:
        self.settings = settings
        self.base_url = str(settings.url).rstrip("/")
        self.headers = {"Content-Type": "application/json"}
        if settings.api_key_env:
            key = os.environ.get(settings.api_key_env)
            if not key:
                raise BackendError(f"api_key_env names {settings.api_key_env!r}, which is not set")
            self.headers["Authorization"] = f"Bearer {key}"
        self.stats: Counter = Counter()  # requests, retries by kind, rejections
        self._resume_at = 0.0

    def post_many(self, path: str, payloads: list[dict[str, Any]]) -> list[dict[str, Any] | Rejected]:
        """Send every payload; answers in input order (parsed JSON bodies, or `Rejected`)."""
        if not payloads:
            return []
        return asyncio.run(self._post_all(path, payloads))

    async def _post_all(self, path: str, payloads: list[dict[str, Any]]) -> list[dict[str, Any] | Rejected]:
        limit = self.settings.concurrency
        semaphore = asyncio.Semaphore(limit)
        timeout = aiohttp.ClientTimeout(total=self.settings.timeout_s or None)
        connector = aiohttp.TCPConnector(limit=limit)
        url = f"{self.base_url}/{path.lstrip('/')}"
        async with aiohttp.ClientSession(connector=connector, timeout=timeout, headers=self.headers) as session:
            tasks = [asyncio.create_task(self._post_one(session, semaphore, url, body)) for body in payloads]
            try:
                return list(await asyncio.gather(*tasks))
            except BaseException:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                raise

    async def _post_one(
        self, session: aiohttp.ClientSession, semaphore: asyncio.Semaphore, url: str, body: dict[str, Any]
    ) -> dict[str, Any] | Rejected:
        last = "no attempt made"
        for attempt in range(1, self.settings.max_attempts + 1):
            try:
                async with semaphore:
                    await self._wait_for_pause()  # inside: a slot freed by a 429 must not slip past its pause
                    self.stats["requests"] += 1
                    return await self._attempt(session, url, body)
            except Transient as problem:
                self.stats[f"retry:{problem.kind}"] += 1
                last = f"{problem.kind} ({problem})"
                if attempt < self.settings.max_attempts:
                    await self._back_off(attempt, problem.retry_after)
        raise BackendError(f"{url}: request failed after {self.settings.max_attempts} attempts; last error: {last}")

    async def _attempt(
        self, session: aiohttp.ClientSession, url: str, body: dict[str, Any]
    ) -> dict[str, Any] | Rejected:
        try:
            async with session.post(url, json=body) as response:
                text = await response.text(errors="replace")
                if response.status in RETRY_STATUSES:
                    wait = parse_retry_after(response.headers.get("Retry-After"))
                    raise Transient(text[:200], retry_after=wait, kind=f"http_{response.status}")
                if response.status >= 400:
                    self.stats[f"rejected:{response.status}"] += 1
                    return Rejected(response.status, text[:500])
        except (aiohttp.ClientError, asyncio.TimeoutError, ConnectionError) as error:
            kind = "timeout" if isinstance(error, asyncio.TimeoutError) else "connection"
            raise Transient(f"{type(error).__name__}: {error}", kind=kind) from None
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError as error:
            raise Transient(f"answer is not JSON ({error.msg} at {error.pos})", kind="bad_body") from None
        if not isinstance(parsed, dict) or not isinstance(parsed.get("choices"), list) or not parsed["choices"]:
            raise Transient("answer has no 'choices'", kind="bad_body")
        return parsed

    async def _wait_for_pause(self) -> None:
        delay = self._resume_at - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)

    async def _back_off(self, attempt: int, retry_after: float | None) -> None:
        """The shared policy (data_gen.common.retry); a Retry-After pauses every request to the server."""
        policy = self.settings.retry_policy
        if retry_after is None:
            await asyncio.sleep(policy.backoff_s(attempt))
            return
        try:
            policy.check_retry_after(retry_after)
        except RetryAfterTooLong:
            raise BackendError(
                f"{self.base_url}: server asks to wait {retry_after:.0f} s (Retry-After), "
                f"more than max_retry_after_s={policy.max_retry_after_s:g}; try again later"
            ) from None
        self._resume_at = max(self._resume_at, time.monotonic() + retry_after)
        await self._wait_for_pause()


def _first_choice(body: dict[str, Any]) -> dict[str, Any]:
    choice = body["choices"][0]
    return choice if isinstance(choice, dict) else {}


class HttpTextGenerator:
    """Refinement through `/chat/completions` (default) or `/completions` with a locally rendered prompt."""

    def __init__(self, settings: BackendSettings) -> None:
        self.settings = settings
        self.client = OpenAIHttpClient(settings)
        self._render: Callable[[list[Message]], str] | None = None
        if settings.api == "completions":
            self._render = _chat_template_renderer(settings.tokenizer)

    def generate(self, conversations: list[list[Message]], max_new_tokens: int) -> list[Generation]:
        common = {"model": self.settings.model, "max_tokens": max_new_tokens, "temperature": 0.0}
        if self._render is None:
            path, payloads = "chat/completions", [{**common, "messages": c} for c in conversations]
        else:
            path, payloads = "completions", [{**common, "prompt": self._render(c)} for c in conversations]
        return [self._generation(answer) for answer in self.client.post_many(path, payloads)]

    def _generation(self, answer: dict[str, Any] | Rejected) -> Generation:
        if isinstance(answer, Rejected):
            return Generation(None, None, f"request_rejected_{answer.status}")
        choice = _first_choice(answer)
        text = (choice.get("message") or {}).get("content") if self._render is None else choice.get("text")
        return Generation(text if isinstance(text, str) else "", choice.get("finish_reason"))

    def close(self) -> None:
        return None


def _chat_template_renderer(tokenizer_dir: str | None) -> Callable[[list[Message]], str]:
    """Render chat messages to a prompt string with a local tokenizer's own chat template."""
    if not tokenizer_dir:
        raise BackendError("api=completions renders prompts locally: set tokenizer to the model's tokenizer folder")
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    except (OSError, ValueError) as error:
        raise BackendError(f"cannot load tokenizer {tokenizer_dir!r}: {error}") from None

    def render(messages: list[Message]) -> str:
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    return render


def chat_top_logprobs(choice: dict[str, Any]) -> dict[str, float] | None:
    """`{token: logprob}` of the first generated token from a chat answer, or None when absent."""
    content = (choice.get("logprobs") or {}).get("content") or []
    if not content or not isinstance(content[0], dict):
        return None
    first = content[0]
    entries = first.get("top_logprobs") or [{"token": first.get("token"), "logprob": first.get("logprob")}]
    table = {}
    for entry in entries:
        token, logprob = (entry.get("token"), entry.get("logprob")) if isinstance(entry, dict) else (None, None)
        if isinstance(token, str) and isinstance(logprob, int | float):
            table[token] = float(logprob)
    return table or None


class HttpYesNoScorer:
    """Relevance through `/chat/completions` with the image inline and `logprobs`/`top_logprobs`."""

    def __init__(self, settings: BackendSettings, top_logprobs: int = 20) -> None:
        if settings.api != "chat":
            raise BackendError("the relevance filter sends images, which needs api=chat")
        self.settings = settings
        self.top_logprobs = top_logprobs
        self.client = OpenAIHttpClient(settings)

    def score(self, requests: list[VisionRequest]) -> list[Score]:
        payloads = [
            {
                "model": self.settings.model,
                "messages": filter_messages(r.question, r.answer, data_url_part(r.jpeg), r.entity),
                "max_tokens": 1,
                "temperature": 0.0,
                "logprobs": True,
                "top_logprobs": self.top_logprobs,
            }
            for r in requests
        ]
        return [self._score(answer) for answer in self.client.post_many("chat/completions", payloads)]

    @staticmethod
    def _score(answer: dict[str, Any] | Rejected) -> Score:
        if isinstance(answer, Rejected):
            return Score(None, None, error=f"request_rejected_{answer.status}")
        choice = _first_choice(answer)
        text = (choice.get("message") or {}).get("content")
        table = chat_top_logprobs(choice)
        p_yes = p_yes_from_logprobs(table) if table else None
        if p_yes is not None:
            return Score(p_yes, "logprobs", text)
        return Score(p_yes_from_text(text), "text", text)

    def close(self) -> None:
        return None
