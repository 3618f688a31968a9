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
| `wrong_language`  | the rewrite reads as another of the 39 languages (see below; Sundanese: English) |
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

**Language (`wrong_language`).** Identifier: py3langid 0.4 (langid.py's naive Bayes over byte n-grams),
whose model ships inside the 4.6 MB wheel (no download, no network; numpy only), restricted to the
project's languages: it knows 38 of the 39 (all but Sundanese; Hebrew is its `he`). Adding close
neighbours it also knows (gl, ca, da, sv, nn, mk, sr, sk, af, mr, ne) caught nothing more on the drift
cases below and tripled the false positives, so they are left out. Candidates measured on all 5,421
template stems (39 × 139, 5–15 words): lingua-language-detector 2.1 (96 MB, 38 s to load, 3 ms a call)
lacks Javanese, Sundanese, Amharic, Sinhala and Igbo; pycld2 0.42 (an unmaintained C extension) has
Javanese and Sundanese but reports only its top three languages; both were no better at Indonesian
vs Malay. py3langid: 0.2 ms a call, 1.3 s (≈ 100 MB peak) to load once per process.

Rule, with s_X(text) = log-likelihood of the text in language X per √byte (the temperature py3langid
uses itself), L the record's language and X the best-scoring other language on the rewrite: reject
when s_X − s_L ≥ max(`REWRITE_MARGIN` 0.5, the 95th percentile of s_X − s_L over L's own template
stems) on the rewrite **and** s_L − s_X ≥ `TEMPLATE_MARGIN` 0.25 on the template. The template gate
skips records whose template the identifier cannot place (it calls 84 of the 139 hand-checked Malay
stems Indonesian); the percentile skips a foreign language that L's own correct questions resemble.
Sundanese, unknown to the identifier, keeps the older rule: a rewrite with ≥ 2 more English function
words than the template (`writing_systems.english_function_words`) making ≥ 20 % of its words.

Measured (`benchmarks/language_guard.py`, 2026-12-02): every template stem as its own rewrite, which
includes the 326 distinct questions of the embedded sample's `qa` stage: 0 of 5,421 flagged (by
construction of the template gate). Each stem as the rewrite of the 5 stems after it — a different,
correct question in the same language: 26 of 27,105 flagged (0.10 %: 8 id, 8 ms, 5 cs, 5 fa; e.g. the
Czech "Kdy to zaniklo?" reads as Polish). Hand-written questions (`tests/helpers/language_drift.py`,
8 per language) as rewrites of each of the language's 139 stems: correct id, ms, jv, pt, es rewrites
0 of 5,560 flagged; drift caught: Javanese→Indonesian 99 %, Portuguese→Spanish 99 %,
Spanish→Portuguese 100 %, Indonesian→English and Portuguese→English 100 %, Indonesian→Malay 50 %
(5 of the 8 Malay questions, on the 112 of 139 stems it clearly places as Indonesian rather than
Malay; the other 3 are too close to Indonesian for it), Malay→Indonesian 8 %. Indonesian and Malay
stay the weak pair: what is missed there is mostly text that reads as good Indonesian and Malay alike.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from py3langid.langid import MODEL_FILE, LanguageIdentifier

from data_gen.backends.base import Generation
from data_gen.backends.prompts import RefineItem
from data_gen.common.text import fold
from data_gen.common.writing_systems import (
    LANGUAGES,
    english_function_words,
    language_script,
    missing_markers,
    script_share,
)
from data_gen.qa.question_templates import load_language
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
# The `wrong_language` guard (measured in the module docstring; benchmarks/language_guard.py).
REWRITE_MARGIN = 0.5  # the rewrite must favour the other language by this much (log-likelihood per √byte)…
TEMPLATE_MARGIN = 0.25  # …while the template favours the record's language by this much,
CALIBRATION_QUANTILE = 0.95  # and the rewrite is more foreign-looking than 95 % of the language's own stems.
_IDENTIFIER_CODES = {"iw": "he"}  # project code → py3langid label where they differ


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


@lru_cache(maxsize=1)
def _identifier() -> tuple[LanguageIdentifier, dict[str, str]]:
    """py3langid's shipped model restricted to the project's languages it knows: (identifier, code → label)."""
    identifier = LanguageIdentifier.from_model_file(MODEL_FILE)
    labels = {code: _IDENTIFIER_CODES.get(code, code) for code in LANGUAGES}
    known = {code: label for code, label in labels.items() if label in identifier.labels}
    identifier.set_languages(sorted(known.values()))
    return identifier, known


def identified_languages() -> frozenset[str]:
    """The project's language codes the identifier knows (all but Sundanese)."""
    return frozenset(_identifier()[1])


def language_scores(text: str) -> dict[str, float]:
    """Log-likelihood of `text` in each identified language, per √byte (py3langid's own temperature).

    Differences between two languages are log-odds that do not grow with the length of the text;
    a text without features (no letters) scores the same in every language.
    """
    identifier, known = _identifier()
    size = max(len(unicodedata.normalize("NFC", text).encode()), 1)
    ranked = dict(identifier.rank(text))
    return {code: ranked[label] / math.sqrt(size) for code, label in known.items()}


@lru_cache(maxsize=8192)
def _stem_scores(text: str) -> dict[str, float]:
    """`language_scores` of a template question (a few thousand distinct stems, each asked many times)."""
    return language_scores(text)


@lru_cache(maxsize=64)
def _foreign_ceiling(language: str) -> dict[str, float]:
    """Per other language X: how X-looking `language`'s own template stems get (the quantile of X − language)."""
    templates = load_language(language)
    kinds = [templates.recognition, *templates.properties.values()]
    stems = list(dict.fromkeys(stem for kind in kinds for stem in (*kind.open, *kind.mcq)))
    gaps: dict[str, list[float]] = {}
    for stem in stems:
        scores = _stem_scores(stem)
        for code, score in scores.items():
            gaps.setdefault(code, []).append(score - scores[language])
    rank = max(math.ceil(CALIBRATION_QUANTILE * len(stems)) - 1, 0)  # nearest-rank quantile
    return {code: sorted(values)[rank] for code, values in gaps.items() if code != language}


def _check_language(item: RefineItem, reply: dict[str, Any], settings: GuardSettings) -> str | None:
    if item.language not in identified_languages():
        return _check_english_drift(item, reply)
    rewrite, template = language_scores(reply["question"]), _stem_scores(item.question)
    own = item.language
    other = max((code for code in rewrite if code != own), key=rewrite.__getitem__)
    needed = max(REWRITE_MARGIN, _foreign_ceiling(own)[other])
    if rewrite[other] - rewrite[own] >= needed and template[own] - template[other] >= TEMPLATE_MARGIN:
        return "wrong_language"
    return None


def _check_english_drift(item: RefineItem, reply: dict[str, Any]) -> str | None:
    """The fallback for a language the identifier does not know: a Latin-script rewrite drifting into English."""
    if "Latin" not in language_script(item.language).scripts:
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
