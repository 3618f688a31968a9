"""The refinement token budget (issue 17): a real refiner's budget fits the longest reply the guards
accept, `null` is sized from the data, and a budget too small is refused before any request."""

from __future__ import annotations

import json

import pytest

from data_gen.common.errors import SettingsError
from data_gen.refine.budget import JSON_OVERHEAD, Budget, needed_budget, reply_bound, resolve_budget
from data_gen.refine.guards import GuardSettings
from tests.helpers.refine_records import make_record, write_qa_stage

GUARDS = GuardSettings()  # max_length_ratio 2.5, length_slack_chars 20


def test_the_bound_is_the_longest_acceptable_reply_in_utf8_bytes():
    english = make_record(0)  # 55 ASCII characters, answer "1889"
    assert JSON_OVERHEAD == len('{"question": "", "answer": ""}') == 30 and len(english["question"]) == 55
    assert reply_bound(english, GUARDS) == 30 + 158 + 4 + 4  # ⌈2.5 × 55 + 20⌉ = 158 bytes of question
    amharic = make_record(9)  # Ethiopic: 3 bytes per letter, 1 per space and "?"
    question = amharic["question"]
    per_char = len(question.encode()) / len(question)
    expected = 30 + -(-(2.5 * len(question) + 20) * per_char // 1) + len(amharic["answer"].encode()) + 4
    assert reply_bound(amharic, GUARDS) == expected > reply_bound(english, GUARDS)  # a shorter question, more bytes
    assert reply_bound(english, GuardSettings(max_length_ratio=1.0, length_slack_chars=0)) == 30 + 55 + 4 + 4


def test_null_is_sized_from_the_data_and_a_small_budget_is_refused():
    assert resolve_budget(None, Budget(198, "r", 1)) == 256  # at least 256
    assert resolve_budget(None, Budget(700, "r", 1)) == 704  # rounded up to 64
    assert resolve_budget(800, Budget(700, "r", 1)) == 800
    with pytest.raises(SettingsError, match=r"refine\.max_new_tokens=16 is too small .* record r9 .* 700 tokens"):
        resolve_budget(16, Budget(700, "r9", 1))


def test_the_bound_covers_every_part_and_is_cached_per_input(tmp_path):
    write_qa_stage(tmp_path, {"FR": [4], "JP": [10]}, with_images=False)
    cache = tmp_path / "refine" / "budget.json"
    cache.parent.mkdir()
    budget = needed_budget(tmp_path / "qa", GUARDS, cache)
    longest = max((make_record(i, "FR" if i < 4 else "JP") for i in range(14)), key=lambda r: reply_bound(r, GUARDS))
    assert (budget.tokens, budget.record_id, budget.records) == (reply_bound(longest, GUARDS), longest["id"], 14)
    assert longest["language"] == "hi"  # the longest question in bytes (Devanagari: 3 bytes per letter)
    stored = json.loads(cache.read_text())
    stored["tokens"] = 12345  # a cached answer is used as long as the input and the guards are the same …
    cache.write_text(json.dumps(stored))
    assert needed_budget(tmp_path / "qa", GUARDS, cache).tokens == 12345
    other = GuardSettings(max_length_ratio=3.0)  # … and recomputed when the guard limits change
    assert needed_budget(tmp_path / "qa", other, cache).tokens == reply_bound(longest, other)
