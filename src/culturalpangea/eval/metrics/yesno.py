"""True/false answers in many languages: map a response to True, False, or None (unparseable).

MaRVL asks for "(a) false (b) true" and ALM-Bench's true/false questions are answered in the
question's language, so a response may be "true", "(b)", "Yes, it does", "是", "Evet" or "Hapana".
The vocabulary below covers Pangea's 39 languages plus the MaRVL/MaXM/ALM-Bench ones we could check;
a response counts when, after normalization, it *starts with* one of the words (longest word first,
so "不是" is read before "是" and "ไม่ใช่" before "ใช่"), followed by a word boundary (or directly
by anything for scripts written without spaces). Option letters are mapped only when the prompt
offered them (`options`). Everything else is unparseable: scored wrong and counted, never guessed.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping

from culturalpangea.eval.metrics.normalize import normalize_text
from culturalpangea.eval.metrics.tokenize import is_unspaced_char

# language → (words meaning yes/true, words meaning no/false); English is always included.
VOCABULARY: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "en": (("yes", "true", "correct", "right"), ("no", "false", "incorrect", "wrong", "not true")),
    "am": (("አዎ", "አዎን", "እውነት"), ("አይ", "አይደለም", "ሐሰት", "ውሸት")),
    "ar": (("نعم", "صحيح", "صح"), ("لا", "خطأ", "خاطئ", "غير صحيح")),
    "bg": (("да", "вярно", "истина"), ("не", "невярно", "грешно", "лъжа")),
    "bn": (("হ্যাঁ", "হাঁ", "সত্য", "সঠিক"), ("না", "মিথ্যা", "ভুল")),
    "cs": (("ano", "pravda", "správně"), ("ne", "nepravda", "špatně")),
    "de": (("ja", "wahr", "richtig", "stimmt"), ("nein", "falsch")),
    "el": (("ναι", "σωστό", "αληθές", "αληθής"), ("όχι", "λάθος", "ψευδές", "ψευδής")),
    "es": (("sí", "si", "verdadero", "cierto", "correcto"), ("falso", "incorrecto")),
    "fa": (("بله", "بلی", "درست", "صحیح"), ("نه", "خیر", "نادرست", "غلط")),
    "fr": (("oui", "vrai", "correct"), ("non", "faux", "incorrect")),
    "ga": (("tá", "is ea", "fíor"), ("níl", "ní hea", "bréagach")),
    "hi": (("हाँ", "हां", "सही", "सत्य", "सच"), ("नहीं", "गलत", "ग़लत", "असत्य")),
    "id": (("ya", "benar", "betul", "iya"), ("tidak", "salah", "bukan")),
    "ig": (("ee", "eziokwu"), ("mba", "ụgha")),
    "it": (("sì", "vero", "corretto"), ("falso", "sbagliato")),
    "iw": (("כן", "נכון", "אמת"), ("לא", "לא נכון", "שקר", "שגוי")),
    "ja": (("はい", "正しい", "真", "その通り"), ("いいえ", "違う", "誤り", "偽", "間違い")),
    "jv": (("iya", "inggih", "leres", "bener"), ("ora", "mboten", "salah", "lepat")),
    "ko": (("예", "네", "참", "맞다", "맞습니다"), ("아니요", "아니오", "아니", "거짓", "틀림", "틀렸습니다")),
    "mn": (("тийм", "үнэн", "зөв"), ("үгүй", "худал", "буруу")),
    "ms": (("ya", "benar", "betul"), ("tidak", "salah", "bukan")),
    "nl": (("ja", "waar", "juist", "correct"), ("nee", "onwaar", "onjuist", "fout")),
    "no": (("ja", "sant", "riktig"), ("nei", "usant", "feil")),
    "pl": (("tak", "prawda", "prawdziwe"), ("nie", "fałsz", "fałszywe")),
    "pt": (("sim", "verdadeiro", "correto", "certo"), ("não", "falso", "incorreto", "errado")),
    "ro": (("da", "adevărat", "corect"), ("nu", "fals", "greșit")),
    "ru": (("да", "верно", "правда", "истина"), ("нет", "неверно", "ложь", "неправда")),
    "si": (("ඔව්", "සත්‍ය", "හරි"), ("නැත", "නැහැ", "අසත්‍ය", "වැරදි")),
    "su": (("enya", "leres", "bener"), ("henteu", "lepat", "salah")),
    "sw": (("ndiyo", "ndio", "kweli", "sahihi"), ("hapana", "siyo", "si kweli", "uongo")),
    "ta": (("ஆம்", "சரி", "உண்மை"), ("இல்லை", "தவறு", "பொய்")),
    "te": (("అవును", "నిజం", "సరైనది"), ("కాదు", "లేదు", "తప్పు", "అబద్ధం")),
    "th": (("ใช่", "จริง", "ถูก", "ถูกต้อง"), ("ไม่ใช่", "ไม่", "เท็จ", "ผิด", "ไม่จริง")),
    "tr": (("evet", "doğru"), ("hayır", "yanlış")),
    "uk": (("так", "правда", "вірно"), ("ні", "неправда", "невірно", "хибно")),
    "ur": (("ہاں", "جی ہاں", "درست", "صحیح", "سچ"), ("نہیں", "غلط", "جھوٹ")),
    "vi": (("có", "đúng", "phải"), ("không", "sai")),
    "zh": (
        ("是", "对", "對", "正确", "正確", "真", "是的"),
        ("否", "不是", "不对", "不對", "错", "錯", "错误", "錯誤", "假", "不"),
    ),
}


def _build_lexicon() -> list[tuple[str, bool]]:
    meaning: dict[str, bool] = {}
    for language, (yes_words, no_words) in VOCABULARY.items():
        for value, words in ((True, yes_words), (False, no_words)):
            for word in words:
                key = normalize_text(word)
                if meaning.get(key, value) != value:
                    raise ValueError(f"yes/no word {word!r} ({language}) means both yes and no")
                meaning[key] = value
    return sorted(meaning.items(), key=lambda item: -len(item[0]))


_LEXICON = _build_lexicon()


def _boundary(text: str, end: int) -> bool:
    """A word ends at `end`: end of text, a space, or a script written without spaces."""
    if end >= len(text) or text[end] == " ":
        return True
    following = text[end]
    if unicodedata.category(following).startswith("M"):
        return False  # a combining mark belongs to the word's last letter
    return is_unspaced_char(text[end - 1]) or not following.isalnum()


def parse_yes_no(response: str, options: Mapping[str, bool] | None = None) -> bool | None:
    """True/False for a yes/true or no/false response, None when it is neither (unparseable)."""
    text = normalize_text(response)
    if not text:
        return None
    if options:
        first = text.split()[0]
        for label, value in options.items():
            if first == normalize_text(label):
                return value
    for word, value in _LEXICON:
        if text.startswith(word) and _boundary(text, len(word)):
            return value
    return None


def score_yes_no(response: str, label: bool, options: Mapping[str, bool] | None = None) -> tuple[bool, bool]:
    """(correct, parsed) for a true/false item."""
    parsed = parse_yes_no(response, options)
    return parsed == label, parsed is not None
