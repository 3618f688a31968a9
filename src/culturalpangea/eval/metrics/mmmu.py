"""MMMU's official answer rules (MMMU-Benchmark/MMMU `eval/eval_utils.py`), which lmms-eval and
PangeaBench's xMMMU use unchanged: the number comparable with published MMMU and xMMMU scores.

Behaviour reproduced and tested verdict by verdict (no code carried over):

- multiple choice (`parse_multi_choice_response`): the answer is stripped of , . ! ? ; : ' at
  both ends and padded with spaces; candidates are the letters written "(A)", else "A " (a
  letter followed by a space, anywhere), else "A."; else, for answers longer than five words,
  the options whose text occurs in the answer; several candidates → the one that occurs last;
  none → a random letter (seeded here by the item ID, unseeded in MMMU's code). Correct when the
  letter is the answer letter (`eval_multi_choice`).
- open questions (`parse_open_response`, `eval_open`): the answer is split into sentences; in each
  the text after the last of "could be", "so", "is", "thus", "therefore", "final", "answer",
  "result" (and "=" in the last sentence) is a key answer; the key answers and every number in
  them, normalised (numbers → floats rounded to 2 decimals, text lower-cased, a single character
  padded with a space), are the predictions. Correct when a normalised reference number equals a
  predicted number, or a normalised reference text is a substring of a predicted text.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence

_STRIP = (",", ".", "!", "?", ";", ":", "'")
_KEY_INDICATORS = ("could be ", "so ", "is ", "thus ", "therefore ", "final ", "answer ", "result ")
_TRIVIAL = {":", ",", ".", "!", "?", ";", "'"}
_NUMBER_WITH_COMMAS = re.compile(r"-?\b\d{1,3}(?:,\d{3})+\b")
_NUMBER_SCIENTIFIC = re.compile(r"-?\d+(?:\.\d+)?[eE][+-]?\d+")
_NUMBER_SIMPLE = re.compile(r"-?(?:\d+\.\d+|\.\d+|\d+\b)(?![eE][+-]?\d+)(?![,\d])")
_SENTENCES = re.compile(r"\.\s(?=[A-Z])|\n")

Normalized = str | float


def letters(n_options: int) -> list[str]:
    return [chr(ord("A") + i) for i in range(n_options)]


def choice_letter(response: str, options: Sequence[str], item_id: str) -> str:
    """The option letter MMMU's rule reads from `response` (a seeded draw when nothing matches)."""
    choices = letters(len(options))
    text = response
    for char in _STRIP:
        text = text.strip(char)
    text = f" {text} "
    bracketed = [c for c in choices if f"({c})" in text]
    candidates = bracketed or [c for c in choices if f"{c} " in text] or [c for c in choices if f"{c}." in text]
    by_content = False
    if not candidates and len(text.split()) > 5:
        candidates = [c for c, option in zip(choices, options, strict=True) if option.lower() in text.lower()]
        by_content = bool(candidates)
    if not candidates:
        return random.Random(f"mmmu:{item_id}").choice(choices)
    if len(candidates) == 1:
        return candidates[0]
    if by_content:
        positions = [text.lower().rfind(options[choices.index(c)].lower()) for c in candidates]
    elif bracketed:
        positions = [text.rfind(f"({c})") for c in candidates]
    else:
        positions = [text.rfind(f" {c} ") for c in candidates]
    return candidates[positions.index(max(positions))]  # the last one written; the first on a tie


def _is_number(text: str) -> bool:
    try:
        float(text.replace(",", ""))
    except ValueError:
        return False
    return True


def normalize(text: str) -> list[Normalized]:
    """A number as a float (2 decimals), else lower-case text; one character padded so it cannot match inside words."""
    text = text.strip()
    if _is_number(text):
        return [round(float(text.replace(",", "")), 2)]
    text = text.lower()
    return [" " + text, text + " "] if len(text) == 1 else [text]


def numbers_in(text: str) -> list[str]:
    return _NUMBER_WITH_COMMAS.findall(text) + _NUMBER_SCIENTIFIC.findall(text) + _NUMBER_SIMPLE.findall(text)


def _key_answers(response: str) -> list[str]:
    text = response.strip().strip(".").lower()
    sentences = _SENTENCES.split(text)
    keys = []
    for index, sentence in enumerate(sentences):
        indicators = (*_KEY_INDICATORS, "=") if index == len(sentences) - 1 else _KEY_INDICATORS
        shortest = None
        for indicator in indicators:
            if indicator in sentence:
                tail = sentence.split(indicator)[-1].strip()
                if not shortest or len(tail) < len(shortest):
                    shortest = tail
        if shortest and shortest.strip() not in _TRIVIAL:
            keys.append(shortest)
    return keys or [text]


def open_predictions(response: str) -> list[Normalized]:
    """MMMU's predictions for an open question: key answers and their numbers, normalised, without repeats."""
    keys = _key_answers(response)
    found = [*keys, *(number for key in keys for number in numbers_in(key))]
    return list(dict.fromkeys(value for item in found for value in normalize(item)))


def open_correct(response: str, answers: Sequence[str]) -> bool:
    """MMMU's verdict on an open question with one or several reference answers."""
    references = [value for answer in answers for value in normalize(str(answer))]
    for prediction in open_predictions(response):
        if isinstance(prediction, str):
            if any(isinstance(ref, str) and ref in prediction for ref in references):
                return True
        elif prediction in references:
            return True
    return False
