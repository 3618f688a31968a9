"""English names for the contract's language and country codes, so every report names them one way.

Languages are Pangea's codes (ISO 639-1, with Pangea's own `iw` for Hebrew; Wikidata label codes
such as `he` or `zh-hans` are other spellings of the same languages); countries are ISO 3166-1
alpha-2. Names come from CLDR through Babel. Reports write both, `Hebrew (iw)`, `Japan (JP)`:
the name for the reader, the code for grepping the data.
"""

from __future__ import annotations

import functools

# Codes Babel's CLDR data spells otherwise (Pangea and Google use the older `iw` for Hebrew).
CLDR_LANGUAGE = {"iw": "he", "jw": "jv", "quz": "qu"}


@functools.cache
def _english():
    from babel import Locale

    return Locale("en")


def language_name(code: str) -> str:
    """`ja` → `Japanese`, `iw` → `Hebrew`, `zh-hans` → `Chinese (Simplified)`; the code itself when unknown."""
    from babel import Locale, UnknownLocaleError

    key = CLDR_LANGUAGE.get(code, code)
    try:
        return Locale.parse(key.replace("-", "_")).get_display_name("en") or code
    except (ValueError, UnknownLocaleError):
        return _english().languages.get(key, code)


def country_name(code: str) -> str:
    """`JP` → `Japan`; the code itself when it is not an ISO 3166-1 alpha-2 code."""
    return _english().territories.get(str(code).upper(), code)


def language_label(code: str) -> str:
    name = language_name(code)
    return code if name == code else f"{name} ({code})"


def country_label(code: str) -> str:
    name = country_name(code)
    return code if name == code else f"{name} ({code})"
