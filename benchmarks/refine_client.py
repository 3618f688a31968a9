"""Refinement HTTP client throughput against a server with a fixed latency (issue 4).

A server that takes L seconds per request and serves any number at once lets a client with at
most C requests in flight finish at best C / L requests per second: that concurrency bound is the
reference. The project's client (`data_gen.backends.http.HttpTextGenerator`, the one `stage=refine`
uses: aiohttp, bounded semaphore, retry bookkeeping, JSON parsing) sends real refinement prompts
built from QA records to the loopback OpenAI test server (tests/helpers/openai_server.py), which
runs in its own process so the two do not share a GIL. Target: ≥ 80 % of the bound.

    python benchmarks/refine_client.py [--quick] [--requests N] [--concurrency C] [--latency-s L]

The last line is `ratio_vs_reference=X.XX` (measured requests/s over C / L).
"""

from __future__ import annotations

import argparse
import multiprocessing
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from data_gen.backends.base import BackendSettings
from data_gen.backends.http import HttpTextGenerator
from data_gen.backends.prompts import RefineItem, refine_messages
from tests.helpers.openai_server import OpenAITestServer, Reply, refined
from tests.helpers.refine_records import make_record

REPLY = Reply(refined("When was the construction of the building shown here finished?", "1889"))


def _fixed_reply(body: dict) -> Reply:
    return REPLY


def _serve(port: int, latency_s: float, ready: multiprocessing.Event, stop: multiprocessing.Event) -> None:
    with OpenAITestServer(responder=_fixed_reply, latency_s=latency_s, port=port):
        ready.set()
        stop.wait()


def measure(url: str, conversations: list, concurrency: int) -> float:
    settings = BackendSettings(backend="http", model="bench", url=url, concurrency=concurrency, timeout_s=60.0)
    generator = HttpTextGenerator(settings)
    start = time.perf_counter()
    generations = generator.generate(conversations, max_new_tokens=64)
    elapsed = time.perf_counter() - start
    if any(g.text != REPLY.content for g in generations):
        raise SystemExit("benchmark answers differ from the scripted reply")
    return len(conversations) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--latency-s", type=float, default=0.2)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    count, rounds = (400, 1) if args.quick else (args.requests, args.rounds)
    conversations = [refine_messages(RefineItem.from_record(make_record(i))) for i in range(count)]
    from tests.helpers.ports import free_loopback_port

    port = free_loopback_port()
    ready, stop = multiprocessing.Event(), multiprocessing.Event()
    server = multiprocessing.Process(target=_serve, args=(port, args.latency_s, ready, stop), daemon=True)
    server.start()
    if not ready.wait(timeout=30):
        raise SystemExit("the test server did not start")
    try:
        url = f"http://127.0.0.1:{port}/v1"
        measure(url, conversations[: min(count, 2 * args.concurrency)], args.concurrency)  # warm-up
        rates = [measure(url, conversations, args.concurrency) for _ in range(rounds)]
    finally:
        stop.set()
        server.join(timeout=10)
    bound = args.concurrency / args.latency_s
    rate = statistics.median(rates)
    print(f"machine: {platform.machine()} python {platform.python_version()}; {count} requests x {rounds} rounds")
    print(f"reference (concurrency bound C/L = {args.concurrency}/{args.latency_s:g} s): {bound:.1f} requests/s")
    print(f"project (HttpTextGenerator, refine prompts, median): {rate:.1f} requests/s")
    print(f"ratio_vs_reference={rate / bound:.2f}")


if __name__ == "__main__":
    main()
