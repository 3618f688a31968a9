"""Scoring, aggregation, zero-shot marks, Markdown, comparison and the W&B table, on hand-made records."""

from __future__ import annotations

import json

import pytest

from culturalpangea.eval.compare import compare_reports
from culturalpangea.eval.markdown import comparison_markdown, report_markdown
from culturalpangea.eval.metrics.bleu import corpus_bleu
from culturalpangea.eval.metrics.cider import corpus_cider
from culturalpangea.eval.report import benchmark_section, build_report, load_report, training_languages
from culturalpangea.eval.scoring import aggregate
from culturalpangea.eval.wandb_table import COLUMNS, log_report, table_rows
from tests.helpers.benchmark_fixtures import TRAINING_LANGUAGES, write_training_shards

OPTIONS = ["w", "x", "y", "z"]


def _mcq(item_id, language, prediction, answer, country=None):
    return {"id": item_id, "benchmark": "cvqa", "language": language, "country": country, "subset": None, "task": "mcq",
            "target": {"answer": answer, "options": OPTIONS}, "prediction": prediction, "error": None}


def _records():
    return [
        _mcq("1", "ja", "A", 0, "Japan"), _mcq("2", "ja", "B", 0, "Japan"), _mcq("3", "ja", "zzz", 1, "Japan"),
        _mcq("4", "ja", "C", 2, "Japan"), _mcq("5", "sw", "A", 0, "Kenya"), _mcq("6", "sw", "(B)", 1, "Kenya"),
        {"id": "7", "language": "ja", "country": "Japan", "task": None, "target": None, "prediction": None,
         "error": "answer key Label=9 is outside the 4 choices"},
    ]


def test_mcq_section_hand_computed():
    section = benchmark_section("cvqa", _records(), seen={"ja", "en"})
    ja, sw = section["by_language"]["ja"], section["by_language"]["sw"]
    assert (ja["items"], ja["errors"], ja["unparseable"], ja["accuracy"]) == (4, 1, 1, 50.0)
    assert (sw["items"], sw["accuracy"], sw["zero_shot"], ja["zero_shot"]) == (2, 100.0, True, False)
    assert section["overall"]["accuracy"] == pytest.approx(400 / 6)  # micro: 4 of 6 scored items
    assert section["averages"]["macro"]["accuracy"] == 75.0  # mean of the two languages
    assert section["averages"]["seen"]["accuracy"] == 50.0 and section["averages"]["zero_shot"]["accuracy"] == 100.0
    assert section["by_country"]["Kenya"]["accuracy"] == 100.0
    assert section["errors"] == {"count": 1, "listed": [{"id": "7", "language": "ja",
                                                          "reason": "answer key Label=9 is outside the 4 choices"}]}
    assert section["metrics"] == ["accuracy", "pangeabench"]
    assert benchmark_section("cvqa", _records(), seen=None)["by_language"]["sw"]["zero_shot"] is None


def test_vqa_yesno_entity_long_and_caption_groups():
    vqa = [{"id": "a", "task": "vqa", "target": {"answers": ["Paris"]}, "prediction": "paris.", "error": None},
           {"id": "b", "task": "vqa", "target": {"answers": ["Paris"]}, "prediction": "Paris, France", "error": None}]
    assert aggregate(vqa, "exact_match") == {"items": 2, "errors": 0, "unparseable": 0, "score": 50.0,
                                                 "exact_match": 50.0, "relaxed_accuracy": 100.0}
    yesno = [{"id": "c", "task": "yesno", "target": {"label": True, "options": {"a": False, "b": True}},
              "prediction": "(b)", "error": None},
             {"id": "d", "task": "yesno", "target": {"label": False}, "prediction": "maybe", "error": None}]
    assert aggregate(yesno, "accuracy")["accuracy"] == 50.0 and aggregate(yesno)["unparseable"] == 1
    entity = [{"id": "e", "task": "entity", "target": {"title": "Tokyo", "qid": "Q1490"}, "prediction": "tokyo",
               "error": None}]
    assert aggregate(entity, "accuracy")["accuracy"] == 100.0
    long = [{"id": "f", "task": "long", "target": {"references": ["a b c d"]}, "prediction": "a b", "error": None}]
    assert aggregate(long)["rouge_l"] == pytest.approx(100 * 2.44 * 1 * 0.5 / (0.5 + 1.44))
    hyps, refs = ["a red house", "two dogs in snow"], [["a red house with a car"], ["dogs play in the snow", "snow"]]
    captions = [{"id": str(i), "task": "caption", "target": {"captions": r}, "prediction": h, "error": None}
                for i, (h, r) in enumerate(zip(hyps, refs, strict=True))]
    result = aggregate(captions, "cider")
    assert result["bleu"] == pytest.approx(corpus_bleu(hyps, refs))
    assert result["cider"] == pytest.approx(100 * corpus_cider(hyps, refs)) and result["score"] == result["cider"]


def test_mixed_benchmark_score_is_the_mean_of_item_values():
    records = [_mcq("1", "en", "A", 0), _mcq("2", "en", "B", 0),
               {"id": "3", "language": "en", "task": "vqa", "target": {"answers": ["x"]}, "prediction": "x",
                "error": None},
               {"id": "4", "language": "en", "task": "long", "target": {"references": ["a b"]}, "prediction": "a b",
                "error": None}]
    assert aggregate(records)["score"] == pytest.approx(100 * (1 + 0 + 1 + 1) / 4)


def test_training_languages_from_manifests(tmp_path):
    folder = write_training_shards(tmp_path / "train")
    assert training_languages(folder) == set(TRAINING_LANGUAGES)
    assert training_languages([str(folder / "manifest.json")]) == set(TRAINING_LANGUAGES)
    assert training_languages(None) is None
    with pytest.raises(FileNotFoundError):
        training_languages(tmp_path / "nowhere.json")
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(ValueError, match="has format None"):  # checked by shard_contract.manifest
        training_languages(tmp_path / "bad.json")


def _report(records, checkpoint, seen=None):
    return build_report({"cvqa": benchmark_section("cvqa", records, seen)}, checkpoint, ["m.json"], seen)


def test_report_markdown_marks_zero_shot_and_lists_errors():
    report = _report(_records(), "ckpt", seen={"ja"})
    # PangeaBench's rules (metrics/pangeabench.py): "zzz" (item 3) matches no letter and no option, so
    # PangeaBench draws a letter; the draw seeded by the item ID is B, the answer: ja 3/4, sw 2/2 → 87.5
    assert report["summary"]["cvqa"] == {"metric": "accuracy", "macro": 75.0, "seen": 50.0, "zero_shot": 100.0,
                                         "items": 6, "errors": 1, "unparseable": 1, "pangeabench": 87.5}
    text = report_markdown(report)
    assert "| Swahili (sw) | ✗ (zero-shot) | 2 | 0 | 0 | 100.0 |" in text  # names with codes (issue 19 §6)
    assert "| Japanese (ja) | ✓ | 4 | 1 | 1 | 50.0 |" in text
    assert "| Kenya | 2 | 0 | 0 | 100.0 |" in text
    assert "Errors (1): `7` (answer key Label=9 is outside the 4 choices)" in text
    assert "| cvqa | acc | 75.0 | 50.0 | 100.0 | 87.5 | 6 | 1 | 1 |" in text
    assert "| Japanese (ja) | ✓ | 4 | 1 | 1 | 50.0 | 75.0 |" in text  # the PangeaBench column per language


def test_comparison_per_language_difference(tmp_path):
    this = _report(_records(), "culturalpangea", seen={"ja"})
    worse = [dict(r, prediction="D") if r["id"] in ("1", "5") else r for r in _records()]
    other = _report(worse, "pangea")
    comparison = compare_reports(this, other)
    rows = comparison["benchmarks"]["cvqa"]["by_language"]
    assert rows["ja"] == {"this": 50.0, "other": 25.0, "delta": 25.0, "zero_shot": False}
    assert rows["sw"]["delta"] == 50.0 and rows["sw"]["zero_shot"] is True
    assert comparison["benchmarks"]["cvqa"]["macro"] == {"this": 75.0, "other": 37.5, "delta": 37.5, "languages": 2}
    text = comparison_markdown(comparison)
    assert "| Swahili (sw) | zero-shot | 100.0 | 50.0 | 50.0 |" in text and "`culturalpangea` vs `pangea`" in text
    (tmp_path / "r.json").write_text(json.dumps(this))
    assert load_report(tmp_path / "r.json")["checkpoint"] == "culturalpangea"
    (tmp_path / "x.json").write_text("{}")
    with pytest.raises(ValueError, match="not an evaluation report"):
        load_report(tmp_path / "x.json")


def test_wandb_table_offline(tmp_path):
    report = _report(_records(), "ckpt", seen={"ja"})
    assert table_rows(report) == [["cvqa", "ja", False, "accuracy", 50.0, 4, 1, 1],
                                  ["cvqa", "sw", True, "accuracy", 100.0, 2, 0, 0]]
    files = log_report(report, {"mode": "offline", "project": "test"}, tmp_path, "eval-test", {"k": 1})
    tables = list(files.glob("media/table/eval/results_*.table.json"))
    assert len(tables) == 1
    logged = json.loads(tables[0].read_text())
    assert logged["columns"] == COLUMNS and logged["data"][1][:5] == ["cvqa", "sw", True, "accuracy", 100.0]
