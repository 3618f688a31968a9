"""Metrics against hand-computed values and the reference libraries (sacrebleu, pycocoevalcap).

pycocoevalcap (the COCO caption evaluation, a dev-only dependency) is used for its pure-Python
ROUGE-L and CIDEr scorers only, fed with our tokens: its tokenizer, METEOR and SPICE need Java.
"""

from __future__ import annotations

import math

import pytest
import sacrebleu
from pycocoevalcap.cider.cider import Cider
from pycocoevalcap.rouge.rouge import Rouge

from culturalpangea.eval.metrics.bleu import corpus_bleu, reference_streams
from culturalpangea.eval.metrics.cider import cider_d_tokens, corpus_cider
from culturalpangea.eval.metrics.entity import entity_match
from culturalpangea.eval.metrics.exact import exact_match, relaxed_match, vqa_clean
from culturalpangea.eval.metrics.mcq import parse_choice, score_choice
from culturalpangea.eval.metrics.rouge import corpus_rouge_l, rouge_l
from culturalpangea.eval.metrics.tokenize import tokenize, tokenized
from culturalpangea.eval.metrics.yesno import VOCABULARY, parse_yes_no

CAPTIONS = {  # (candidate, references): English, Japanese, Thai, mixed lengths and reference counts
    "en1": ("A man rides a brown horse.", ["A man riding a horse.", "A person on a brown horse in a field."]),
    "en2": ("two dogs are playing in the snow", ["Two dogs play in snow.", "Dogs playing.", "A dog in the snow."]),
    "ja": ("赤い家の前に車がある。", ["赤い家の前に車が止まっている。", "赤い家と車。"]),
    "th": ("เด็กๆ เล่นในสวน", ["เด็กๆ กำลังเล่นในสวนสาธารณะ"]),
    "empty": ("", ["Something is here."]),
}


# --- tokenization -----------------------------------------------------------------------------
def test_tokenize_splits_unspaced_scripts_into_characters_and_keeps_marks():
    assert tokenize("The Cat, sat.") == ["the", "cat", "sat"]
    assert tokenize("我爱北京！") == ["我", "爱", "北", "京"]
    assert tokenize("東京タワーは高い") == ["東", "京", "タ", "ワ", "ー", "は", "高", "い"]
    # Thai: combining vowels and tone marks stay on their base consonant
    assert tokenize("เด็ก") == ["เ", "ด็", "ก"]
    assert tokenize("हिंदी भाषा") == ["हिंदी", "भाषा"]  # Devanagari: words, marks kept
    assert tokenize("Tokyo東京2020") == ["tokyo", "東", "京", "2020"]
    assert tokenized("  Hello,   WORLD ") == "hello world"


# --- BLEU ---------------------------------------------------------------------------------------
def test_bleu_hand_computed_brevity_penalty():
    # all n-gram precisions are 1; BP = exp(1 - 7/6)
    score = corpus_bleu(["the cat sat on the mat"], [["the cat sat on the mat today"]])
    assert score == pytest.approx(100 * math.exp(1 - 7 / 6), abs=1e-9)


def test_bleu_equals_sacrebleu_corpus_bleu_with_variable_reference_counts():
    hyps = [c for c, _ in CAPTIONS.values()]
    refs = [r for _, r in CAPTIONS.values()]
    ours = corpus_bleu(hyps, refs)
    streams = reference_streams([[tokenized(x) for x in r] for r in refs])
    theirs = sacrebleu.corpus_bleu([tokenized(h) for h in hyps], streams, tokenize="none").score
    assert ours == pytest.approx(theirs, abs=1e-12)
    assert 0 < ours < 100
    # sacrebleu's own 13a tokenization gives the same on plain, pre-spaced lowercase English
    plain = ["a man rides a brown horse", "two dogs play"]
    plain_refs = [["a man riding a brown horse"], ["two dogs play in snow"]]
    expected = sacrebleu.corpus_bleu(plain, [[r[0] for r in plain_refs]]).score
    assert corpus_bleu(plain, plain_refs) == pytest.approx(expected, abs=1e-9)


def test_bleu_input_checks():
    assert corpus_bleu([], []) == 0.0
    with pytest.raises(ValueError, match="hypotheses"):
        corpus_bleu(["a"], [])


# --- ROUGE-L ------------------------------------------------------------------------------------
def test_rouge_l_hand_computed():
    # LCS(a b c d, a c d e f) = 3; P = 3/4, R = 3/5; F = (1 + 1.2²)PR / (R + 1.2²P)
    p, r = 3 / 4, 3 / 5
    assert rouge_l("a b c d", ["a c d e f"]) == pytest.approx((1 + 1.44) * p * r / (r + 1.44 * p))
    assert rouge_l("", ["a b"]) == 0.0
    assert rouge_l("x y", ["a b"]) == 0.0


def _coco_inputs():
    gts = {i: [tokenized(r) for r in refs] for i, (_, refs) in enumerate(CAPTIONS.values())}
    res = {i: [tokenized(c)] for i, (c, _) in enumerate(CAPTIONS.values())}
    return gts, res


def test_rouge_l_equals_pycocoevalcap():
    gts, res = _coco_inputs()
    expected, _ = Rouge().compute_score(gts, res)
    ours = corpus_rouge_l([c for c, _ in CAPTIONS.values()], [r for _, r in CAPTIONS.values()])
    assert ours == pytest.approx(float(expected), abs=1e-12)


# --- CIDEr-D ------------------------------------------------------------------------------------
def test_cider_hand_computed_unigram_case():
    # N = 2 images, every unigram has df 1 → idf = ln 2 for all; image 1: cos = 1/2, image 2: cos = 1.
    score, per_image = cider_d_tokens([["a", "c"], ["c", "d"]], [[["a", "b"]], [["c", "d"]]], max_n=1)
    assert per_image == pytest.approx([5.0, 10.0])
    assert score == pytest.approx(7.5)


def test_cider_equals_pycocoevalcap_on_the_same_tokens():
    gts, res = _coco_inputs()
    expected, expected_each = Cider().compute_score(gts, res)
    ours, ours_each = cider_d_tokens([res[i][0].split() for i in res], [[r.split() for r in gts[i]] for i in gts])
    assert ours == pytest.approx(float(expected), abs=1e-12)
    assert ours_each == pytest.approx([float(x) for x in expected_each], abs=1e-12)
    assert corpus_cider([c for c, _ in CAPTIONS.values()], [r for _, r in CAPTIONS.values()]) == pytest.approx(ours)


def test_cider_length_penalty_counts_bigrams_like_the_reference():
    # candidates whose word counts differ from their references by several tokens
    gts = {0: ["a b c d e f g h"], 1: ["x y"], 2: ["p q r"]}
    res = {0: ["a b"], 1: ["x y z w v u t s"], 2: ["p q r"]}
    expected, _ = Cider().compute_score(gts, res)
    ours, _ = cider_d_tokens([res[i][0].split() for i in res], [[r.split() for r in gts[i]] for i in gts])
    assert ours == pytest.approx(float(expected), abs=1e-12)


# --- multiple choice ------------------------------------------------------------------------------
OPTIONS = ["Kimono", "Sari", "Hanbok", "Dirndl"]


@pytest.mark.parametrize(("response", "expected"), [
    ("B", 1), ("(C)", 2), ("D.", 3), ("B. Sari", 1), ("(A) Kimono", 0), ("C: Hanbok", 2),
    ("Answer: B", 1), ("答案：C", 2), ("Jawaban: (D)", 3), ("sari", 1), ("  Hanbok. ", 2), ("**B**", 1),
])
def test_parse_choice_reads_clear_answers(response, expected):
    assert parse_choice(response, OPTIONS) == expected


@pytest.mark.parametrize("response", [
    "A cat", "I think it is B or C", "", "E", "(F)", "Kimono or Sari", "The answer is unclear", "Sari Hanbok",
])
def test_parse_choice_never_guesses(response):
    assert parse_choice(response, OPTIONS) is None


def test_score_choice_counts_unparseable_as_wrong():
    assert score_choice("B", OPTIONS, 1) == (True, True)
    assert score_choice("A", OPTIONS, 1) == (False, True)
    assert score_choice("no idea", OPTIONS, 1) == (False, False)


# --- yes / no -------------------------------------------------------------------------------------
@pytest.mark.parametrize(("response", "expected"), [
    ("Yes, it does.", True), ("TRUE", True), ("No", False), ("false", False), ("是的", True), ("不是", False),
    ("对", True), ("Evet.", True), ("Hayır", False), ("ndiyo", True), ("hapana", False), ("ใช่ค่ะ", True),
    ("ไม่ใช่", False), ("Benar", True), ("salah", False), ("ஆம்", True), ("இல்லை", False), ("हाँ", True),
    ("नहीं", False), ("نعم", True), ("لا", False), ("Oui", True), ("faux", False), ("네", True), ("아니요", False),
])
def test_parse_yes_no_multilingual(response, expected):
    assert parse_yes_no(response) is expected


@pytest.mark.parametrize("response", ["yesterday", "nobody knows", "maybe", "", "예쁘다", "Nothing"])
def test_parse_yes_no_unparseable(response):
    assert parse_yes_no(response) is None


def test_yes_no_option_letters_only_when_offered():
    options = {"a": False, "b": True}
    assert parse_yes_no("(b)", options) is True
    assert parse_yes_no("a", options) is False
    assert parse_yes_no("(b)") is None


def test_yes_no_vocabulary_covers_pangea_languages():
    pangea = {"am", "ar", "bg", "bn", "cs", "de", "el", "en", "es", "fa", "fr", "ga", "hi", "id", "ig", "it", "iw",
              "ja", "jv", "ko", "nl", "mn", "ms", "no", "pl", "pt", "ro", "ru", "si", "su", "sw", "ta", "te", "th",
              "tr", "uk", "ur", "vi", "zh"}
    assert pangea <= set(VOCABULARY)


# --- short answers and entities ------------------------------------------------------------------
def test_exact_and_relaxed_match():
    assert exact_match("Paris.", ["paris"]) and exact_match(" 红色 ", ["红色"])
    assert not exact_match("Paris, France", ["paris"])
    assert relaxed_match("Paris, France", ["paris"])  # starts with the answer
    assert relaxed_match("a red car", ["red car"]) and relaxed_match("two people", ["2 people"])
    assert not relaxed_match("blue", ["red"]) and not relaxed_match("anything", [""])
    assert vqa_clean("The two dogs!") == "2 dogs"


def test_entity_match():
    assert entity_match("Mount Fuji", "Mount Fuji", "Q39231")
    assert entity_match("mount_fuji", "Mount Fuji")
    assert entity_match("Mercury", "Mercury (planet)")
    assert entity_match("It is Q39231.", "Mount Fuji", "Q39231")
    assert not entity_match("Fuji", "Mount Fuji", "Q39231")
    assert not entity_match("Q392311", "Mount Fuji", "Q39231")
