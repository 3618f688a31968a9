"""The OpenAI-compatible HTTP backend against the project's loopback server (tests/helpers/openai_server.py)."""

from __future__ import annotations

import base64
import math
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest

from data_gen.backends.base import BackendError, BackendSettings, VisionRequest
from data_gen.backends.http import HttpTextGenerator, HttpYesNoScorer
from data_gen.backends.prompts import REFINE_INSTRUCTION, REFINE_SYSTEM, RefineItem, refine_messages
from data_gen.common.retry import parse_retry_after
from tests.helpers.openai_server import OpenAITestServer, Reply, record_of, refined
from tests.helpers.refine_records import jpeg, make_record


def settings(server: OpenAITestServer, **overrides: object) -> BackendSettings:
    values = {"backend": "http", "model": "test-model", "url": server.url, "concurrency": 4, "timeout_s": 5.0,
              "max_attempts": 3, "backoff_base_s": 0.05, "backoff_max_s": 0.2, **overrides}  # fmt: skip
    return BackendSettings(**values)


def conversations(count: int) -> list:
    return [refine_messages(RefineItem.from_record(make_record(i))) for i in range(count)]


def echo(body: dict) -> Reply:
    record = record_of(body)
    return Reply(refined("Rewritten: " + record["question"], record["answer"]))


def test_chat_requests_share_one_fixed_prefix_and_answers_keep_input_order():
    with OpenAITestServer(responder=echo) as server:
        generations = HttpTextGenerator(settings(server)).generate(conversations(12), max_new_tokens=64)
    assert [g.text for g in generations] == [
        refined("Rewritten: " + make_record(i)["question"], make_record(i)["answer"]) for i in range(12)
    ]
    assert all(g.finish_reason == "stop" and g.error is None for g in generations)
    bodies = [seen.body for seen in server.seen]
    assert {(b["model"], b["temperature"], b["max_tokens"]) for b in bodies} == {("test-model", 0.0, 64)}
    assert all(b["messages"][0] == {"role": "system", "content": REFINE_SYSTEM} for b in bodies)
    assert all(b["messages"][1]["content"].startswith(REFINE_INSTRUCTION) for b in bodies)  # prefix-cache friendly


def test_completions_api_renders_the_prompt_with_the_tokenizer_chat_template(tiny_stack):
    with OpenAITestServer(responder=echo) as server:
        generator = HttpTextGenerator(settings(server, api="completions", tokenizer=str(tiny_stack.tokenizer_dir)))
        generations = generator.generate(conversations(3), max_new_tokens=32)
    assert [seen.path for seen in server.seen] == ["/v1/completions"] * 3
    prompt = server.seen[0].body["prompt"]
    assert prompt.startswith("<|im_start|>system\n" + REFINE_SYSTEM) and prompt.endswith("<|im_start|>assistant\n")
    assert all(g.text and g.text.startswith('{"question": "Rewritten:') for g in generations)


def test_retry_after_pauses_every_request_of_the_client():
    def slow_echo(body: dict) -> Reply:
        return Reply(echo(body).content, delay_s=0.3)

    with OpenAITestServer(responder=slow_echo) as server:
        first = make_record(0)["question"]
        server.script(first, Reply(status=429, retry_after="1"), echo_reply := Reply(refined("ok", "1889")))
        generator = HttpTextGenerator(settings(server, concurrency=2))
        start = time.monotonic()
        generations = generator.generate(conversations(6), max_new_tokens=16)
    assert generations[0].text == echo_reply.content
    assert generator.client.stats["retry:http_429"] == 1
    arrivals = sorted(seen.time - start for seen in server.seen)
    assert len(arrivals) == 7
    # the 429 comes back at once; the request in flight then ends at 0.3 s, yet nothing is sent before 1 s
    assert arrivals[1] < 0.2 and arrivals[2] >= 0.95


@pytest.mark.parametrize(
    ("fault", "kind"),
    [
        (Reply(status=500), "retry:http_500"),
        (Reply(status=503, retry_after="0"), "retry:http_503"),
        (Reply(refined("x", "y"), malformed=True), "retry:bad_body"),
        (Reply(reset=True), "retry:connection"),
        (Reply(delay_s=1.5), "retry:timeout"),
    ],
    ids=["500", "503", "cut_off_json", "connection_reset", "slow"],
)
def test_transient_faults_are_retried_then_answered(fault, kind):
    with OpenAITestServer(responder=echo) as server:
        server.script(make_record(1)["question"], fault, fault, Reply(refined("fine", "Köln")))
        # only the slow case needs a short timeout; elsewhere a loaded CI machine must not turn a late
        # answer into a timeout that consumes a scripted reply (seen once: the 503 case failed under load)
        timeout = 0.5 if kind == "retry:timeout" else 10.0
        generator = HttpTextGenerator(settings(server, timeout_s=timeout))
        generations = generator.generate(conversations(3), max_new_tokens=16)
    assert generations[1].text == refined("fine", "Köln")
    assert generator.client.stats[kind] == 2
    assert generations[0].text and generations[2].text


def test_retries_are_bounded_and_end_in_a_clear_error():
    with OpenAITestServer(responder=lambda body: Reply(status=503)) as server:
        start = time.monotonic()
        with pytest.raises(BackendError, match=r"failed after 3 attempts; last error: http_503"):
            HttpTextGenerator(settings(server)).generate(conversations(2), max_new_tokens=8)
    per_request = Counter(seen.prompt for seen in server.seen)
    assert max(per_request.values()) == 3 and len(server.seen) <= 6  # the other is cancelled once one fails
    assert time.monotonic() - start < 30  # bounded: no endless retrying


def test_a_retry_after_beyond_the_limit_stops_at_once():
    with OpenAITestServer(responder=lambda body: Reply(status=429, retry_after="3600")) as server:
        start = time.monotonic()
        with pytest.raises(BackendError, match="Retry-After"):
            HttpTextGenerator(settings(server, max_retry_after_s=60)).generate(conversations(1), max_new_tokens=8)
    assert time.monotonic() - start < 30  # stopped at once instead of waiting an hour


def test_a_refused_request_is_that_records_error_not_the_runs():
    with OpenAITestServer(responder=echo) as server:
        server.script(make_record(2)["question"], Reply(status=400))
        generator = HttpTextGenerator(settings(server))
        generations = generator.generate(conversations(3), max_new_tokens=8)
    assert generations[2].error == "request_rejected_400" and generations[2].text is None
    assert generations[0].text and generations[1].text and len(server.seen) == 3


def test_concurrency_is_bounded_and_used():
    with OpenAITestServer(responder=echo, latency_s=0.1) as server:
        HttpTextGenerator(settings(server, concurrency=8)).generate(conversations(40), max_new_tokens=8)
    assert server.max_active == 8


def test_bearer_token_comes_from_the_named_environment_variable(monkeypatch):
    monkeypatch.setenv("TEST_REFINE_TOKEN", "s3cret")
    with OpenAITestServer(responder=echo) as server:
        HttpTextGenerator(settings(server, api_key_env="TEST_REFINE_TOKEN")).generate(conversations(1), 8)
        monkeypatch.delenv("TEST_REFINE_TOKEN")
        with pytest.raises(BackendError, match="TEST_REFINE_TOKEN"):
            HttpTextGenerator(settings(server, api_key_env="TEST_REFINE_TOKEN"))
    assert server.seen[0].headers["Authorization"] == "Bearer s3cret"


def test_retry_after_header_forms():
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=timezone.utc)
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(format_datetime(now + timedelta(seconds=30), usegmt=True), now=now) == 30.0
    assert parse_retry_after(format_datetime(now - timedelta(seconds=30), usegmt=True), now=now) == 0.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


def vision_requests(count: int) -> list[VisionRequest]:
    return [VisionRequest(f"Question {i}?", f"answer {i}", jpeg(i)) for i in range(count)]


def test_filter_scores_from_top_logprobs_normalised_over_yes_no_variants():
    logprobs = {"Yes": -0.2, " yes": -3.0, "No": -2.0, "Maybe": -1.0}
    with OpenAITestServer(responder=lambda body: Reply("Yes", logprobs=logprobs)) as server:
        server.script("Question 1?", Reply("No", logprobs={"No": -0.05, "Yes": -3.5}))
        scores = HttpYesNoScorer(settings(server), top_logprobs=5).score(vision_requests(2))
    expected = (math.exp(-0.2) + math.exp(-3.0)) / (math.exp(-0.2) + math.exp(-3.0) + math.exp(-2.0))
    assert scores[0].p_yes == pytest.approx(expected) and scores[0].source == "logprobs"
    assert scores[1].p_yes == pytest.approx(math.exp(-3.5) / (math.exp(-3.5) + math.exp(-0.05)))
    body = server.seen[0].body
    assert (body["max_tokens"], body["logprobs"], body["top_logprobs"], body["temperature"]) == (1, True, 5, 0.0)
    image = body["messages"][1]["content"][1]["image_url"]["url"]
    assert image.startswith("data:image/jpeg;base64,")
    assert base64.b64decode(image.split(",", 1)[1]) == jpeg(int(server.seen[0].prompt.split("Question ")[1][0]))


def test_filter_falls_back_to_the_text_and_says_so():
    with OpenAITestServer(responder=lambda body: Reply("No.", logprobs=None)) as server:
        server.script("Question 1?", Reply("Yes", logprobs={"Oui": -0.1}))  # listed tokens hold no yes/no
        server.script("Question 2?", Reply("Perhaps", logprobs=None))
        scores = HttpYesNoScorer(settings(server)).score(vision_requests(3))
    assert [(s.p_yes, s.source) for s in scores] == [(0.0, "text"), (1.0, "text"), (None, "text")]


def test_filter_needs_the_chat_api():
    with OpenAITestServer() as server, pytest.raises(BackendError, match="api=chat"):
        HttpYesNoScorer(settings(server, api="completions"))


def test_the_relevance_prompt_names_the_entity_the_image_should_show(tmp_path):
    """Issue 17: the filter prompt never named the entity, so a photo of the wrong entity passed."""
    from data_gen.filter.relevance import _request

    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "a.jpg").write_bytes(jpeg(1))
    record = {"question": "Which mountain is this?", "answer": "Mount Fuji", "qid": "Q39231", "image": "images/a.jpg",
              "provenance": {"entity_label": "Mount Fuji"}}
    request = _request(record, tmp_path, 1280)
    assert request.entity == "Mount Fuji (Q39231)"
    with OpenAITestServer(responder=lambda body: Reply("No", logprobs={"No": -0.1, "Yes": -2.5})) as server:
        HttpYesNoScorer(settings(server)).score([request, VisionRequest("Question 0?", "answer 0", jpeg(0))])
    prompts = sorted(seen.prompt for seen in server.seen)
    assert any("The image should show: Mount Fuji (Q39231)\nQuestion: Which mountain is this?" in p for p in prompts)
    assert any("Question 0?" in p and "should show" not in p for p in prompts)  # a record without an entity
