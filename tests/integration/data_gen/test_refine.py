"""`stage=refine` end to end: qa/ parts → refine/ parts over HTTP (loopback server) and transformers (tiny)."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from data_gen.common.parts import iter_records, list_parts
from data_gen.refine.budget import needed_budget, resolve_budget
from data_gen.refine.guards import GuardSettings
from tests.helpers.openai_server import OpenAITestServer, Reply, record_of, refined
from tests.helpers.refine_records import DRIVER, good_rewrite, make_record, run_stage, write_qa_stage

REPO = Path(__file__).resolve().parents[3]
PARTS = {"FR": [12, 8], "JP": [10]}


def http(server: OpenAITestServer, *extra: str) -> list[str]:
    return ["refine.backend=http", f"refine.url={server.url}", "refine.model=test-llm", "refine.concurrency=4",
            "refine.backoff_base_s=0.05", "refine.timeout_s=5", *extra]  # fmt: skip


LATIN = {"en", "de", "fr"}


def number_of(question: str) -> int:
    return int(question.rsplit("[", 1)[1].rstrip("]")) if question.endswith("]") else next(
        i for i in range(10) if make_record(i)["question"] == question)  # fmt: skip


def scripted(body: dict) -> Reply:
    """By record number: good rewrites, leaks, English drift and chatty preambles in turn."""
    source = make_record(number_of(record_of(body)["question"]))
    good, answer, kind = good_rewrite(source), source["answer"], number_of(source["question"]) % 6
    if kind == 1:
        return Reply(refined(f"{good} ({answer})", answer))
    if kind == 2 and source["language"] != "en":
        return Reply(refined("Which city or year is shown in this picture, exactly?", answer))
    if kind == 3:
        return Reply("Sure! Here is the question: " + refined(good, answer))
    return Reply(refined(good, answer))


def source_of(record: dict) -> dict:
    """The qa record a refine/filter output record came from."""
    return make_record(int(record["qid"][1:]) - 1000, record["country"])


def expected_reason(number: int) -> str:
    language, kind = make_record(number)["language"], number % 6
    if kind == 2 and language != "en":
        return "wrong_language" if language in LATIN else "wrong_script"
    return {1: "leak", 3: "malformed"}.get(kind, "refined")


def faults(server: OpenAITestServer) -> None:
    for number, replies in ((12, (Reply(status=429, retry_after="0.2"), Reply(status=500))),
                            (18, (Reply("{", malformed=True), Reply(reset=True)))):  # fmt: skip
        source = make_record(number)
        server.script(source["question"], *replies, Reply(refined(good_rewrite(source), source["answer"])))


def test_refine_over_http_keeps_good_rewrites_and_counts_every_rejection(tmp_path, capsys):
    write_qa_stage(tmp_path, PARTS)
    with OpenAITestServer(responder=scripted) as server:
        faults(server)
        assert run_stage("refine", tmp_path, *http(server)) == 0
    records = list(iter_records(tmp_path / "refine"))
    assert [source_of(r)["id"] for r in records] == [r["id"] for r in records]
    assert [r["provenance"]["refine_reason"] for r in records] == [expected_reason(i) for i in range(30)]
    for record in records:
        source = source_of(record)
        if record["provenance"]["refined"]:
            assert record["question"] == good_rewrite(source)
            assert record["conversations"][0]["value"].startswith("<image>\n" + good_rewrite(source))
            assert record["conversations"][1] == source["conversations"][1]
        else:
            assert (record["question"], record["conversations"]) == (source["question"], source["conversations"])
    manifest = json.loads((tmp_path / "refine" / "manifest.json").read_text())
    reasons = Counter(expected_reason(i) for i in range(30))
    assert manifest["records_in"] == manifest["records_out"] == 30 and manifest["reasons"] == dict(sorted(
        reasons.items()))  # fmt: skip
    assert set(reasons) == {"refined", "leak", "malformed", "wrong_language", "wrong_script"}
    assert manifest["settings"]["backend"] == "http" and "url" not in manifest["settings"]
    captured = capsys.readouterr()
    assert "3 parts written" in captured.out and "manifest written" in captured.out
    # max_new_tokens: null → sized from the longest acceptable reply of the input (data_gen/refine/budget.py)
    bound = needed_budget(tmp_path / "qa", GuardSettings())
    budget = resolve_budget(None, bound)
    assert {seen.body["max_tokens"] for seen in server.seen} == {budget} and budget >= bound.tokens
    assert manifest["settings"]["max_new_tokens"] == budget and f"max_new_tokens={budget}" in captured.err


def test_a_refine_budget_too_small_for_the_reply_is_refused_before_any_request(tmp_path, capsys):
    write_qa_stage(tmp_path, {"FR": [10]})
    with OpenAITestServer(responder=scripted) as server:
        assert run_stage("refine", tmp_path, *http(server, "refine.max_new_tokens=64")) != 0
    assert server.seen == [] and not list_parts(tmp_path / "refine")
    assert "refine.max_new_tokens=64 is too small" in capsys.readouterr().err


def test_refine_with_transformers_on_the_tiny_model_keeps_templates_and_says_why(tmp_path, capsys):
    write_qa_stage(tmp_path, {"FR": [6], "JP": [4]})
    assert run_stage("refine", tmp_path, "refine.max_new_tokens=12", "refine.device=cpu") == 0
    records = list(iter_records(tmp_path / "refine"))
    assert len(records) == 10 and (tmp_path / "tiny_models" / "refine_llm" / "config.json").exists()
    assert all(r["provenance"]["refined"] is False for r in records)
    assert {r["provenance"]["refine_reason"] for r in records} <= {"truncated", "malformed", "empty"}
    assert [r["question"] for r in records] == [make_record(i)["question"] for i in range(10)]
    assert "example of" in capsys.readouterr().err


def test_sample_fraction_sends_a_fixed_subset_and_passes_the_rest_through(tmp_path):
    """The demo's setting: only the records whose ID hash falls below the fraction reach the server."""
    from data_gen.backends.base import is_sampled

    write_qa_stage(tmp_path, PARTS)
    countries = [country for country, sizes in PARTS.items() for _ in range(sum(sizes))]  # numbered across parts
    chosen = {make_record(i, c)["id"] for i, c in enumerate(countries) if is_sampled(make_record(i, c), 0.3)}
    assert 0 < len(chosen) < 30
    with OpenAITestServer(responder=scripted) as server:
        assert run_stage("refine", tmp_path, *http(server, "refine.sample_fraction=0.3")) == 0
        asked = {record_of(seen.body)["question"] for seen in server.seen}
    records = list(iter_records(tmp_path / "refine"))
    assert len(records) == 30  # refinement never drops a record
    assert len(asked) == len(chosen)
    for record in records:
        source = source_of(record)
        if record["id"] in chosen:
            assert source["question"] in asked and record["provenance"]["refine_reason"] != "not_sampled"
        else:
            assert record["provenance"]["refine_reason"] == "not_sampled" and record["question"] == source["question"]
    manifest = json.loads((tmp_path / "refine" / "manifest.json").read_text())
    assert manifest["reasons"]["not_sampled"] == 30 - len(chosen)
    assert manifest["settings"]["sample_fraction"] == 0.3


def test_backend_none_copies_records_through(tmp_path):
    write_qa_stage(tmp_path, {"FR": [5]})
    assert run_stage("refine", tmp_path, "refine.backend=none") == 0
    for record in iter_records(tmp_path / "refine"):
        source = source_of(record)
        assert record["provenance"] == {**source["provenance"], "refined": False, "refine_reason": "disabled"}
        assert {k: v for k, v in record.items() if k != "provenance"} == {
            k: v for k, v in source.items() if k != "provenance"}  # fmt: skip


def test_array_slices_then_finalize(tmp_path, capsys):
    write_qa_stage(tmp_path, {"FR": [3, 3], "JP": [3]})
    none = "refine.backend=none"
    assert run_stage("refine", tmp_path, none, "refine.parts=0:1") == 0
    assert not (tmp_path / "refine" / "manifest.json").exists()
    assert "1 of 3 parts done" in capsys.readouterr().out
    assert run_stage("refine", tmp_path, none, "refine.finalize=true") == 2
    assert "2 of 3 parts missing (first FR/part-00001)" in capsys.readouterr().err
    assert run_stage("refine", tmp_path, none, "refine.parts=1:2") == 0
    assert run_stage("refine", tmp_path, none, "refine.parts=2:9") == 0  # the last slice completes the set
    assert (tmp_path / "refine" / "manifest.json").exists()
    assert run_stage("refine", tmp_path, none, "refine.finalize=true") == 0
    assert json.loads((tmp_path / "refine" / "manifest.json").read_text())["records_out"] == 9


def test_other_settings_on_existing_output_are_refused(tmp_path, capsys):
    write_qa_stage(tmp_path, {"FR": [2]})
    assert run_stage("refine", tmp_path, "refine.backend=none") == 0
    assert run_stage("refine", tmp_path, "refine.backend=http", "refine.url=http://127.0.0.1:9/v1",
                     "refine.model=m") == 2  # fmt: skip
    assert "other settings (backend, max_new_tokens, model differ)" in capsys.readouterr().err


def test_unreachable_server_fails_clearly_and_writes_nothing(tmp_path, capsys):
    write_qa_stage(tmp_path, {"FR": [3]})
    with OpenAITestServer() as server:
        url = server.url  # a port that was just freed: nothing listens there now
    code = run_stage("refine", tmp_path, "refine.backend=http", f"refine.url={url}", "refine.model=m",
                     "refine.max_attempts=2", "refine.backoff_base_s=0.01")  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and "error: refine:" in err and "0 of 1 parts done and kept; re-run to resume" in err
    assert list_parts(tmp_path / "refine") == [] and not list((tmp_path / "refine").rglob(".*.tmp"))


def test_a_bad_record_is_named(tmp_path, capsys):
    write_qa_stage(tmp_path, {"FR": [2]})
    part = tmp_path / "qa" / "FR" / "part-00000.jsonl"
    rows = [json.loads(line) for line in part.read_text().splitlines()]
    del rows[1]["answer"]
    part.write_text("".join(json.dumps(row) + "\n" for row in rows))
    with OpenAITestServer(responder=scripted) as server:
        assert run_stage("refine", tmp_path, *http(server)) == 2
    assert f"record '{rows[1]['id']}': field 'answer'" in capsys.readouterr().err


def _driver(out_dir: Path, server: OpenAITestServer) -> subprocess.Popen:
    overrides = [f"out_dir={out_dir}", "progress=false", *http(server, "refine.concurrency=2")]
    return subprocess.Popen([sys.executable, "-c", DRIVER, "refine", *overrides], cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip


def _outputs(out_dir: Path) -> dict[str, bytes]:
    stage = out_dir / "refine"
    return {str(p.relative_to(stage)): p.read_bytes() for p in sorted(stage.rglob("*")) if p.is_file()}


def test_killed_run_resumes_to_the_same_output(tmp_path):
    parts = {"FR": [8, 8, 8], "JP": [8, 8]}
    reference, total = tmp_path / "reference", 40
    write_qa_stage(reference, parts)
    with OpenAITestServer(responder=scripted, latency_s=0.04) as server:
        assert _driver(reference, server).wait(timeout=120) == 0
        expected = _outputs(reference)
        rng = random.Random(11)
        for attempt in range(2):
            target = tmp_path / f"killed{attempt}"
            write_qa_stage(target, parts)
            before = len(server.seen)
            process = _driver(target, server)
            kill_after = rng.randrange(4, total - 4)
            deadline = time.monotonic() + 120
            while len(server.seen) - before < kill_after and process.poll() is None and time.monotonic() < deadline:
                time.sleep(0.005)
            assert process.poll() is None, "the run ended before it could be killed"
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)
            assert 0 < len(server.seen) - before < total
            assert _driver(target, server).wait(timeout=120) == 0
            assert _outputs(target) == expected
            assert not list((target / "refine").rglob(".*.tmp"))


@pytest.mark.parametrize("api", ["chat", "completions"])
def test_both_http_apis_reach_the_same_records(tmp_path, tiny_stack, api):
    write_qa_stage(tmp_path, {"JP": [6]})
    with OpenAITestServer(responder=scripted) as server:
        extra = [f"refine.api={api}", f"refine.tokenizer={tiny_stack.tokenizer_dir}"]
        assert run_stage("refine", tmp_path, *http(server, *extra)) == 0
    assert {seen.path for seen in server.seen} == {"/v1/chat/completions" if api == "chat" else "/v1/completions"}
    reasons = [r["provenance"]["refine_reason"] for r in iter_records(tmp_path / "refine")]
    assert reasons == [expected_reason(i) for i in range(6)]
