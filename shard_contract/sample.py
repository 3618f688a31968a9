"""One shard sample as code: its JSON (LLaVA conversation format) and the checks it must pass.

A sample's JSON follows the LLaVA conversation format, so released CulturalGround files,
PangeaInstruct and M3LS map in without loss:

    {"id", "qid", "country", "language", "property", "question_type": "open"|"mcq", "choices"?,
     "answer", "conversations": [{"from": "human", "value": "<image>\\n…"}, {"from": "gpt", …}],
     "provenance": {"template", "refined", "filter_score", "image": {"file", "url", "author", "license"}}}

`check_sample` returns the first problem as a sentence naming the field (or None); the shard writer
refuses bad samples with it and `stage=validate` reports it with the sample's key. Imported data
(no Wikidata item, text-only, multi-turn) is valid too: `qid`/`property` may be null, the image
is optional, and conversations may have several human/gpt rounds.

A **grouped** sample (data_gen `shards.group=image_language`) holds several QA pairs about one image
in one language as one multi-turn conversation, with the image placeholder in the first human turn
only. Instead of `answer`/`choices` it carries `qa`, one entry per human/gpt round in order:
`{"id", "property", "answer", "choices"? (mcq), "provenance"}`; `property` is then null at the top.
Manifests count QA pairs beside samples (`total_qa_pairs`; `counts` are per QA pair).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from shard_contract.tokens import IMAGE_TOKEN

QUESTION_TYPES = ("open", "mcq")
KEY_PATTERN = re.compile(r"^[A-Za-z0-9_\-]{1,200}$")
QID_PATTERN = re.compile(r"^Q[1-9][0-9]*$")
REQUIRED_FIELDS: dict[str, type | tuple[type, ...]] = {
    "id": str,
    "country": (str, type(None)),
    "language": str,
    "question_type": str,
    "answer": str,
    "conversations": list,
    "provenance": dict,
}


class ContractError(ValueError):
    """A sample that does not follow the shard contract; the message names the sample and field."""


def canonical_json(sample: Mapping[str, Any]) -> bytes:
    """Serialise a sample deterministically (sorted keys, UTF-8, no spaces) for byte-identical shards."""
    return json.dumps(sample, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


def check_key(key: str) -> str | None:
    """A WebDataset key may not contain dots or slashes (the loader splits on them)."""
    if not KEY_PATTERN.match(key):
        return f"key {key!r} must match {KEY_PATTERN.pattern} (no dots, slashes or spaces)"
    return None


def _check_fields(sample: Mapping[str, Any]) -> str | None:
    for field, expected in REQUIRED_FIELDS.items():
        if field == "answer" and "qa" in sample:
            continue  # a grouped sample: each QA pair has its own answer
        if field not in sample:
            return f"missing field '{field}'"
        if not isinstance(sample[field], expected):
            return f"field '{field}' has type {type(sample[field]).__name__}"
    if sample["question_type"] not in QUESTION_TYPES:
        return f"field 'question_type' is {sample['question_type']!r}, not one of {QUESTION_TYPES}"
    qid = sample.get("qid")
    if qid is not None and not (isinstance(qid, str) and QID_PATTERN.match(qid)):
        return f"field 'qid' is {qid!r}, not a Wikidata item ID"
    if "qa" not in sample and not sample["answer"].strip():
        return "field 'answer' is empty"
    return None


def _check_answer_and_choices(entry: Mapping[str, Any], question_type: str, where: str) -> str | None:
    answer = entry.get("answer")
    if not isinstance(answer, str) or not answer.strip():
        return f"{where}'answer' is empty or not text"
    if question_type != "mcq":
        return None
    choices = entry.get("choices")
    if not isinstance(choices, list) or len(choices) < 2 or not all(isinstance(c, str) for c in choices):
        return f"{where}'choices' must list at least two strings for an mcq sample"
    if len(set(choices)) != len(choices):
        return f"{where}'choices' has duplicates"
    if answer not in choices:
        return f"{where}'answer' is not one of 'choices'"
    return None


def _check_qa(sample: Mapping[str, Any]) -> str | None:
    """The per-pair entries of a grouped sample: one per human/gpt round, each with its own answer."""
    qa = sample["qa"]
    if not isinstance(qa, list) or not qa:
        return "field 'qa' must be a non-empty list"
    conversations = sample["conversations"]
    if isinstance(conversations, list) and len(conversations) != 2 * len(qa):
        return f"field 'qa' has {len(qa)} entries for {len(conversations) // 2} human/gpt rounds"
    for index, entry in enumerate(qa):
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
            return f"qa[{index}] must be an object with a string 'id'"
        problem = _check_answer_and_choices(entry, sample["question_type"], f"qa[{index}] field ")
        if problem:
            return problem
    return None


def _check_choices(sample: Mapping[str, Any]) -> str | None:
    if "qa" in sample:
        return _check_qa(sample)
    if sample["question_type"] != "mcq":
        return None
    return _check_answer_and_choices(sample, "mcq", "field ")


def _check_conversations(conversations: list[Any], has_image: bool) -> str | None:
    if len(conversations) < 2 or len(conversations) % 2:
        return "field 'conversations' must hold human/gpt pairs"
    for index, turn in enumerate(conversations):
        expected = "human" if index % 2 == 0 else "gpt"
        if not isinstance(turn, dict) or turn.get("from") != expected or not isinstance(turn.get("value"), str):
            return f"conversations[{index}] must be {{'from': '{expected}', 'value': <string>}}"
        if not turn["value"].strip():
            return f"conversations[{index}] is empty"
    placeholders = sum(turn["value"].count(IMAGE_TOKEN) for turn in conversations)
    if has_image and placeholders != 1:
        return f"conversations hold {placeholders} '{IMAGE_TOKEN}' placeholders for one image"
    if not has_image and placeholders:
        return f"a text-only sample has '{IMAGE_TOKEN}' placeholders"
    return None


def check_sample(sample: Any, has_image: bool) -> str | None:
    """Return the first contract violation of `sample` as a sentence, or None when it is valid."""
    if not isinstance(sample, Mapping):
        return f"sample is a {type(sample).__name__}, not a JSON object"
    for check in (_check_fields, _check_choices):
        problem = check(sample)
        if problem:
            return problem
    return _check_conversations(sample["conversations"], has_image)


def require_valid(key: str, sample: Any, has_image: bool) -> None:
    """Raise ContractError naming the key when the sample or its key breaks the contract."""
    problem = check_key(key) or check_sample(sample, has_image)
    if problem:
        raise ContractError(f"sample {key!r}: {problem}")


def qa_pairs_of(sample: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The QA pairs a sample holds, each with the fields manifests count (a grouped sample holds several)."""
    pairs = sample.get("qa")
    if not isinstance(pairs, list):
        return [dict(sample)]
    shared = {name: sample.get(name) for name in ("language", "country", "question_type")}
    return [{**shared, "property": pair.get("property") if isinstance(pair, Mapping) else None} for pair in pairs]
