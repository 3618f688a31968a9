"""Prediction store and batching loop: chunk commits, torn tails, resume without recomputation, bad input."""

from __future__ import annotations

import json

import pytest

from culturalpangea.eval.adapters import ADAPTERS
from culturalpangea.eval.evaluate import EvalSettings, evaluate
from culturalpangea.eval.resume import PredictionStore, StoreMismatchError
from culturalpangea.eval.runner import BenchmarkRun
from tests.helpers.benchmark_fixtures import ScriptedGenerator, rule_answer, write_benchmarks


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    return write_benchmarks(tmp_path_factory.mktemp("benchmarks"), bad=True, benchmarks=["cvqa", "maxm", "almbench"])


def test_store_keeps_whole_chunks_and_truncates_a_torn_tail(tmp_path):
    path = tmp_path / "predictions" / "x.jsonl"
    store = PredictionStore(path, {"a": 1})
    store.commit([{"id": "1", "prediction": "A"}, {"id": "2", "prediction": "B"}])
    store.commit([{"id": "3", "prediction": "C"}])
    good_size = path.stat().st_size
    with open(path, "ab") as handle:  # a chunk cut by kill -9: one whole record, then half a line
        handle.write(json.dumps({"id": "4", "prediction": "D"}).encode() + b'\n{"id": "5", "predi')
    reopened = PredictionStore(path, {"a": 1})
    assert reopened.done == {"1", "2", "3"} and [r["id"] for r in reopened.records] == ["1", "2", "3"]
    assert path.stat().st_size == good_size and reopened.truncated_bytes > 0
    reopened.commit([{"id": "4", "prediction": "D"}])
    assert PredictionStore(path, {"a": 1}).done == {"1", "2", "3", "4"}


def test_store_refuses_predictions_from_other_settings(tmp_path):
    path = tmp_path / "x.jsonl"
    PredictionStore(path, {"checkpoint": "a", "generation": {"do_sample": False}}).commit([{"id": "1"}])
    with pytest.raises(StoreMismatchError, match="changed: checkpoint"):
        PredictionStore(path, {"checkpoint": "b", "generation": {"do_sample": False}})


def _run(folder, store, generator, batch_size=2, name="cvqa"):
    return BenchmarkRun(store, generator, batch_size, 32).run(name, ADAPTERS[name].items(folder, {}))


def test_killed_run_resumes_without_recomputing(folders, tmp_path):
    path = tmp_path / "cvqa.jsonl"
    first = ScriptedGenerator(stop_after_calls=2)
    with pytest.raises(KeyboardInterrupt):
        _run(folders["cvqa"], PredictionStore(path, {}), first)
    store = PredictionStore(path, {})
    assert len([r for r in store.records if r["error"] is None]) == 4  # two committed batches of two
    second = ScriptedGenerator()
    stats = _run(folders["cvqa"], store, second)
    assert stats.resumed == len(store.records) - stats.generated - stats.errors
    assert not set(first.prompts) & set(second.prompts)  # nothing generated twice
    assert second.calls == 1 and len(second.prompts) == 2  # the two remaining decodable items
    ids = [r["id"] for r in store.records]
    assert len(ids) == len(set(ids)) == 9  # seven items (one with a broken image) + two bad rows
    uninterrupted = PredictionStore(tmp_path / "fresh.jsonl", {})
    _run(folders["cvqa"], uninterrupted, ScriptedGenerator())
    key = lambda r: r["id"]  # noqa: E731
    assert sorted(store.records, key=key) == sorted(uninterrupted.records, key=key)


def test_bad_input_becomes_error_records_and_the_run_goes_on(folders, tmp_path):
    store = PredictionStore(tmp_path / "cvqa.jsonl", {})
    stats = _run(folders["cvqa"], store, ScriptedGenerator(), batch_size=3)
    errors = {r["id"]: r["error"] for r in store.records if r["error"]}
    assert set(errors) == {"cvqa_bad_label", "cvqa_bad_image", "cvqa_missing_question"}
    assert errors["cvqa_bad_image"].startswith("image does not decode")
    assert stats.errors == 3 and stats.generated == 6


def test_a_failing_item_is_retried_alone_then_recorded(folders, tmp_path):
    def rule(prompt):
        if "この料理" in prompt:
            raise RuntimeError("model exploded on this one")
        return rule_answer(prompt)

    store = PredictionStore(tmp_path / "cvqa.jsonl", {})
    stats = _run(folders["cvqa"], store, ScriptedGenerator(rule), batch_size=4)
    failed = [r for r in store.records if r["error"] and r["error"].startswith("generation failed")]
    assert [r["id"] for r in failed] == ["cvqa_001"] and "model exploded" in failed[0]["error"]
    assert stats.generated == 5


def test_batches_are_grouped_by_generation_length(folders, tmp_path):
    seen = []

    class Recorder(ScriptedGenerator):
        def __call__(self, requests, *, max_new_tokens):
            seen.append((max_new_tokens, len(requests)))
            return super().__call__(requests, max_new_tokens=max_new_tokens)

    store = PredictionStore(tmp_path / "alm.jsonl", {})
    settings = {"max_new_tokens": 64, "max_new_tokens_by_type": {"mcq": 32, "yesno": 16, "short": 64, "long": 256}}
    BenchmarkRun(store, Recorder(), 8, 32).run("almbench", ADAPTERS["almbench"].items(folders["almbench"], settings))
    assert dict(seen) == {32: 3, 16: 2, 64: 1, 256: 2}
    seen.clear()
    capped = BenchmarkRun(PredictionStore(tmp_path / "capped.jsonl", {}), Recorder(), 8, 32, cap=20)
    capped.run("almbench", ADAPTERS["almbench"].items(folders["almbench"], settings))
    assert dict(seen) == {20: 6, 16: 2}


def test_evaluate_resumes_and_refuses_changed_settings(folders, tmp_path):
    data = next(iter(folders.values())).parent
    settings = EvalSettings(benchmarks=["maxm"], data_dir=data, out_dir=tmp_path / "run", checkpoint="ckpt-a",
                            batch_size=2, explicit=True)
    first = ScriptedGenerator()
    report = evaluate(settings, first)
    again = ScriptedGenerator()
    second = evaluate(settings, again)
    assert again.calls == 0 and second["benchmarks"]["maxm"]["run"]["resumed"] == 9
    assert second["summary"] == report["summary"]
    settings.checkpoint = "ckpt-b"
    with pytest.raises(StoreMismatchError):
        evaluate(settings, ScriptedGenerator())
    settings.resume = False
    fresh = ScriptedGenerator()
    evaluate(settings, fresh)
    assert fresh.calls == first.calls


def test_a_changed_benchmark_is_refused_on_resume_not_mixed_in(tmp_path):
    """Issue 15 §3: a benchmark replaced between two runs (same IDs with new questions, or new rows)
    gave "100 generated, 200 resumed", old and new prompts in one store. Now the resume is refused."""
    import datasets

    from culturalpangea_demo.benchmark_fixtures import write_maxm

    data = tmp_path / "benchmarks"
    write_maxm(data / "maxm")
    settings = EvalSettings(benchmarks=["maxm"], data_dir=data, out_dir=tmp_path / "run", checkpoint="scripted",
                            batch_size=2, per_benchmark={"maxm": {"path": "maxm"}}, explicit=True)
    first = evaluate(settings, ScriptedGenerator())
    assert first["benchmarks"]["maxm"]["run"]["generated"] > 0
    again = evaluate(settings, ScriptedGenerator())  # unchanged input: everything reused
    assert again["benchmarks"]["maxm"]["run"]["generated"] == 0
    reworded = datasets.load_from_disk(str(data / "maxm")).map(lambda row: {"question": row["question"] + "?"})
    reworded.save_to_disk(str(data / "maxm_new"))
    for path in (data / "maxm").iterdir():  # the copy replaced in place, as a user re-downloading would
        path.unlink() if path.is_file() else __import__("shutil").rmtree(path)
    for path in (data / "maxm_new").iterdir():
        path.rename(data / "maxm" / path.name)
    with pytest.raises(StoreMismatchError, match="stored predictions are for items the benchmark no longer has"):
        evaluate(settings, ScriptedGenerator())


def test_an_item_whose_input_changed_under_the_same_id_is_named(tmp_path):
    store = PredictionStore(tmp_path / "x.jsonl", {})
    store.commit([{"id": "a", "input_sha256": "1" * 64}, {"id": "b", "input_sha256": "2" * 64}])
    store.check_inputs([("a", "1" * 64), ("b", "2" * 64), ("c", "3" * 64)])  # same, plus a new row: fine
    with pytest.raises(StoreMismatchError, match=r"item 'b' has another input"):
        store.check_inputs([("a", "1" * 64), ("b", "9" * 64)])
