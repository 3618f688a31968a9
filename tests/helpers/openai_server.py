"""A loopback OpenAI-compatible server with scripted answers, for the refine/filter tests and benchmark.

It speaks the two endpoints a vLLM or SGLang server offers, `POST /v1/chat/completions` and
`POST /v1/completions`, in their response shapes (chat `logprobs.content[0].top_logprobs`,
completions `logprobs.top_logprobs[0]`). What it answers is scripted per request:

- `script(match, *replies)`: a request whose prompt text contains `match` gets the replies in
  order, the last one repeating ("429 with Retry-After, then the answer");
- otherwise `responder(body) -> Reply` decides (default: an empty JSON object, which refinement
  rejects as malformed).

A `Reply` can carry text, top log-probabilities for the first token, a finish reason, an HTTP
error status with an optional `Retry-After`, an extra delay, a 200 answer whose JSON is cut off,
or a dropped connection. `latency_s` adds a fixed service time to every request (the benchmark's
"server with fixed latency"). The server records every request (time, path, body, prompt text) and
the peak number served at once, so tests can check concurrency bounds and Retry-After pauses.
It runs an aiohttp application on its own event loop in a background thread.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.helpers.ports import free_loopback_port


@dataclass(frozen=True)
class Reply:
    """One scripted answer."""

    content: str | None = "{}"
    status: int = 200
    retry_after: str | None = None
    delay_s: float = 0.0
    malformed: bool = False  # 200 with a JSON body cut in half
    reset: bool = False  # close the connection without answering
    logprobs: dict[str, float] | None = None  # top log-probabilities of the first generated token
    finish_reason: str = "stop"


@dataclass
class Seen:
    """One request as the server saw it."""

    time: float
    path: str
    body: dict[str, Any]
    prompt: str
    headers: dict[str, str] = field(default_factory=dict)


def prompt_text(body: dict[str, Any]) -> str:
    """All text of a request: chat message contents (text parts) or the completion prompt."""
    if "prompt" in body:
        return str(body["prompt"])
    texts = []
    for message in body.get("messages", []):
        content = message.get("content")
        if isinstance(content, str):
            texts.append(content)
        elif isinstance(content, list):
            texts += [part.get("text", "") for part in content if part.get("type") == "text"]
    return "\n".join(texts)


def record_of(body: dict[str, Any]) -> dict[str, Any]:
    """The record JSON of a refinement request (the variable part after "Record:")."""
    text = prompt_text(body)
    return json.loads(text.rsplit("Record:\n", 1)[1].split("<|im_end|>")[0])


def refined(question: str, answer: str, **extra: Any) -> str:
    """A well-formed refinement reply."""
    return json.dumps({"question": question, "answer": answer, **extra}, ensure_ascii=False)


def _chat_body(body: dict[str, Any], reply: Reply) -> dict[str, Any]:
    choice: dict[str, Any] = {
        "index": 0,
        "message": {"role": "assistant", "content": reply.content},
        "finish_reason": reply.finish_reason,
        "logprobs": None,
    }
    if body.get("logprobs") and reply.logprobs is not None:
        ranked = sorted(reply.logprobs.items(), key=lambda item: -item[1])[: int(body.get("top_logprobs") or 1)]
        first = ranked[0] if ranked else ("", 0.0)
        choice["logprobs"] = {
            "content": [
                {
                    "token": first[0],
                    "logprob": first[1],
                    "top_logprobs": [{"token": t, "logprob": lp, "bytes": None} for t, lp in ranked],
                }
            ]
        }
    return {"id": "chatcmpl-test", "object": "chat.completion", "model": body.get("model"), "choices": [choice]}


def _completion_body(body: dict[str, Any], reply: Reply) -> dict[str, Any]:
    choice: dict[str, Any] = {"index": 0, "text": reply.content, "finish_reason": reply.finish_reason, "logprobs": None}
    if body.get("logprobs") and reply.logprobs is not None:
        first = max(reply.logprobs.items(), key=lambda item: item[1])
        choice["logprobs"] = {"tokens": [first[0]], "token_logprobs": [first[1]], "top_logprobs": [reply.logprobs]}
    return {"id": "cmpl-test", "object": "text_completion", "model": body.get("model"), "choices": [choice]}


@dataclass
class _Script:
    replies: list[Reply]
    served: int = 0

    def next(self) -> Reply:
        reply = self.replies[min(self.served, len(self.replies) - 1)]
        self.served += 1
        return reply


@dataclass
class OpenAITestServer:
    """Context manager: `with OpenAITestServer(...) as server: client(url=server.url)`."""

    responder: Callable[[dict[str, Any]], Reply] = field(default=lambda body: Reply())
    latency_s: float = 0.0
    port: int = field(default_factory=free_loopback_port)
    seen: list[Seen] = field(default_factory=list)
    active: int = 0
    max_active: int = 0

    def __post_init__(self) -> None:
        self._scripts: list[tuple[str, _Script]] = []
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def script(self, match: str, *replies: Reply) -> None:
        """Requests whose prompt contains `match` get `replies` in order (the last repeats)."""
        with self._lock:
            self._scripts.append((match, _Script(list(replies))))

    def _pick(self, body: dict[str, Any]) -> Reply:
        text = prompt_text(body)
        with self._lock:
            for match, script in self._scripts:
                if match in text:
                    return script.next()
        return self.responder(body)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            body = json.loads(raw)
        except json.JSONDecodeError:
            return web.json_response({"error": "body is not JSON"}, status=400)
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        try:
            self.seen.append(Seen(time.monotonic(), request.path, body, prompt_text(body), dict(request.headers)))
            reply = self._pick(body)
            await asyncio.sleep(self.latency_s + reply.delay_s)
            return self._respond(request, body, reply)
        finally:
            self.active -= 1

    def _respond(self, request: web.Request, body: dict[str, Any], reply: Reply) -> web.StreamResponse:
        if reply.reset:
            if request.transport is not None:
                request.transport.abort()
            return web.Response(status=500)
        if reply.status != 200:
            headers = {"Retry-After": reply.retry_after} if reply.retry_after is not None else {}
            return web.json_response({"error": {"message": f"scripted {reply.status}"}}, status=reply.status,
                                     headers=headers)
        shape = _completion_body if request.path.endswith("/completions") and "prompt" in body else _chat_body
        text = json.dumps(shape(body, reply), ensure_ascii=False)
        if reply.malformed:
            text = text[: len(text) // 2]
        return web.Response(text=text, content_type="application/json")

    async def _serve(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/chat/completions", self._handle)
        app.router.add_post("/v1/completions", self._handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", self.port, backlog=1024)
        await site.start()
        self._stop = asyncio.Event()
        self._ready.set()
        await self._stop.wait()
        await runner.cleanup()

    def __enter__(self) -> OpenAITestServer:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_until_complete, args=(self._serve(),), daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout=10):
            raise RuntimeError("the OpenAI test server did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._loop is not None and self._thread is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=10)
        self._loop.close()
