"""One tokenizer for BLEU, ROUGE-L and CIDEr in every language, without Java or a segmenter model.

The COCO caption evaluation tokenizes with Stanford's PTB tokenizer (Java), which splits English on
spaces and punctuation but leaves Chinese, Japanese or Thai captions as one "word" per sentence, so
n-gram metrics on those languages come out near zero. This tokenizer:

- normalizes to Unicode NFC and lower-cases (`str.lower`, as the PTB step does);
- drops punctuation and symbols (Unicode categories P* and S*), as PTB tokenization in the COCO
  evaluation removes punctuation tokens;
- splits text in scripts written without spaces (Han, Hiragana, Katakana, Thai, Lao, Khmer, Myanmar,
  Tibetan) into single characters, keeping combining marks (Thai vowels and tone marks) on their
  base character; character n-grams are the usual choice for CJK captioning metrics and need no
  dictionary;
- splits everything else (Latin, Cyrillic, Arabic, Devanagari, Hangul …) on white space.

Trade-off: Thai and Japanese scores are character-level, so they are comparable between checkpoints
evaluated here, not with numbers computed with a word segmenter.
"""

from __future__ import annotations

import unicodedata

# Code point ranges of scripts written without spaces between words.
_UNSPACED_RANGES: tuple[tuple[int, int], ...] = (
    (0x0E00, 0x0EFF),  # Thai, Lao
    (0x0F00, 0x0FFF),  # Tibetan
    (0x1000, 0x109F),  # Myanmar
    (0x1780, 0x17FF),  # Khmer
    (0x2E80, 0x2FDF),  # CJK radicals
    (0x3040, 0x30FF),  # Hiragana, Katakana
    (0x3100, 0x312F),  # Bopomofo
    (0x31F0, 0x31FF),  # Katakana extensions
    (0x3400, 0x4DBF),  # CJK extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0xFF66, 0xFF9F),  # half-width Katakana
    (0x20000, 0x3FFFF),  # CJK extensions B and later
)


def is_unspaced_char(char: str) -> bool:
    """True for a character of a script written without spaces (tokenized per character)."""
    point = ord(char)
    return any(low <= point <= high for low, high in _UNSPACED_RANGES)


def _is_dropped(char: str) -> bool:
    category = unicodedata.category(char)
    return category[0] in "PS" or category in ("Cc", "Cf")


def tokenize(text: str) -> list[str]:
    """Tokens of `text`: lower-cased words, single characters for unspaced scripts, no punctuation."""
    tokens: list[str] = []
    current: list[str] = []
    current_unspaced = False

    def flush() -> None:
        nonlocal current
        if current:
            tokens.append("".join(current))
            current = []

    for char in unicodedata.normalize("NFC", text).lower():
        if char.isspace() or _is_dropped(char):
            flush()
            continue
        if unicodedata.category(char) in ("Mn", "Mc", "Me") and current:
            current.append(char)  # a combining mark stays on its base character
            continue
        if is_unspaced_char(char):
            flush()
            current, current_unspaced = [char], True
            continue
        if current_unspaced:
            flush()
        current_unspaced = False
        current.append(char)
    flush()
    return tokens


def tokenized(text: str) -> str:
    """`tokenize(text)` joined by single spaces (the input format of the COCO scorers)."""
    return " ".join(tokenize(text))
