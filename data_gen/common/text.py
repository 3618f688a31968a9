"""The one comparison key of data_gen: `fold`, for "is this the same text?" across cases and accents.

QA generation compares answers, aliases and distractors with it; the refinement guards compare a
rewrite with its template. Folding: Unicode NFKD, combining marks (canonical combining class ≠ 0,
i.e. accents, cedillas, tone marks) dropped, `casefold`, NFC, whitespace collapsed — so "São Paulo"
matches "sao paulo", "İstanbul" matches "istanbul", "Straße" matches "strasse" and full-width
"Ｔｏｋｙｏ" matches "tokyo". Vowel signs of Indic scripts (combining class 0) are kept, so two
different Hindi names never fold together; NFC puts Hangul syllables back together. Viramas and
nuktas (class 9 and 7) are dropped like accents: a known limit, harmless for equality tests.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache


@lru_cache(maxsize=1 << 18)
def fold(text: str) -> str:
    """Case-, accent- and spacing-insensitive form of `text` for comparisons (see module doc)."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(unicodedata.normalize("NFC", stripped.casefold()).split())
