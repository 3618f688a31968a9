"""PangeaBench's answer rules reproduced verdict by verdict (issue 16: numbers comparable with the paper's).

Every expectation below is what PangeaBench's own function returned for the same input when run
on it (neulab/Pangea, evaluation/lmms-eval/lmms_eval/tasks/): the function is named with each case.
"""

from __future__ import annotations

import pytest

from culturalpangea.eval.metrics.mcq import parse_choice
from culturalpangea.eval.metrics.pangeabench import choice_index, marvl_correct, maxm_exact
from culturalpangea.eval.scoring import aggregate

OPTIONS = ["Paella", "Gazpacho", "Tortilla de patatas", "Cocido"]


# cvqa/utils.py::parse_multi_choice_response and m3exam/utils.py::parse_multi_choice_response (the same function)
@pytest.mark.parametrize(("response", "letter"), [
    ("Answer: B", "A"),           # no letter followed by a delimiter; the first a–d anywhere is the "A" of "Answer"
    ("b", "B"),                   # lower case, nothing after it: the any-letter fallback
    ("The answer is B", "A"),     # the "a" of "answer" comes first
    ("(C)", "C"), ("D.", "D"), ("c)", "C"), ("  A  ", "A"),
    ("Tortilla de patata", "A"),  # an "a" in the text wins before the option-text similarity is tried
    ("Cocido madrileño", "C"),    # likewise the "c" of "Cocido"
])
def test_choice_parsing_matches_parse_multi_choice_response(response, letter):
    assert "ABCD"[choice_index(response, OPTIONS, "item")] == letter


def test_option_text_similarity_and_the_seeded_random_fallback():
    # no a–d letter at all: the most similar option text above 0.7 (difflib ratio), as PangeaBench does
    assert choice_index("Gzpxho", ["xx", "Gzpxhoo", "yy", "zz"], "i") == 1
    # nothing matches: PangeaBench draws random.choice("ABCD") unseeded; here the draw is seeded by the item
    draws = {choice_index("none", OPTIONS, f"item-{i}") for i in range(40)}
    assert draws == {0, 1, 2, 3}  # a uniform draw over the four letters …
    assert choice_index("none", OPTIONS, "item-7") == choice_index("none", OPTIONS, "item-7")  # … repeatable
    assert parse_choice("Answer: B", OPTIONS) == 1 and parse_choice("none", OPTIONS) is None  # the project's own rule


# marvl/utils.py::marvl_process_result (target "true" or "false")
@pytest.mark.parametrize(("response", "label", "correct"), [
    ("yes", True, True), ("no", False, True), ("true", True, True), ("false", False, True),
    ("None of the above", False, True),   # contains "no": read as "false"
    ("not true", False, True),            # contains "no" before "true" is looked at
    ("untrue", True, True),               # "true" is a substring
    ("(b) true", True, True), ("(a) false", True, False), ("TRUE", True, True), ("nothing", True, False),
])
def test_marvl_matches_marvl_process_result(response, label, correct):
    assert marvl_correct(response, label) is correct


# maxm/utils.py::exact_match_with_multiple_references (raw membership of the prediction in the references)
@pytest.mark.parametrize(("response", "answers", "correct"), [
    ("rouge", ["rouge", "Rouge"], True), ("rouge.", ["rouge"], False), ("Rouge", ["rouge"], False),
    ("deux", ["deux", "2"], True), ("2 personnes", ["deux", "2"], False),
])
def test_maxm_exact_matches_exact_match_with_multiple_references(response, answers, correct):
    assert maxm_exact(response, answers) is correct


def test_records_get_both_scores_and_pangeabench_only_where_it_has_rules():
    def record(benchmark, task, target, prediction, item_id):
        return {"id": item_id, "benchmark": benchmark, "task": task, "target": target, "prediction": prediction,
                "error": None}

    marvl = [record("marvl", "yesno", {"label": False, "options": {"a": False, "b": True}}, "None of the above", "m1"),
             record("marvl", "yesno", {"label": True, "options": {"a": False, "b": True}}, "(b) true", "m2")]
    result = aggregate(marvl, "accuracy")
    assert result["pangeabench"] == 100.0  # PangeaBench reads "None of the above" as false
    assert result["accuracy"] == 50.0 and result["unparseable"] == 1  # the project's rule does not guess
    maxm = [record("maxm", "vqa", {"answers": ["rouge"]}, "rouge.", "x1")]
    assert aggregate(maxm, "exact_match")["pangeabench"] == 0.0
    elsewhere = [record("xm100", "caption", {"captions": ["a cat"]}, "a cat", "c1")]
    assert "pangeabench" not in aggregate(elsewhere, "cider")


# MMMU's official rules as lmms-eval and PangeaBench's xmmmu/utils.py run them
@pytest.mark.parametrize(("response", "letter"), [
    ("(B)", "B"), ("B", "B"), ("B.", "B"),             # parse_multi_choice_response: "(B)", "B ", "B."
    ("The answer is (C), not (A).", "A"),              # several bracketed: the last written
    ("A cat sits on B", "B"),                          # "A " and "B " (padded): the last written
    ("I think it is clearly the Danube river here", "C"),  # > 5 words: the option text it contains
])
def test_mmmu_choice_matches_parse_multi_choice_response(response, letter):
    from culturalpangea.eval.metrics.mmmu import choice_letter

    assert choice_letter(response, ["Nile", "Rhine", "Danube", "Mekong"], "q1") == letter


@pytest.mark.parametrize(("response", "answers", "correct"), [
    ("12", ["12"], True), ("The area is 12.0 square units", ["12"], True),  # eval_open: numbers as floats
    ("1,000", ["1000"], True), ("so the answer is cat", ["Cat"], True),      # key answers after "is", "so"
    ("a", ["a"], True), ("banana", ["a"], False),                          # one character padded by a space
    ("13", ["12"], False), ("It is 3.14159", ["3.14"], True),              # rounded to two decimals
])
def test_mmmu_open_matches_parse_open_response_and_eval_open(response, answers, correct):
    from culturalpangea.eval.metrics.mmmu import open_correct

    assert open_correct(response, answers) is correct


def test_xgqa_matches_xgqa_process_result():
    from culturalpangea.eval.metrics.pangeabench import xgqa_correct

    assert xgqa_correct("The car is Red.", "red") and not xgqa_correct("crimson", "red")
