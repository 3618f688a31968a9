"""Guards on every refined question: accept the rewrite, or keep the template and say why.

A rewrite is accepted only when all of these hold (checked in this order; the first failure is the
recorded reason, and the record keeps its template question with `provenance.refined = false`):

| reason            | rejects                                                                          |
| ----------------- | -------------------------------------------------------------------------------- |
| `request_failed`  | the backend returned an error for this request (e.g. HTTP 400)                    |
| `truncated`       | generation hit `max_new_tokens` (finish_reason "length"): a runaway answer        |
| `empty`           | nothing but whitespace                                                           |
| `malformed`       | not exactly one JSON object {"question", "answer"} once *safe* wrappers are gone  |
| `answer_changed`  | the echoed answer differs from the record's (case/diacritics folded)              |
| `options_changed` | an mcq rewrite that sends back options different from the record's               |
| `too_short` / `too_long` | question length outside [min, max] × the template's (+ slack)            |
| `wrong_script`    | too few letters in the language's script(s) (`data_gen.common.writing_systems`), or kana missing |
| `wrong_language`  | a Latin-script language whose rewrite drifted into English                       |
| `leak`            | the answer or an alias appears (folded, as a word) more often than in the template|
| `options_in_stem` | an mcq stem that now names one of the options                                    |
| `unchanged`       | identical to the template (not an error; `refined` stays false)                  |

Safe wrappers, removed before parsing: surrounding whitespace, one Markdown code fence around the
whole reply (```json … ```), and one pair of quotation marks around the whole question value.
Anything else — a preamble such as "Sure! Here is…", a trailing explanation, extra JSON keys, a
line break or an `<image>` tag inside the question — is rejected rather than cut out, because a
heuristic cut can keep half an explanation in the training data.

Folding for comparisons is data_gen's one `fold` (common/text.py): case, accents and spacing
ignored, so "São Paulo" matches "sao paulo" and "İstanbul" matches "istanbul". A match counts only on word
boundaries in languages written with spaces (so "Rome" does not match "Romania"), anywhere in
Chinese, Japanese and Thai. Leaks in another script or a transliteration are not caught.
Each guard can be switched off by name (`disabled=`), which the tests use to prove that every one
of them is what stops its bad case.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from data_gen.backends.base import Generation
from data_gen.backends.prompts import RefineItem
from data_gen.common.text import fold
from data_gen.common.writing_systems import english_function_words, language_script, missing_markers, script_share
from shard_contract.tokens import IMAGE_TOKEN

REASONS = (
    "refined",
    "unchanged",
    "disabled",
    "request_failed",
    "truncated",
    "empty",
    "malformed",
    "answer_changed",
    "options_changed",
    "too_short",
    "too_long",
    "wrong_script",
    "wrong_language",
    "leak",
    "options_in_stem",
)
_FENCE = re.compile(r"^```[A-Za-z]*\s*\n?(.*?)\n?\s*```$", re.DOTALL)
_QUOTES = (('"', '"'), ("'", "'"), ("“", "”"), ("„", "“"), ("«", "»"), ("「", "」"), ("『", "』"), ("‘", "’"))
_ALLOWED_KEYS = frozenset({"question", "answer", "options"})


@dataclass(frozen=True)
class GuardSettings:
    """Limits of the length and script guards (config keys of the `refine:` block)."""

    max_length_ratio: float = 2.5
    min_length_ratio: float = 0.3
    length_slack_chars: int = 20
    min_script_share: float = 0.6
    script_share_tolerance: float = 0.2


@dataclass(frozen=True)
class Verdict:
    """The question to use (None: keep the template) and the reason, one of `REASONS`."""

    question: str | None
    reason: str


def occurrences(needle: str, haystack: str, spaced: bool) -> int:
    """How often folded `needle` occurs in folded `haystack` (on word boundaries when `spaced`)."""
    if not needle:
        return 0
    if not spaced:
        return haystack.count(needle)
    return len(re.findall(rf"(?<!\w){re.escape(needle)}(?!\w)", haystack))


def _unquote(text: str) -> str:
    for left, right in _QUOTES:
        if len(text) < 2 or not (text.startswith(left) and text.endswith(right)):
            continue
        inner = text[len(left) : -len(right)]
        if left not in inner and right not in inner:
            return inner.strip()
    return text


def _json_object(body: str) -> dict[str, Any] | None:
    """The reply's JSON object when it has exactly the allowed keys with string values, else None."""
    fenced = _FENCE.match(body)
    if fenced:
        body = fenced.group(1).strip()
    try:
        reply = json.loads(body)
    except json.JSONDecodeError:
        return None
    if not isinstance(reply, dict) or set(reply) - _ALLOWED_KEYS or not {"question", "answer"} <= set(reply):
        return None
    if not isinstance(reply["question"], str) or not isinstance(reply["answer"], str):
        return None
    return reply


def parse_reply(text: str) -> dict[str, Any] | str:
    """The reply as a dict with a clean `question`, or a reason ("empty", "malformed")."""
    body = text.strip()
    if not body:
        return "empty"
    reply = _json_object(body)
    if reply is None:
        return "malformed"
    question = _unquote(reply["question"].strip())
    if not question:
        return "empty"
    if "\n" in question or "\r" in question or IMAGE_TOKEN in question:
        return "malformed"
    return {**reply, "question": question}


def _answer_texts(item: RefineItem) -> list[str]:
    texts = [item.answer, *item.aliases]
    folded = [fold(text) for text in texts]
    # A one-letter Latin alias ("B") would match ordinary words; digits and CJK characters still count.
    return [f for f in dict.fromkeys(folded) if f and not (len(f) == 1 and f.isascii() and f.isalpha())]


def _check_answer(item: RefineItem, reply: dict[str, Any], settings: GuardSettings) -> str | None:
    return None if fold(reply["answer"]) == fold(item.answer) else "answer_changed"


def _check_options(item: RefineItem, reply: dict[str, Any], settings: GuardSettings) -> str | None:
    if "options" not in reply:
        return None
    if item.question_type != "mcq" or reply["options"] != list(item.choices):
        return "options_changed"
    return None


def _check_length(item: RefineItem, reply: dict[str, Any], settings: GuardSettings) -> str | None:
    size, template = len(reply["question"]), len(item.question)
    if size < settings.min_length_ratio * template:
        return "too_short"
    if size > settings.max_length_ratio * template + settings.length_slack_chars:
        return "too_long"
    return None


def _check_script(item: RefineItem, reply: dict[str, Any], settings: GuardSettings) -> str | None:
    share = script_share(reply["question"], item.language)
    reference = script_share(item.question, item.language)
    wanted = settings.min_script_share
    if reference is not None:
        wanted = min(wanted, reference - settings.script_share_tolerance)
    if share is None or share < wanted:
        return "wrong_script"
    if missing_markers(reply["question"], item.question, item.language):
        return "wrong_script"
    return None


def _check_language(item: RefineItem, reply: dict[str, Any], settings: GuardSettings) -> str | None:
    rule = language_script(item.language)
    if item.language == "en" or "Latin" not in rule.scripts:
        return None
    hits, words = english_function_words(reply["question"])
    template_hits, _ = english_function_words(item.question)
    if hits - template_hits >= 2 and hits >= 0.2 * max(words, 1):
        return "wrong_language"
    return None


def _check_leak(item: RefineItem, reply: dict[str, Any], settings: GuardSettings) -> str | None:
    spaced = language_script(item.language).spaced
    question, template = fold(reply["question"]), fold(item.question)
    for text in _answer_texts(item):
        if occurrences(text, question, spaced) > occurrences(text, template, spaced):
            return "leak"
    return None


def _check_options_in_stem(item: RefineItem, reply: dict[str, Any], settings: GuardSettings) -> str | None:
    if item.question_type != "mcq":
        return None
    spaced = language_script(item.language).spaced
    question, template = fold(reply["question"]), fold(item.question)
    for choice in item.choices:
        text = fold(choice)
        if text and occurrences(text, question, spaced) > occurrences(text, template, spaced):
            return "options_in_stem"
    return None


GUARDS = {
    "answer_changed": _check_answer,
    "options_changed": _check_options,
    "length": _check_length,
    "wrong_script": _check_script,
    "wrong_language": _check_language,
    "leak": _check_leak,
    "options_in_stem": _check_options_in_stem,
}
PRE_GUARDS = ("request_failed", "truncated", "malformed")  # names usable in `disabled` too


def check_refinement(
    item: RefineItem,
    generation: Generation,
    settings: GuardSettings | None = None,
    disabled: frozenset[str] = frozenset(),
) -> Verdict:
    """Judge one generated reply for `item`; guards named in `disabled` are skipped (tests only)."""
    settings = settings or GuardSettings()
    if generation.error and "request_failed" not in disabled:
        return Verdict(None, "request_failed")
    if generation.finish_reason == "length" and "truncated" not in disabled:
        return Verdict(None, "truncated")
    reply = parse_reply(generation.text or "")
    if reply == "malformed" and "malformed" in disabled:
        reply = {"question": (generation.text or "").strip(), "answer": item.answer}  # the naive reading
    if isinstance(reply, str):
        return Verdict(None, reply)
    for name, guard in GUARDS.items():
        if name not in disabled:
            reason = guard(item, reply, settings)
            if reason:
                return Verdict(None, reason)
    if reply["question"] == item.question:
        return Verdict(None, "unchanged")
    return Verdict(reply["question"], "refined")
