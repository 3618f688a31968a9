"""MERLIN entity accuracy: did the model name the entity the mention links to?

MERLIN pairs a news image and its (non-English) article title with a mention and the gold entity
(Wikidata ID and English Wikipedia title). A generative model is asked for the entity's English
Wikipedia title; the answer counts as correct when, normalized (case, punctuation, underscores,
spaces), it equals the gold title, or the gold title without its parenthetical disambiguator
("Mercury (planet)" → "mercury"), or when the response contains the gold Wikidata ID as a token.
No public reference prompt for generative VLMs on MERLIN was found, so this rule is ours; it is
strict (no partial-name credit) so it cannot be gamed by listing candidates.
"""

from __future__ import annotations

import re

from culturalpangea.eval.metrics.normalize import normalize_text

_DISAMBIGUATOR = re.compile(r"\s*[\(（][^)）]*[\)）]\s*$")
_QID = re.compile(r"\bQ[1-9][0-9]*\b")


def title_forms(title: str) -> set[str]:
    """Accepted normalized forms of a Wikipedia title (with and without its disambiguator)."""
    spaced = str(title).replace("_", " ")
    forms = {normalize_text(spaced), normalize_text(_DISAMBIGUATOR.sub("", spaced))}
    return {form for form in forms if form}


def entity_match(prediction: str, title: str, qid: str | None = None) -> bool:
    """True when `prediction` names the gold entity (title forms or its QID)."""
    if qid and qid in _QID.findall(prediction):
        return True
    first_line = prediction.strip().splitlines()[0] if prediction.strip() else ""
    return normalize_text(first_line.replace("_", " ")) in title_forms(title)
