"""Which writing system a text is in, and whether that fits one of Pangea's 39 languages.

Used by the refinement guards: an LLM asked to rewrite a Hindi question sometimes answers in
English, a Japanese one in Chinese, a Ukrainian one in Russian-looking Latin transliteration.
Detection is by Unicode block, counted over *letters* only (category L*: digits, punctuation,
spaces and combining marks carry no script information), so it needs no model and no data.

Each language maps to the scripts its questions are written in (`LANGUAGES`). A text fits a
language when the share of its letters in those scripts is high enough; the refinement guard
compares that share with the template question's (see `data_gen.refine.guards`), because template
questions can legitimately quote a Latin-script name inside Hindi or Thai text.

Japanese is written with kana and kanji: kanji alone cannot tell Japanese from Chinese, so a
language can also name *marker* scripts that must be present whenever they are present in the
reference text (Japanese: hiragana or katakana). Chinese counts only Han, so kana pull a
Japanese answer below the threshold for `zh`.

Trade-off: Latin-script languages (22 of the 39) cannot be told apart by script. For them
`english_function_word_share` gives a cheap signal for the most common failure — a rewrite that
drifted into English — using a short list of unambiguous English function words; it does not try
to tell, say, Malay from Indonesian. The refinement guard now leaves that to a language identifier
and keeps this list only for Sundanese, which the identifier does not know.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass

# (first, last, script) code point ranges; letters outside every range count as "Other".
_RANGES: tuple[tuple[int, int, str], ...] = tuple(
    sorted(
        [
            (0x0041, 0x005A, "Latin"),
            (0x0061, 0x007A, "Latin"),
            (0x00AA, 0x00AA, "Latin"),
            (0x00BA, 0x00BA, "Latin"),
            (0x00C0, 0x024F, "Latin"),  # Latin-1 letters, Extended-A and -B
            (0x0250, 0x02AF, "Latin"),  # IPA extensions
            (0x1D00, 0x1DBF, "Latin"),  # phonetic extensions
            (0x1E00, 0x1EFF, "Latin"),  # Latin Extended Additional (Vietnamese)
            (0x2C60, 0x2C7F, "Latin"),
            (0xA720, 0xA7FF, "Latin"),
            (0xFF21, 0xFF3A, "Latin"),  # fullwidth
            (0xFF41, 0xFF5A, "Latin"),
            (0x0370, 0x03FF, "Greek"),
            (0x1F00, 0x1FFF, "Greek"),
            (0x0400, 0x052F, "Cyrillic"),
            (0x1C80, 0x1C8F, "Cyrillic"),
            (0x2DE0, 0x2DFF, "Cyrillic"),
            (0xA640, 0xA69F, "Cyrillic"),
            (0x0590, 0x05FF, "Hebrew"),
            (0xFB1D, 0xFB4F, "Hebrew"),
            (0x0600, 0x06FF, "Arabic"),
            (0x0750, 0x077F, "Arabic"),
            (0x0870, 0x08FF, "Arabic"),
            (0xFB50, 0xFDFF, "Arabic"),
            (0xFE70, 0xFEFF, "Arabic"),
            (0x0900, 0x097F, "Devanagari"),
            (0xA8E0, 0xA8FF, "Devanagari"),
            (0x0980, 0x09FF, "Bengali"),
            (0x0B80, 0x0BFF, "Tamil"),
            (0x0C00, 0x0C7F, "Telugu"),
            (0x0D80, 0x0DFF, "Sinhala"),
            (0x0E00, 0x0E7F, "Thai"),
            (0x1200, 0x139F, "Ethiopic"),
            (0x2D80, 0x2DDF, "Ethiopic"),
            (0xAB00, 0xAB2F, "Ethiopic"),
            (0x1100, 0x11FF, "Hangul"),
            (0x3130, 0x318F, "Hangul"),
            (0xA960, 0xA97F, "Hangul"),
            (0xAC00, 0xD7FF, "Hangul"),
            (0xFFA0, 0xFFDC, "Hangul"),
            (0x3040, 0x309F, "Hiragana"),
            (0x30A0, 0x30FF, "Katakana"),
            (0x31F0, 0x31FF, "Katakana"),
            (0xFF66, 0xFF9F, "Katakana"),
            (0x3005, 0x3007, "Han"),  # 々 〆 〇
            (0x3400, 0x4DBF, "Han"),
            (0x4E00, 0x9FFF, "Han"),
            (0xF900, 0xFAFF, "Han"),
            (0x20000, 0x323AF, "Han"),
            (0x1800, 0x18AF, "Mongolian"),  # traditional script; Mongolia's questions use Cyrillic
        ]
    )
)
_STARTS = [start for start, _, _ in _RANGES]


@dataclass(frozen=True)
class LanguageScript:
    """The scripts questions in one language are written in, and its English name (for prompts)."""

    name: str
    scripts: frozenset[str]
    markers: frozenset[str] = frozenset()
    spaced: bool = True  # words separated by spaces (False: zh, ja, th)


def _lang(name: str, *scripts: str, markers: tuple[str, ...] = (), spaced: bool = True) -> LanguageScript:
    return LanguageScript(name, frozenset(scripts), frozenset(markers), spaced)


LANGUAGES: dict[str, LanguageScript] = {
    "am": _lang("Amharic", "Ethiopic"),
    "ar": _lang("Arabic", "Arabic"),
    "bg": _lang("Bulgarian", "Cyrillic"),
    "bn": _lang("Bengali", "Bengali"),
    "cs": _lang("Czech", "Latin"),
    "de": _lang("German", "Latin"),
    "el": _lang("Greek", "Greek"),
    "en": _lang("English", "Latin"),
    "es": _lang("Spanish", "Latin"),
    "fa": _lang("Persian", "Arabic"),
    "fr": _lang("French", "Latin"),
    "ga": _lang("Irish", "Latin"),
    "hi": _lang("Hindi", "Devanagari"),
    "id": _lang("Indonesian", "Latin"),
    "ig": _lang("Igbo", "Latin"),
    "it": _lang("Italian", "Latin"),
    "iw": _lang("Hebrew", "Hebrew"),
    "ja": _lang("Japanese", "Hiragana", "Katakana", "Han", markers=("Hiragana", "Katakana"), spaced=False),
    "jv": _lang("Javanese", "Latin"),
    "ko": _lang("Korean", "Hangul"),
    "nl": _lang("Dutch", "Latin"),
    "mn": _lang("Mongolian", "Cyrillic"),
    "ms": _lang("Malay", "Latin"),
    "no": _lang("Norwegian", "Latin"),
    "pl": _lang("Polish", "Latin"),
    "pt": _lang("Portuguese", "Latin"),
    "ro": _lang("Romanian", "Latin"),
    "ru": _lang("Russian", "Cyrillic"),
    "si": _lang("Sinhala", "Sinhala"),
    "su": _lang("Sundanese", "Latin"),
    "sw": _lang("Swahili", "Latin"),
    "ta": _lang("Tamil", "Tamil"),
    "te": _lang("Telugu", "Telugu"),
    "th": _lang("Thai", "Thai", spaced=False),
    "tr": _lang("Turkish", "Latin"),
    "uk": _lang("Ukrainian", "Cyrillic"),
    "ur": _lang("Urdu", "Arabic"),
    "vi": _lang("Vietnamese", "Latin"),
    "zh": _lang("Chinese", "Han", spaced=False),
}

# Unambiguous English function words (none is a common word in another Latin-script language of
# the 39: "was", "in", "is", "die", "of", "me", "image" are left out for German, Dutch, Italian, French…).
ENGLISH_FUNCTION_WORDS = frozenset({
    "the", "what", "which", "who", "whose", "whom", "does", "did", "this", "these", "those", "where",
    "when", "how", "why", "and", "are", "shown", "picture", "depicted", "located", "built",
})  # fmt: skip
_WORD = re.compile(r"[^\W\d_]+")


def script_of(char: str) -> str:
    """The script of one character by Unicode block ("Other" outside the covered blocks)."""
    code = ord(char)
    index = bisect.bisect_right(_STARTS, code) - 1
    if index >= 0:
        start, end, script = _RANGES[index]
        if start <= code <= end:
            return script
    return "Other"


def letter_scripts(text: str) -> Counter:
    """How many letters (Unicode category L*) of `text` are in each script."""
    return Counter(script_of(char) for char in text if unicodedata.category(char).startswith("L"))


def language_script(language: str) -> LanguageScript:
    """The script rule of one of Pangea's languages; a ValueError names an unknown code."""
    try:
        return LANGUAGES[language]
    except KeyError:
        raise ValueError(f"language {language!r} is not one of the {len(LANGUAGES)} supported codes") from None


def script_share(text: str, language: str) -> float | None:
    """Share of the letters of `text` written in `language`'s scripts (None: no letters at all)."""
    counts = letter_scripts(text)
    total = sum(counts.values())
    if not total:
        return None
    wanted = language_script(language).scripts
    return sum(n for script, n in counts.items() if script in wanted) / total


def missing_markers(text: str, reference: str, language: str) -> frozenset[str]:
    """Marker scripts (e.g. kana for Japanese) present in `reference` but absent from `text`.

    A reference with no marker letters asks for none, so a kanji-only Japanese template accepts a
    kanji-only rewrite.
    """
    markers = language_script(language).markers
    if not markers:
        return frozenset()
    in_reference = {s for s in letter_scripts(reference) if s in markers}
    in_text = {s for s in letter_scripts(text) if s in markers}
    return frozenset() if not in_reference or in_text else frozenset(in_reference)


def english_function_words(text: str) -> tuple[int, int]:
    """(English function words, all words) in `text`, words lower-cased; for Latin-script checks."""
    words = [word.lower() for word in _WORD.findall(text)]
    return sum(word in ENGLISH_FUNCTION_WORDS for word in words), len(words)
