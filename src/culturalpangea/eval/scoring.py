"""Score prediction records and aggregate them per language, country, subset and overall.

Per item (`score_item`): multiple choice and true/false give `correct` and `parsed` (an unparseable
answer is wrong *and* counted); short answers give `exact` and `relaxed`; entities give `correct`;
long answers give `rouge_l`. Captions are scored per group, because BLEU and CIDEr are corpus
metrics (CIDEr's idf comes from the group's references).

Per group (`aggregate`): `items` scored, `errors` (bad input: excluded from the denominators, listed
by ID in the report), `unparseable`, `unlabelled` (items whose answer key the publisher withholds:
generated, never scored), and the metrics in percent (CIDEr on the usual ×100 scale):
`accuracy`, `exact_match`, `relaxed_accuracy`, `rouge_l`, `bleu`, `cider`, and `pangeabench` — the
same items judged by PangeaBench's rules (metrics/pangeabench.py) where it has them, the number to
set beside the paper's; `score` is the
benchmark's primary metric, and a mixed benchmark (ALM-Bench, CulturalGround) gets the mean of its
items' primary values (correct / exact match / ROUGE-L).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from culturalpangea.eval.metrics import mmmu, pangeabench
from culturalpangea.eval.metrics.bleu import corpus_bleu
from culturalpangea.eval.metrics.cider import cider_d_tokens, corpus_cider
from culturalpangea.eval.metrics.entity import entity_match
from culturalpangea.eval.metrics.exact import exact_match, relaxed_match
from culturalpangea.eval.metrics.mcq import parse_choice, score_choice
from culturalpangea.eval.metrics.ptb import ptb_tokens
from culturalpangea.eval.metrics.rouge import corpus_rouge_l, rouge_l
from culturalpangea.eval.metrics.yesno import score_yes_no

Record = Mapping[str, Any]

# The metric each benchmark is summarized by.
PRIMARY: dict[str, str] = {
    "cvqa": "accuracy", "marvl": "accuracy", "maxm": "exact_match", "m3exam": "accuracy", "xm100": "cider",
    "almbench": "score", "merlin": "accuracy", "culturalground": "score",
    "xgqa": "exact_match", "mmmu": "score", "xmmmu": "score",
}
METRIC_ORDER = ("score", "accuracy", "exact_match", "relaxed_accuracy", "rouge_l", "bleu", "cider", "pangeabench")
# Benchmarks also scored by PangeaBench's own rules (metrics/pangeabench.py), to compare with the paper.
# MMMU and xMMMU are judged by MMMU's official rules (metrics/mmmu.py), which PangeaBench uses for xMMMU.
PANGEABENCH_RULES = ("cvqa", "m3exam", "marvl", "maxm", "xgqa", "mmmu", "xmmmu")  # per item; xm100: per corpus
MMMU_RULES = ("mmmu", "xmmmu")


def score_item(record: Record) -> dict[str, Any]:
    """Per-item outcome of a prediction record without an error (plus PangeaBench's verdict where it has one)."""
    outcome = _score_task(record)
    verdict = pangeabench_verdict(record)
    if verdict is not None:
        outcome["pangeabench"] = verdict
    return outcome


def pangeabench_verdict(record: Record) -> bool | None:
    """PangeaBench's verdict on a scored item of a benchmark it has rules for; None elsewhere."""
    benchmark = record.get("benchmark")
    if benchmark not in PANGEABENCH_RULES:
        return None
    target, prediction, item_id = record["target"], str(record.get("prediction") or ""), str(record["id"])
    if benchmark in MMMU_RULES:
        return _mmmu_verdict(record["task"], target, prediction, item_id)
    if benchmark == "xgqa":
        return pangeabench.xgqa_correct(prediction, target["answers"][0])
    return _task_verdict(record["task"], target, prediction, item_id)


def _task_verdict(task: str, target: Mapping[str, Any], prediction: str, item_id: str) -> bool | None:
    """CVQA and M3Exam letters (none where labels are withheld), MaRVL true/false, MaXM short answers."""
    if task == "mcq":
        if target.get("answer") is None:
            return None
        return pangeabench.choice_index(prediction, target["options"], item_id) == int(target["answer"])
    if task == "yesno":
        return pangeabench.marvl_correct(prediction, bool(target["label"]))
    return pangeabench.maxm_exact(prediction, target["answers"]) if task == "vqa" else None


def _mmmu_verdict(task: str, target: Mapping[str, Any], prediction: str, item_id: str) -> bool:
    if task == "mcq":
        return mmmu.choice_letter(prediction, target["options"], item_id) == chr(ord("A") + int(target["answer"]))
    return mmmu.open_correct(prediction, target["answers"])


def _score_task(record: Record) -> dict[str, Any]:
    task, target, prediction = record["task"], record["target"], str(record.get("prediction") or "")
    if task == "mcq":
        return _score_mcq(prediction, target)
    if task == "yesno":
        correct, parsed = score_yes_no(prediction, bool(target["label"]), target.get("options"))
        return {"correct": correct, "parsed": parsed, "value": float(correct)}
    if task == "vqa":
        exact = exact_match(prediction, target["answers"])
        return {"exact": exact, "relaxed": relaxed_match(prediction, target["answers"]), "value": float(exact)}
    if task == "entity":
        correct = entity_match(prediction, target["title"], target.get("qid"))
        return {"correct": correct, "value": float(correct)}
    if task == "long":
        value = rouge_l(prediction, target["references"])
        return {"rouge_l": value, "value": value}
    if task == "caption":
        return {"value": None}
    raise ValueError(f"record {record.get('id')!r}: unknown task {task!r}")


def _score_mcq(prediction: str, target: Mapping[str, Any]) -> dict[str, Any]:
    if target.get("answer") is None:  # labels withheld (CVQA's test split): generated, not scored
        return {"unlabelled": True, "parsed": parse_choice(prediction, target["options"]) is not None, "value": None}
    correct, parsed = score_choice(prediction, target["options"], int(target["answer"]))
    return {"correct": correct, "parsed": parsed, "value": float(correct)}


def pangeabench_cider(records: list[Record]) -> float:
    """XM100 as PangeaBench scores it (`xm100/utils.py::xm100_aggregation_result`): CIDEr-D against the
    item's one reference (its first caption), on PTB tokens (metrics/ptb.py), on the COCO scale — not
    ×100 as the project's own CIDEr column."""
    hypotheses = [ptb_tokens(str(r.get("prediction") or "")) for r in records]
    references = [[ptb_tokens(r["target"]["captions"][0])] for r in records]
    score, _ = cider_d_tokens(hypotheses, references)
    return score


def _mean(values: list[float]) -> float | None:
    return 100.0 * sum(values) / len(values) if values else None


def _caption_metrics(records: list[Record]) -> dict[str, float]:
    hypotheses = [str(r.get("prediction") or "") for r in records]
    references = [r["target"]["captions"] for r in records]
    return {
        "bleu": corpus_bleu(hypotheses, references),
        "rouge_l": 100.0 * corpus_rouge_l(hypotheses, references),
        "cider": 100.0 * corpus_cider(hypotheses, references),
    }


def aggregate(records: Iterable[Record], primary: str = "score") -> dict[str, Any]:
    """Counts and metrics of one group of records (errors counted, not scored)."""
    rows = list(records)
    good = [r for r in rows if r.get("error") is None]
    outcomes = [score_item(r) for r in good]
    result: dict[str, Any] = {"items": len(good), "errors": len(rows) - len(good)}
    result["unparseable"] = sum(1 for o in outcomes if o.get("parsed") is False)
    unlabelled = sum(1 for o in outcomes if o.get("unlabelled"))
    if unlabelled:
        result["unlabelled"] = unlabelled  # generated, kept for a leaderboard, in no metric
    choice = [o["correct"] for o in outcomes if "correct" in o]
    vqa = [o for o in outcomes if "exact" in o]
    long_values = [o["rouge_l"] for o in outcomes if "rouge_l" in o]
    metrics: dict[str, float | None] = {
        "accuracy": _mean([float(c) for c in choice]),
        "exact_match": _mean([float(o["exact"]) for o in vqa]),
        "relaxed_accuracy": _mean([float(o["relaxed"]) for o in vqa]),
        "rouge_l": _mean(long_values),
        "pangeabench": _mean([float(o["pangeabench"]) for o in outcomes if "pangeabench" in o]),
    }
    captions = [r for r in good if r["task"] == "caption"]
    if captions:
        metrics.update(_caption_metrics(captions))
        if all(r.get("benchmark") == "xm100" for r in captions):
            metrics["pangeabench"] = pangeabench_cider(captions)
    values = [o["value"] for o in outcomes if o["value"] is not None]
    metrics["score"] = metrics.get(primary) if primary != "score" else _mean(values)
    result.update({name: metrics[name] for name in METRIC_ORDER if metrics.get(name) is not None})
    return result


def group_by(records: Iterable[Record], key: Callable[[Record], str | None]) -> dict[str, list[Record]]:
    """Records grouped by `key` (records whose key is None are left out), in sorted key order."""
    groups: dict[str, list[Record]] = defaultdict(list)
    for record in records:
        value = key(record)
        if value is not None:
            groups[str(value)].append(record)
    return dict(sorted(groups.items()))
