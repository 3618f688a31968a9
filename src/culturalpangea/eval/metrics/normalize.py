"""Text normalization shared by the answer-matching metrics (exact match, options, entities)."""

from __future__ import annotations

import unicodedata


def strip_punctuation(text: str) -> str:
    """Replace Unicode punctuation (categories P*) by spaces."""
    return "".join(" " if unicodedata.category(ch).startswith("P") else ch for ch in text)


def normalize_text(text: str) -> str:
    """NFC, case-folded, punctuation removed, white space collapsed: for answer comparison."""
    folded = unicodedata.normalize("NFC", str(text)).casefold()
    return " ".join(strip_punctuation(folded).split())
