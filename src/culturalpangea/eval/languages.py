"""Language codes and names across benchmarks, normalized to the codes our shards use.

Benchmarks name languages differently: CVQA and ALM-Bench by English name ("Japanese"), M3Exam by
lower-case name ("chinese"), MaXM and XM3600 by ISO code with their own choices (MaXM "iw",
XM3600 "he"; CVQA's card uses "ben" and "orm"). Everything is mapped to the two-letter codes of
Pangea's language list (Hebrew is `iw`, as there), which is what `manifest.json` counts, so the
zero-shot mark compares like with like. A name we do not know becomes a lower-case slug; it is still
reported, and marked zero-shot because no training language can match it.
"""

from __future__ import annotations

import re

NAMES: dict[str, str] = {
    "afrikaans": "af", "amharic": "am", "arabic": "ar", "armenian": "hy", "azerbaijani": "az",
    "basque": "eu", "belarusian": "be", "bengali": "bn", "bangla": "bn", "bosnian": "bs", "breton": "br",
    "bulgarian": "bg", "burmese": "my", "catalan": "ca", "chinese": "zh", "mandarin": "zh",
    "croatian": "hr", "czech": "cs", "danish": "da", "dutch": "nl", "egyptian arabic": "ar", "english": "en",
    "estonian": "et", "filipino": "fil", "tagalog": "fil", "finnish": "fi", "french": "fr",
    "galician": "gl", "georgian": "ka", "german": "de", "greek": "el", "gujarati": "gu", "hausa": "ha",
    "hebrew": "iw", "hindi": "hi", "hungarian": "hu", "icelandic": "is", "igbo": "ig", "indonesian": "id",
    "irish": "ga", "italian": "it", "japanese": "ja", "javanese": "jv", "kannada": "kn", "kazakh": "kk",
    "khmer": "km", "kinyarwanda": "rw", "korean": "ko", "kurdish": "ku", "kyrgyz": "ky", "lao": "lo",
    "latvian": "lv", "lithuanian": "lt", "macedonian": "mk", "malagasy": "mg", "malay": "ms",
    "malayalam": "ml", "maltese": "mt", "maori": "mi", "marathi": "mr", "minangkabau": "min",
    "quechua": "quz",  # XM3600's Cusco Quechua; PangeaBench's prompt says "Quechua"
    "mongolian": "mn", "nepali": "ne", "norwegian": "no", "oromo": "om", "pashto": "ps", "persian": "fa",
    "farsi": "fa", "polish": "pl", "portuguese": "pt", "punjabi": "pa", "romanian": "ro", "russian": "ru",
    "serbian": "sr", "sinhala": "si", "sindhi": "sd", "slovak": "sk", "slovenian": "sl", "somali": "so",
    "spanish": "es", "sundanese": "su", "swahili": "sw", "swedish": "sv", "tamil": "ta", "telugu": "te",
    "thai": "th", "turkish": "tr", "ukrainian": "uk", "urdu": "ur", "uyghur": "ug", "uzbek": "uz",
    "vietnamese": "vi", "welsh": "cy", "xhosa": "xh", "yiddish": "yi", "yoruba": "yo", "zulu": "zu",
}
# Codes some benchmarks use for a language our manifest names differently.
ALIASES: dict[str, str] = {
    "he": "iw", "heb": "iw", "nb": "no", "nn": "no", "nob": "no", "ben": "bn", "orm": "om", "jw": "jv",
    "zh-cn": "zh", "zh-tw": "zh", "zh-hans": "zh", "zh-hant": "zh", "in": "id", "tl": "fil",
}
ENGLISH_NAMES: dict[str, str] = {}
for _name, _code in NAMES.items():
    ENGLISH_NAMES.setdefault(_code, _name.title())


def normalize_code(code: str) -> str:
    """A language code in our convention (lower case, aliases resolved)."""
    key = str(code).strip().lower().replace("_", "-")
    return ALIASES.get(key, key)


def code_for(value: str) -> str:
    """A language given as a code or an English name → our code; unknown names become a slug."""
    text = str(value).strip()
    key = text.lower()
    if key in NAMES:
        return NAMES[key]
    if re.fullmatch(r"[a-z]{2,3}(-[a-z]{2,4})?", key.replace("_", "-")):
        return normalize_code(key)
    base = re.sub(r"\s*\(.*\)$", "", key)  # "Chinese (Simplified)" → "chinese"
    if base in NAMES:
        return NAMES[base]
    return re.sub(r"[^a-z0-9]+", "-", key).strip("-") or "unknown"


def english_name(code: str) -> str:
    """English name of a language code, for in-prompt instructions ("… in Chinese")."""
    return ENGLISH_NAMES.get(normalize_code(code), code)
