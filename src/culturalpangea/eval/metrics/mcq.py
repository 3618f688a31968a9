"""Multiple-choice answers: read the option a response chose, or say it chose none. Never guess.

lmms-eval's CVQA/M3Exam parsers fall back to the first A–D anywhere in the text (so "A cat" reads
as option A) and finally to `random.choice`; both inflate accuracy by chance. Here a response maps
to an option only when one of these holds, in order:

1. it is a bare letter, optionally bracketed and followed by punctuation: "B", "(B)", "B.", "B)";
2. it starts with a letter marker followed by the option text or a separator: "B. Sari", "(B) Sari",
   "B: …" (a lone capital followed by a space, as in "A cat", does not count);
3. it ends with a colon and a letter: "Answer: B", "答案：B", "Jawaban: (B)";
4. after normalization (case, punctuation, spaces) it equals exactly one option's text.

Anything else is *unparseable*: it scores as wrong and is counted in the report. Letters are Latin
A, B, C … in option order, as in the prompts of CVQA, M3Exam and CulturalGround.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from culturalpangea.eval.metrics.normalize import normalize_text

LETTERS = "ABCDEFGHIJ"

_BARE = re.compile(r"^[\(\[（]?\s*([A-J])\s*[\)\]）]?[.。:：)]?$")
_PREFIX = re.compile(r"^(?:[\(\[（]\s*([A-J])\s*[\)\]）]|([A-J])\s*[.。:：)])")
_SUFFIX = re.compile(r"[:：]\s*[\(\[（]?\s*([A-J])\s*[\)\]）]?[.。]?$")


def letter(index: int) -> str:
    """The option letter for a 0-based option index."""
    if not 0 <= index < len(LETTERS):
        raise ValueError(f"option index {index} outside A–{LETTERS[-1]}")
    return LETTERS[index]


def _valid(found: str | None, n_options: int) -> int | None:
    if found is None:
        return None
    index = LETTERS.index(found)
    return index if index < n_options else None


def parse_choice(response: str, options: Sequence[str]) -> int | None:
    """0-based index of the option `response` chose, or None when it names none unambiguously."""
    text = response.strip().strip("*").strip()
    n = len(options)
    for pattern in (_BARE, _PREFIX, _SUFFIX):
        match = (pattern.match if pattern is not _SUFFIX else pattern.search)(text)
        if match:
            found = next((group for group in match.groups() if group), None)
            return _valid(found, n)
    normalized = normalize_text(text)
    if normalized:
        hits = [i for i, option in enumerate(options) if normalize_text(option) == normalized]
        if len(hits) == 1:
            return hits[0]
    return None


def score_choice(response: str, options: Sequence[str], answer_index: int) -> tuple[bool, bool]:
    """(correct, parsed): an unparseable response is wrong and reported as unparsed."""
    chosen = parse_choice(response, options)
    return chosen == answer_index, chosen is not None
