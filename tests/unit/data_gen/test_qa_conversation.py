"""Rendering of QA records into LLaVA conversations (data_gen/qa/conversation.py)."""

from __future__ import annotations

import pytest

from data_gen.qa.conversation import render_gpt_turn, render_human_turn, with_question
from shard_contract.sample import check_sample


def _record(question_type: str = "mcq", language: str = "en") -> dict:
    record = {
        "id": "abc_FR_Q243_P186_0_en_m",
        "qid": "Q243",
        "country": "FR",
        "language": language,
        "property": "P186",
        "question_type": question_type,
        "answer": "wrought iron",
        "answer_aliases": [],
        "question": "What material is this made of?",
        "image": "images/FR/Q243-0.jpg",
        "provenance": {"template": f"{language}/P186/{question_type}/0", "refined": False, "filter_score": None,
                       "image": {"file": "x.jpg", "url": "u", "author": "a", "license": "l", "placeholder": True}},
    }
    if question_type == "mcq":
        record["choices"] = ["stone", "wrought iron", "wood", "glass"]
    record["conversations"] = [
        {"from": "human", "value": render_human_turn(record)},
        {"from": "gpt", "value": render_gpt_turn(record)},
    ]
    return record


def test_mcq_turns_have_options_instruction_and_letter() -> None:
    record = _record("mcq")
    assert record["conversations"][0]["value"] == (
        "<image>\nWhat material is this made of?\nA. stone\nB. wrought iron\nC. wood\nD. glass\n"
        "Answer with the option's letter from the given choices directly."
    )
    assert record["conversations"][1]["value"] == "B"
    assert check_sample(record, has_image=True) is None


def test_open_turns_are_stem_and_answer() -> None:
    record = _record("open")
    assert record["conversations"] == [
        {"from": "human", "value": "<image>\nWhat material is this made of?"},
        {"from": "gpt", "value": "wrought iron"},
    ]


def test_instruction_line_is_in_the_record_language() -> None:
    assert render_human_turn(_record("mcq", "fr")).endswith("Répondez directement par la lettre de la bonne option.")


def test_with_question_replaces_stem_rerenders_and_marks_refined() -> None:
    record = _record("mcq")
    updated = with_question(record, "  Which material was used to build this?  ", refined=True)
    assert updated["question"] == "Which material was used to build this?"
    assert updated["conversations"][0]["value"].startswith("<image>\nWhich material was used to build this?\nA. stone")
    assert updated["conversations"][1]["value"] == "B"
    assert updated["provenance"]["refined"] is True
    assert record["question"] == "What material is this made of?"  # the original is untouched
    assert record["provenance"]["refined"] is False
    with pytest.raises(ValueError, match="empty"):
        with_question(record, "  ", refined=True)


def test_answer_outside_choices_is_refused() -> None:
    record = _record("mcq")
    record["answer"] = "gold"
    with pytest.raises(ValueError, match="not one of its choices"):
        render_gpt_turn(record)
