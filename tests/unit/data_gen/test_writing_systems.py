"""Script detection per language (data_gen/common/writing_systems.py): Unicode blocks, shares, kana markers."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from data_gen.common.writing_systems import (
    _RANGES,
    LANGUAGES,
    english_function_words,
    language_script,
    letter_scripts,
    missing_markers,
    script_of,
    script_share,
)

REGISTRY = Path(__file__).resolve().parents[3] / "data_gen" / "wikidata" / "registries" / "countries.json"

SAMPLES = {  # one sentence per script, with the language it is checked against
    "hi": "इस चित्र में दिखाई गई इमारत किस शहर में है?",
    "bn": "এই ছবির ভবনটি কোন শহরে অবস্থিত?",
    "ta": "இந்த படத்தில் உள்ள கட்டிடம் எந்த நகரத்தில் உள்ளது?",
    "te": "ఈ చిత్రంలోని భవనం ఏ నగరంలో ఉంది?",
    "si": "මෙම රූපයේ ඇති ගොඩනැගිල්ල කුමන නගරයේද?",
    "th": "อาคารในภาพนี้ตั้งอยู่ในเมืองใด",
    "am": "በዚህ ምስል ውስጥ ያለው ሕንፃ በየትኛው ከተማ ይገኛል?",
    "iw": "באיזו עיר נמצא הבניין שבתמונה?",
    "ar": "في أي مدينة يقع المبنى الموجود في هذه الصورة؟",
    "fa": "ساختمان این تصویر در کدام شهر است؟",
    "ur": "اس تصویر میں عمارت کس شہر میں ہے؟",
    "ko": "이 사진 속 건물은 어느 도시에 있습니까?",
    "ja": "この画像の建物はどの都市にありますか？",
    "zh": "这张图片中的建筑位于哪个城市？",
    "ru": "В каком городе находится это здание?",
    "uk": "У якому місті знаходиться ця будівля?",
    "bg": "В кой град се намира тази сграда?",
    "mn": "Энэ барилга аль хотод байдаг вэ?",
    "el": "Σε ποια πόλη βρίσκεται αυτό το κτίριο;",
    "vi": "Tòa nhà trong hình này nằm ở thành phố nào?",
    "de": "In welcher Stadt befindet sich das Bauwerk?",
}


def test_every_pangea_language_has_a_script_rule():
    registry = json.loads(REGISTRY.read_text(encoding="utf-8"))["pangea_languages"]
    assert sorted(LANGUAGES) == sorted(registry)
    assert len(LANGUAGES) == 39


@pytest.mark.parametrize(
    ("language", "scripts"),
    [("hi", {"Devanagari"}), ("am", {"Ethiopic"}), ("iw", {"Hebrew"}), ("ko", {"Hangul"}), ("th", {"Thai"}),
     ("si", {"Sinhala"}), ("zh", {"Han"}), ("ja", {"Han", "Hiragana", "Katakana"}), ("ru", {"Cyrillic"}),
     ("uk", {"Cyrillic"}), ("bg", {"Cyrillic"}), ("mn", {"Cyrillic"}), ("el", {"Greek"}), ("ar", {"Arabic"}),
     ("fa", {"Arabic"}), ("ur", {"Arabic"}), ("sw", {"Latin"}), ("vi", {"Latin"}), ("tr", {"Latin"})],
)  # fmt: skip
def test_language_to_script_table(language, scripts):
    assert language_script(language).scripts == scripts


def test_unicode_ranges_do_not_overlap():
    for (_, end, _), (start, _, _) in itertools.pairwise(_RANGES):
        assert end < start


@pytest.mark.parametrize("language", sorted(SAMPLES))
def test_native_sentences_are_in_their_languages_script(language):
    assert script_share(SAMPLES[language], language) == pytest.approx(1.0)
    assert script_share("Which city is this building in?", language) == (1.0 if language in ("vi", "de") else 0.0)


def test_japanese_and_chinese_are_told_apart():
    ja, zh = SAMPLES["ja"], SAMPLES["zh"]
    assert script_share(ja, "zh") < 0.6  # kana count against Chinese
    assert missing_markers(zh, reference=ja, language="ja") == {"Hiragana"}  # no kana in a "Japanese" rewrite
    assert missing_markers(ja, reference=ja, language="ja") == frozenset()
    # a kanji-only template asks for no kana
    assert missing_markers("京都", reference="京都", language="ja") == frozenset()


def test_letters_only_and_unknown_languages():
    assert script_share("1889 ?! 42", "en") is None
    assert letter_scripts("Köln 東京 と") == {"Latin": 4, "Han": 2, "Hiragana": 1}
    assert script_of("\u0301") == "Other"  # a combining mark
    with pytest.raises(ValueError, match="'xx'"):
        script_share("hello", "xx")


def test_english_function_words():
    assert english_function_words("Which city is this building in?") == (2, 6)
    assert english_function_words("Was ist das für ein Bauwerk in Köln?")[0] == 0
