"""Answer texts per language (data_gen/qa/answer_texts.py): times, quantities, labels, folding."""

from __future__ import annotations

import pytest

from data_gen.common.text import fold
from data_gen.qa.answer_texts import ValueSkip, format_quantity, format_time, value_text


@pytest.mark.parametrize(
    ("value", "language", "text", "group"),
    [
        ("1887-01-28T00:00:00Z", "en", "January 28, 1887", "day"),
        ("1887-01-28T00:00:00Z", "fr", "28 janvier 1887", "day"),
        ("1887-01-28T00:00:00Z", "ja", "1887年1月28日", "day"),
        ("1887-01-01T00:00:00Z", "en", "1887", "year"),  # year precision is stored as -01-01
        ("1887-01-01T00:00:00Z", "ja", "1887年", "year"),
        ("1887-03-01T00:00:00Z", "de", "März 1887", "month"),  # month precision is stored as -MM-01
        ("1887-03-01T00:00:00Z", "iw", "מרץ 1887", "month"),  # Pangea code iw → Babel he
    ],
)
def test_times_use_the_locale_pattern_at_the_stored_precision(value: str, language: str, text: str, group: str) -> None:
    result = format_time(value, language, "{year} BC")
    assert (result.text, result.group) == (text, group)
    assert "1887" in result.aliases or result.text == "1887"


def test_years_before_the_common_era_follow_xsd_11() -> None:
    assert format_time("-0499-01-01T00:00:00Z", "fr", "{year} av. J.-C.").text == "500 av. J.-C."
    assert format_time("0000-01-01T00:00:00Z", "en", "{year} BC").text == "1 BC"
    assert format_time("-0499-06-01T00:00:00Z", "ja", "紀元前{year}年").group == "bce"


@pytest.mark.parametrize("value", ["1887-02-30T00:00:00Z", "12345-01-01T00:00:00Z", "yesterday", ""])
def test_unrepresentable_times_are_skipped_with_a_reason(value: str) -> None:
    with pytest.raises(ValueSkip) as info:
        format_time(value, "en", "{year} BC")
    assert info.value.reason == "bad_time"


def test_quantities_use_locale_separators_and_keep_digits() -> None:
    assert format_quantity("+2148271", "en").text == "2,148,271"
    assert format_quantity("+2148271", "de").text == "2.148.271"
    assert format_quantity("+2148271", "en").aliases == ("2148271",)
    assert format_quantity("+324.50", "fr").text == "324,5"
    assert format_quantity("+0.000125", "en").text == "0.000125"
    assert format_quantity("-12", "en").text == "-12"
    assert format_quantity("1E+3", "en").text == "1,000"
    for bad in ("NaN", "Infinity", "12 m"):
        with pytest.raises(ValueSkip, match="bad_quantity"):
            format_quantity(bad, "en")


def test_item_labels_fall_back_only_when_configured() -> None:
    fact = {"property": "P186", "type": "item", "value": "Q1011", "labels": {"en": "wrought iron", "fr": "fer puddlé"}}
    assert value_text(fact, "fr", "{year}").text == "fer puddlé"
    with pytest.raises(ValueSkip, match="value_label_missing"):
        value_text(fact, "ja", "{year}")
    assert value_text(fact, "ja", "{year}", fallback=("en",)).text == "wrought iron"


def test_strings_monolingual_and_unknown_types() -> None:
    monolingual = {"type": "monolingual", "value": " Tour  Eiffel ", "lang": "fr"}
    assert value_text(monolingual, "ja", "{year}").text == "Tour Eiffel"
    with pytest.raises(ValueSkip, match="empty_value"):
        value_text({"type": "string", "value": "  "}, "en", "{year}")
    with pytest.raises(ValueSkip, match="unknown_value_type"):
        value_text({"type": "globe", "value": "x"}, "en", "{year}")


def test_fold_ignores_case_diacritics_and_spacing() -> None:
    assert fold("Ça  Été") == fold("ca ete") == "ca ete"
    assert fold("Ｔｏｋｙｏ") == "tokyo"  # NFKD folds full-width forms
    assert fold("Straße") == "strasse"
    assert fold("2\u202f148") == "2 148"
    # one fold for QA and the refinement guards (common/text.py): accents go, Indic vowel signs stay
    assert fold("कुतुब") != fold("कतब") and fold("कुतुब") == "कुतुब"
    assert fold("한국어") == "한국어"  # Hangul recomposed after NFKD


def test_numbers_use_the_locales_own_digits_and_igbo_bce_is_igbo():
    """Issue 17 (e): Persian numbers came in Latin digits; Igbo BCE years read "BC" in English."""
    import json
    from pathlib import Path

    from data_gen.qa.answer_texts import format_quantity, format_time

    persian = format_quantity("+12345.5", "fa")
    assert persian.text == "۱۲٬۳۴۵٫۵" and "12345.5" in persian.aliases  # CLDR fa: arabext digits and marks
    year = format_time("1887-01-01T00:00:00Z", "fa", "{year}")
    assert year.text == "۱۸۸۷" and "1887" in year.aliases
    assert format_quantity("+12345", "en").text == "12,345"  # Latin where the locale's digits are Latin
    template = json.loads((Path(__file__).resolve().parents[3] / "data_gen" / "qa" / "templates" / "ig.json")
                          .read_text(encoding="utf-8"))
    pattern = template["values"]["bce_year"]
    assert format_time("-0499-01-01T00:00:00Z", "ig", pattern).text == "500 Tupu Kraist"  # CLDR ig era name
