"""`stage=filter` end to end: refine/ parts → filter/ parts, HTTP with scripted log-probabilities and the tiny VLM."""

from __future__ import annotations

import json
import math
from collections import Counter

import pytest

from data_gen.common.parts import iter_records
from tests.helpers.openai_server import OpenAITestServer, Reply
from tests.helpers.refine_records import make_record, run_stage, write_qa_stage
from tests.helpers.tiny_hf_vlm import tiny_vlm_dir


def p_yes(number: int) -> float:
    return 0.05 + 0.1 * (number % 10)  # 0.05 … 0.95


def number_in(prompt: str) -> int:
    question = prompt.split("Question: ", 1)[1].split("\nAnswer:", 1)[0]
    return int(question.rsplit("[", 1)[1].rstrip("]")) if question.endswith("]") else next(
        i for i in range(10) if make_record(i)["question"] == question)  # fmt: skip


def scripted(body: dict) -> Reply:
    prompt = "\n".join(part.get("text", "") for part in body["messages"][1]["content"] if part["type"] == "text")
    number = number_in(prompt)
    if number == 7:
        return Reply("Yes", logprobs=None)  # a server without log-probabilities
    p = p_yes(number)
    return Reply("Yes" if p >= 0.5 else "No", logprobs={"Yes": math.log(p), "No": math.log(1 - p), "The": -5.0})


def prepared(tmp_path, parts: dict) -> None:
    write_qa_stage(tmp_path, parts)
    assert run_stage("refine", tmp_path, "refine.backend=none") == 0


def http(server: OpenAITestServer, *extra: str) -> list[str]:
    return ["filter.backend=http", f"filter.url={server.url}", "filter.model=test-vlm", "filter.concurrency=4",
            "filter.backoff_base_s=0.05", *extra]  # fmt: skip


def test_http_filter_keeps_records_at_or_above_the_threshold_and_records_scores(tmp_path):
    prepared(tmp_path, {"FR": [12, 8], "JP": [10]})
    (tmp_path / make_record(3)["image"]).unlink()  # a vanished image
    with OpenAITestServer(responder=scripted) as server:
        server.script(make_record(5)["question"] + "\n", Reply(status=503, retry_after="0"), Reply(status=400))
        assert run_stage("filter", tmp_path, *http(server, "filter.threshold=0.5")) == 0
    kept = {int(r["qid"][1:]) - 1000: r for r in iter_records(tmp_path / "filter")}
    expected = {n for n in range(30) if p_yes(n) >= 0.5 and n not in (3, 5)}
    assert set(kept) == expected
    for number, record in kept.items():
        source = "text" if number == 7 else "logprobs"
        assert record["provenance"]["filter_source"] == source
        assert record["provenance"]["filter_score"] == pytest.approx(1.0 if number == 7 else p_yes(number), abs=1e-6)
    manifest = json.loads((tmp_path / "filter" / "manifest.json").read_text())
    below = sum(1 for n in range(30) if p_yes(n) < 0.5 and n not in (3, 5))
    assert manifest["reasons"] == {"below_threshold": below, "kept": len(expected), "no_image": 1, "request_failed": 1}
    assert manifest["records_in"] == 30 and manifest["records_out"] == len(expected)
    image_url = server.seen[0].body["messages"][1]["content"][1]["image_url"]["url"]
    assert image_url.startswith("data:image/jpeg;base64,")


def test_tiny_vlm_default_scores_everything_and_threshold_splits_exactly(tmp_path, tmp_path_factory):
    parts = {"FR": [8], "JP": [6]}
    prepared(tmp_path / "all", parts)
    assert run_stage("filter", tmp_path / "all", "filter.device=cpu") == 0  # defaults: model tiny, threshold 0.0
    scored = {r["id"]: r["provenance"] for r in iter_records(tmp_path / "all" / "filter")}
    assert len(scored) == 14 and all(p["filter_source"] == "logits" for p in scored.values())
    assert all(0.0 <= p["filter_score"] <= 1.0 for p in scored.values())
    ranked = sorted(p["filter_score"] for p in scored.values())
    assert ranked[6] < ranked[7]
    threshold = (ranked[6] + ranked[7]) / 2  # halfway: recorded scores are rounded to 6 decimals
    prepared(tmp_path / "split", parts)
    model = tiny_vlm_dir(tmp_path_factory)
    assert run_stage("filter", tmp_path / "split", f"filter.model={model}", "filter.device=cpu",
                     f"filter.threshold={threshold}") == 0  # fmt: skip
    kept = {r["id"] for r in iter_records(tmp_path / "split" / "filter")}
    # the session's tiny VLM has the same seed as the one built under out_dir: same scores, exact split
    assert kept == {i for i, p in scored.items() if p["filter_score"] >= threshold} and len(kept) == 7


def test_sample_fraction_scores_a_fixed_subset_and_keeps_the_rest_unscored(tmp_path):
    from data_gen.backends.base import is_sampled

    prepared(tmp_path, {"FR": [12, 8]})
    sampled = {n for n in range(20) if is_sampled(make_record(n, "FR"), 0.4)}
    assert 0 < len(sampled) < 20
    with OpenAITestServer(responder=scripted) as server:
        assert run_stage("filter", tmp_path, *http(server, "filter.threshold=0.5", "filter.sample_fraction=0.4")) == 0
        requests = len(server.seen)
    kept = {int(r["qid"][1:]) - 1000: r["provenance"] for r in iter_records(tmp_path / "filter")}
    assert requests == len(sampled)
    assert set(kept) == (set(range(20)) - sampled) | {n for n in sampled if p_yes(n) >= 0.5}
    assert all((kept[n]["filter_score"], kept[n]["filter_source"]) == (None, "not_sampled")
               for n in set(range(20)) - sampled)  # fmt: skip
    manifest = json.loads((tmp_path / "filter" / "manifest.json").read_text())
    assert manifest["reasons"]["not_sampled"] == 20 - len(sampled)


def test_backend_none_keeps_everything_unscored(tmp_path):
    prepared(tmp_path, {"FR": [4]})
    assert run_stage("filter", tmp_path, "filter.backend=none") == 0
    records = list(iter_records(tmp_path / "filter"))
    assert len(records) == 4
    assert Counter((r["provenance"]["filter_score"], r["provenance"]["filter_source"]) for r in records) == {
        (None, None): 4}  # fmt: skip


def test_filter_needs_a_finished_refine_stage(tmp_path, capsys):
    write_qa_stage(tmp_path, {"FR": [2]})
    assert run_stage("filter", tmp_path, "filter.backend=none") == 2
    err = capsys.readouterr().err
    assert "refine output" in err and "run it first" in err
