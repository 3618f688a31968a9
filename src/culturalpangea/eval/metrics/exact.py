"""Short-answer VQA scoring (MaXM, CulturalGround open questions, ALM-Bench short answers).

- **exact match**: the normalized prediction equals one of the normalized gold answers. The
  lmms-eval MaXM task compares raw strings; here both sides are NFC-normalized, case-folded, trimmed
  and stripped of a final period, so "Paris." matches "paris" — a formatting difference, not a
  different answer.
- **relaxed accuracy** (MaXM, after the mBLIP evaluation lmms-eval reuses): the prediction, cleaned
  the VQA way (punctuation, English number words to digits, articles dropped, lower case), *starts or
  ends with* one of the gold answers, so "a red car" matches "red car" and "2 people" matches "2".
  Gold answers get the same cleaning (the reference leaves them raw, which makes a capitalized gold
  answer unreachable); empty gold answers are ignored so they cannot match everything.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

NUMBER_WORDS = {
    "none": "0", "zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
    "six": "6", "seven": "7", "eight": "8", "nine": "9", "ten": "10",
}
ARTICLES = frozenset({"a", "an", "the"})
_PUNCT = ";/[]\"{}()=+\\_->\u003c@`,?!"
_PERIOD = re.compile(r"(?<!\d)\.(?!\d)")
_COMMA_IN_NUMBER = re.compile(r"(\d)(,)(\d)")


def normalize_answer(text: str) -> str:
    """NFC, case-folded, trimmed, final period dropped, inner white space collapsed."""
    folded = " ".join(unicodedata.normalize("NFC", str(text)).casefold().split())
    return folded.rstrip("。.").strip()


def exact_match(prediction: str, answers: Sequence[str]) -> bool:
    """The normalized prediction equals one of the normalized answers."""
    predicted = normalize_answer(prediction)
    return any(predicted == normalize_answer(answer) for answer in answers if normalize_answer(answer))


def vqa_clean(text: str) -> str:
    """VQA answer cleaning: punctuation, English number words → digits, articles dropped, lower case."""
    text = " ".join(str(text).replace("\n", " ").replace("\t", " ").split())
    for mark in _PUNCT:
        if f"{mark} " in text or f" {mark}" in text or _COMMA_IN_NUMBER.search(text):
            text = text.replace(mark, "")
        else:
            text = text.replace(mark, " ")
    text = _PERIOD.sub("", text)
    words = [NUMBER_WORDS.get(word, word) for word in text.lower().split()]
    return " ".join(word for word in words if word not in ARTICLES).strip("'")


def relaxed_match(prediction: str, answers: Sequence[str]) -> bool:
    """The cleaned prediction starts or ends with one of the cleaned gold answers."""
    predicted = vqa_clean(prediction)
    for answer in answers:
        gold = vqa_clean(answer)
        if gold and (predicted.startswith(gold) or predicted.endswith(gold)):
            return True
    return False
