"""Rendering one QA record into its LLaVA conversation, shared by `qa`, `refine` and `filter`.

A record keeps its question *stem* (`question`, no `<image>`, no options) apart from the rendered
`conversations`, so a later stage that rewrites the stem (refinement) re-renders the turns with
`with_question` and cannot drift from the format generation used:

- human turn: `<image>\\n` + stem; for a multiple-choice record the lettered options follow, one per
  line, then the language's instruction line (LLaVA style: "Answer with the option's letter from
  the given choices directly.");
- gpt turn: the answer text for open-ended records, the correct option's letter for multiple choice.

Letters are Latin A–D in every language, as in LLaVA, CVQA and M3Exam prompts; the option format
and the instruction come from the language's template file (`data_gen/qa/question_templates.py`).
"""

from __future__ import annotations

import copy
from typing import Any

from data_gen.common.errors import RecordError
from data_gen.qa.question_templates import McqFormat, load_language
from shard_contract.tokens import IMAGE_TOKEN

Record = dict[str, Any]


def mcq_format(language: str) -> McqFormat:
    return load_language(language).mcq


def answer_letter(record: Record) -> str:
    """The letter of the correct option of a multiple-choice record."""
    choices = record["choices"]
    try:
        index = choices.index(record["answer"])
    except ValueError:
        raise RecordError(f"record {record.get('id')!r}: answer is not one of its choices") from None
    return mcq_format(record["language"]).letters[index]


def human_turn(stem: str, choices: list[str] | None, fmt: McqFormat, with_image: bool = True) -> str:
    """The human turn from its parts: `<image>\\n` + stem, then for mcq the options and instruction."""
    body = stem if choices is None else "\n".join([stem, *fmt.render_options(choices), fmt.instruction])
    return f"{IMAGE_TOKEN}\n{body}" if with_image else body


def render_human_turn(record: Record) -> str:
    """`<image>\\n` + stem (+ options and instruction for mcq), as the human turn's value."""
    choices = record["choices"] if record["question_type"] == "mcq" else None
    return human_turn(record["question"], choices, mcq_format(record["language"]), bool(record.get("image", True)))


def render_gpt_turn(record: Record) -> str:
    """The answer text (open) or the correct option's letter (mcq)."""
    return answer_letter(record) if record["question_type"] == "mcq" else record["answer"]


def conversations(record: Record) -> list[dict[str, str]]:
    return [
        {"from": "human", "value": render_human_turn(record)},
        {"from": "gpt", "value": render_gpt_turn(record)},
    ]


def with_question(record: Record, new_question: str, refined: bool) -> Record:
    """A copy of `record` with the stem replaced, conversations re-rendered and `refined` set."""
    if not isinstance(new_question, str) or not new_question.strip():
        raise RecordError(f"record {record.get('id')!r}: the new question is empty")
    updated = copy.deepcopy(record)
    updated["question"] = new_question.strip()
    updated["conversations"] = conversations(updated)
    updated.setdefault("provenance", {})["refined"] = bool(refined)
    return updated
