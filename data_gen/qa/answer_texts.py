"""Answer texts: a Wikidata fact's value written the way a speaker of the question language writes it.

- **item**: the value item's label in the question language. Without one, the configured fallback
  languages are tried in order (none by default: an English label inside, say, a Tamil answer is
  not Tamil data); still nothing → the pair is skipped and counted as `value_label_missing`.
- **time**: truthy (`wdt:`) times carry no precision, and Wikidata stores a year-precision value as
  `YYYY-01-01` and a month-precision one as `YYYY-MM-01`. So the answer never claims more precision
  than may exist: `-01-01` → the year only, `-MM-01` → month and year, anything else → the full
  date, each in the locale's own pattern (Babel/CLDR: "28 janvier 1887", "1887年1月28日"). A real
  date that falls on the 1st loses its day; it is never wrong. Years ≤ 0 follow XSD 1.1 (as the
  Wikidata RDF export does): year 0 is 1 BCE, -1 is 2 BCE; they are written with the language's
  `bce_year` template ("500 av. J.-C."). Dates Python cannot represent (year > 9999, Feb 30) are
  skipped as `bad_time`.
- **digits**: the locale's own (CLDR's default numbering system: Persian answers in Persian
  digits, issue 17 (e)), with the Latin-digit form kept as an alias; Latin elsewhere.
- **quantity**: the decimal in the locale's grouping and decimal marks (Babel), keeping every
  significant digit. Truthy values lose their unit, so the answer is the bare
  number; the question templates ask for the measure, and the unit is a known gap of `wdt:`.
- **string / monolingual**: the text itself (a name in its own language is the answer in any
  question language).

`ValueText.group` says which answers may stand beside each other as multiple-choice options: a
bare year is never offered next to full dates, so the format cannot give the answer away.
`fold` is the comparison key for answers, aliases and distractors (NFKD, combining marks dropped,
casefolded, whitespace collapsed).
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from babel import Locale
from babel.dates import format_date, format_skeleton
from babel.numbers import format_decimal

BABEL_LOCALES = {"iw": "he", "no": "nb"}
TIME_PATTERN = re.compile(r"^([+-]?)(\d{1,16})-(\d{2})-(\d{2})(?:T|$)")


@dataclass(frozen=True)
class ValueText:
    """One answer in one language: its text, other spellings of it, and its option group."""

    text: str
    aliases: tuple[str, ...] = ()
    group: str = "text"


class ValueSkip(Exception):
    """The value cannot be written in this language; `reason` is counted by the stage."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@lru_cache(maxsize=64)
def babel_locale(language: str) -> Locale:
    """The Babel locale for a Pangea language code (`iw` → `he`, `no` → `nb`)."""
    return Locale.parse(BABEL_LOCALES.get(language, language))


# The zero of each decimal numbering system a CLDR locale may default to (Unicode: digits are consecutive).
NUMBERING_ZERO = {"arab": 0x0660, "arabext": 0x06F0, "beng": 0x09E6, "deva": 0x0966, "mymr": 0x1040,
                  "thai": 0x0E50, "tamldec": 0x0BE6, "telu": 0x0C66, "khmr": 0x17E0, "laoo": 0x0ED0}


@lru_cache(maxsize=64)
def digit_table(language: str) -> dict[int, str] | None:
    """ASCII digit → the digit of the locale's default numbering system (CLDR through Babel: Persian uses
    `arabext`); None where that system is Latin."""
    zero = NUMBERING_ZERO.get(babel_locale(language).default_numbering_system)
    return None if zero is None else {ord("0") + n: chr(zero + n) for n in range(10)}


def with_native_digits(text: ValueText, language: str) -> ValueText:
    """`text` in the locale's digits, its Latin-digit spelling kept as an alias (unchanged where digits are Latin)."""
    table = digit_table(language)
    if table is None:
        return text
    native = text.text.translate(table)
    if native == text.text:
        return text
    aliases = tuple(dict.fromkeys(a for a in (text.text, *text.aliases, *(a.translate(table) for a in text.aliases))
                                  if a != native))
    return ValueText(native, aliases, text.group)


@lru_cache(maxsize=1 << 16)
def format_time(value: str, language: str, bce_pattern: str) -> ValueText:
    return with_native_digits(_format_time(value, language, bce_pattern), language)


def _format_time(value: str, language: str, bce_pattern: str) -> ValueText:
    """A truthy xsd:dateTime in the language's pattern, at the precision rule of the module docstring."""
    match = TIME_PATTERN.match(value.strip())
    if not match:
        raise ValueSkip("bad_time")
    sign, year_text, month, day = match.groups()
    year = -int(year_text) if sign == "-" else int(year_text)
    if year <= 0:
        bce = 1 - year
        return ValueText(bce_pattern.format(year=bce), (str(bce),), "bce")
    try:
        date = datetime.date(year, int(month), int(day))
    except ValueError:
        raise ValueSkip("bad_time") from None
    locale = babel_locale(language)
    if (date.month, date.day) == (1, 1):
        text, group, aliases = format_skeleton("y", date, locale=locale), "year", (str(year),)
    elif date.day == 1:
        text, group, aliases = format_skeleton("yMMMM", date, locale=locale), "month", (str(year),)
    else:
        text, group, aliases = format_date(date, "long", locale=locale), "day", (str(year), date.isoformat())
    return ValueText(text, tuple(a for a in aliases if a != text), group)


@lru_cache(maxsize=1 << 16)
def format_quantity(value: str, language: str) -> ValueText:
    """A decimal amount with the locale's separators, every significant digit kept."""
    try:
        amount = Decimal(value.strip())
    except (InvalidOperation, AttributeError):
        raise ValueSkip("bad_quantity") from None
    if not amount.is_finite():
        raise ValueSkip("bad_quantity")
    amount = amount.quantize(Decimal(1)) if amount == amount.to_integral_value() else amount.normalize()
    plain = format(amount, "f")
    locale = babel_locale(language)
    latin = format_decimal(amount, locale=locale, decimal_quantization=False)
    if digit_table(language) is None:
        return ValueText(latin, (plain,) if plain != latin else (), "number")
    native_marks = format_decimal(amount, locale=locale, decimal_quantization=False, numbering_system="default")
    aliases = tuple(dict.fromkeys(a for a in (latin, plain) if a != native_marks))
    return with_native_digits(ValueText(native_marks, aliases, "number"), language)


MAX_ANSWER_CHARS = 120  # a label longer than this is a description, not an answer (issue 17 (d))


def clean_label(text: str) -> str:
    """A label as one line (line breaks and runs of white space become one space); ValueSkip when too long."""
    flat = " ".join(text.split())
    if not flat:
        raise ValueSkip("value_label_missing")
    if len(flat) > MAX_ANSWER_CHARS:
        raise ValueSkip("answer_too_long")
    return flat


def item_label(labels: dict[str, str], language: str, fallback: tuple[str, ...] = ()) -> str:
    for code in (language, *fallback):
        text = labels.get(code)
        if isinstance(text, str) and text.strip():
            return clean_label(text)
    raise ValueSkip("value_label_missing")


def value_text(fact: dict[str, Any], language: str, bce_pattern: str, fallback: tuple[str, ...] = ()) -> ValueText:
    """The answer text of one entity fact (see `data_gen.entities.selection.build_record`) in `language`.

    Raises ValueSkip with the counted reason when the value cannot be written in that language.
    """
    kind, value = fact.get("type"), fact.get("value")
    if not isinstance(value, str):
        raise ValueSkip("bad_value")
    if kind == "item":
        return ValueText(item_label(fact.get("labels") or {}, language, fallback), (), "item")
    if kind == "time":
        return format_time(value, language, bce_pattern)
    if kind == "quantity":
        return format_quantity(value, language)
    if kind in ("string", "monolingual"):
        if not value.split():
            raise ValueSkip("empty_value")
        return ValueText(clean_label(value), (), "text")
    raise ValueSkip("unknown_value_type")
