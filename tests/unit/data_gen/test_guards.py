"""Refinement guards (data_gen/refine/guards.py): each bad reply is stopped by its guard, and only by it.

Every case runs twice: with all guards on it must give its reason; with that one guard switched
off the same reply must get through (or fail differently) — proof that the guard is what stops it.
"""

from __future__ import annotations

import json

import pytest

from data_gen.backends.base import Generation
from data_gen.backends.prompts import RefineItem
from data_gen.common.text import fold
from data_gen.common.writing_systems import LANGUAGES
from data_gen.qa.question_templates import load_language
from data_gen.refine.guards import (
    GUARDS,
    PRE_GUARDS,
    REASONS,
    GuardSettings,
    Verdict,
    check_refinement,
    identified_languages,
    occurrences,
    parse_reply,
)
from data_gen.refine.rewrite import apply_verdict
from tests.helpers.language_drift import DRIFT_QUESTIONS
from tests.helpers.refine_records import make_record

EN, DE, FR, HI, JA = 0, 1, 2, 3, 4  # indices into tests.helpers.refine_records.QUESTIONS


def item(index: int) -> RefineItem:
    return RefineItem.from_record(make_record(index))


def reply(question: str, answer: str, **extra: object) -> Generation:
    return Generation(json.dumps({"question": question, "answer": answer, **extra}, ensure_ascii=False), "stop")


FR_OPTIONS = ["pierre", "bois", "fer", "verre"]
CASES = [
    # (case, record, generation, reason, guard to switch off)
    ("leak_alias_folded", DE, reply("Steht dieses Bauwerk in KOELN oder anderswo?", "Köln"), "leak", "leak"),
    ("leak_answer_diacritics", DE, reply("Welche Stadt, etwa koln, zeigt dieses Bild?", "Köln"), "leak", "leak"),
    ("leak_devanagari", HI, reply("क्या यह इमारत आगरा शहर में है?", "आगरा"), "leak", "leak"),
    ("leak_cjk_substring", JA, reply("この建物は京都のどこにありますか？", "京都"), "leak", "leak"),
    ("answer_changed", EN, reply("In what year was this building finished?", "1890"), "answer_changed",
     "answer_changed"),
    ("options_changed", FR, reply("Quel matériau compose ce monument ?", "fer", options=FR_OPTIONS[::-1]),
     "options_changed", "options_changed"),
    ("options_in_stem", FR, reply("Ce monument est-il en pierre ou en verre ?", "fer"), "options_in_stem",
     "options_in_stem"),
    ("wrong_script_english_for_hindi", HI, reply("Which city is the building in this picture located in?", "आगरा"),
     "wrong_script", "wrong_script"),
    ("wrong_script_chinese_for_japanese", JA, reply("这张图片中的建筑位于哪个城市？", "京都"), "wrong_script",
     "wrong_script"),
    ("wrong_language_english_for_german", DE, reply("Which city is this building located in?", "Köln"),
     "wrong_language", "wrong_language"),
    ("too_long", EN, reply("In which year " + "and at what exact moment " * 12 + "was it completed?", "1889"),
     "too_long", "length"),
    ("too_short", EN, reply("Year?", "1889"), "too_short", "length"),
    ("truncated", EN, Generation('{"question": "In which year was this building finished?", "answer": "1889"}',
                                 "length"), "truncated", "truncated"),
    ("malformed_preamble", EN, Generation("Sure! Here is a more natural version: When was this building finished?",
                                          "stop"), "malformed", "malformed"),
    ("request_failed", EN, Generation(None, None, "request_rejected_400"), "request_failed", "request_failed"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "index", "generation", "reason", "guard"), CASES, ids=[c[0] for c in CASES])
def test_each_guard_stops_its_case_and_only_it(case, index, generation, reason, guard):
    verdict = check_refinement(item(index), generation)
    assert (verdict.question, verdict.reason) == (None, reason)
    without = check_refinement(item(index), generation, disabled=frozenset({guard}))
    assert without.reason != reason


def test_every_rejection_reason_has_a_case():
    covered = {case[3] for case in CASES}
    assert covered | {"refined", "unchanged", "disabled", "empty", "too_short"} == set(REASONS)


@pytest.mark.parametrize(
    ("index", "question"),
    [
        (EN, "When was the construction of the building shown here finished?"),
        (DE, "In welcher Stadt steht das abgebildete Bauwerk?"),
        (FR, "En quel matériau le monument de cette image est-il fait ?"),
        (HI, "चित्र में दिखाई गई यह इमारत किस शहर में स्थित है?"),
        (JA, "画像に写っている建物はどの都市にありますか？"),
    ],
)
def test_good_rewrites_pass(index, question):
    record = make_record(index)
    verdict = check_refinement(item(index), reply(question, record["answer"]))
    assert (verdict.question, verdict.reason) == (question, "refined")


def test_safe_wrappers_are_removed_and_unsafe_ones_rejected():
    good = "When was this building finished?"
    fenced = Generation(f'```json\n{{"question": "{good}", "answer": "1889"}}\n```', "stop")
    assert check_refinement(item(EN), fenced).question == good
    assert check_refinement(item(EN), reply(f"“{good}”", "1889")).question == good
    assert check_refinement(item(EN), reply(f'"{good}"', "1889")).question == good
    trailing = Generation(f'{{"question": "{good}", "answer": "1889"}} I hope this helps!', "stop")
    explained = reply(good, "1889", explanation="more fluent")
    for bad in (trailing, explained, reply(good + "\nNote: fluent.", "1889"), reply("<image> " + good, "1889")):
        assert check_refinement(item(EN), bad).reason == "malformed"
    assert parse_reply("   ") == "empty"
    assert check_refinement(item(EN), reply("  ", "1889")).reason == "empty"
    assert check_refinement(item(EN), reply(make_record(EN)["question"], "1889")).reason == "unchanged"


def test_folding_and_word_boundaries():
    assert fold("  São  PAULO ") == "sao paulo"
    assert fold("İstanbul") == fold("istanbul")
    assert occurrences("rome", fold("Is it Romania or Rome?"), spaced=True) == 1
    assert occurrences("rome", fold("Is it in Romania?"), spaced=True) == 0
    assert occurrences("北京", "这是北京市吗", spaced=False) == 1
    rome = RefineItem("Which city is this building in?", "Rome", "en")
    assert check_refinement(rome, reply("Which city, not one in Romania, is this building in?", "Rome")).reason == (
        "refined"
    )


def test_answer_already_in_template_is_not_a_new_leak():
    template = RefineItem("What is the Tokyo Tower made of?", "Tokyo Tower", "en", aliases=("tower",))
    assert check_refinement(template, reply("What material is the Tokyo Tower made of?", "Tokyo Tower")).reason == (
        "refined"
    )
    assert check_refinement(template, reply("What is the Tokyo Tower tower made of?", "Tokyo Tower")).reason == "leak"


def test_script_share_relaxes_for_templates_that_quote_latin_names():
    mixed = RefineItem("Notre-Dame de Paris किस शहर में है?", "पेरिस", "hi")
    assert check_refinement(mixed, reply("Notre-Dame de Paris नामक इमारत किस शहर में है?", "पेरिस")).reason == "refined"
    assert check_refinement(mixed, reply("Which city is Notre-Dame de Paris in?", "पेरिस")).reason == "wrong_script"


def test_length_limits_follow_the_settings():
    generous = GuardSettings(max_length_ratio=10.0)
    long_reply = reply("In which year " + "and at what exact moment " * 12 + "was it completed?", "1889")
    assert check_refinement(item(EN), long_reply, generous).reason == "refined"


def test_apply_verdict_rewrites_turns_or_keeps_the_record():
    record = make_record(FR)
    accepted = apply_verdict(record, check_refinement(item(FR), reply("Quel matériau compose ce monument ?", "fer")))
    assert accepted["question"] == "Quel matériau compose ce monument ?"
    assert accepted["conversations"][0]["value"].startswith("<image>\nQuel matériau compose ce monument ?\nA. pierre")
    assert accepted["conversations"][1] == record["conversations"][1]
    assert accepted["provenance"] | {"refined": True, "refine_reason": "refined"} == accepted["provenance"]
    kept = apply_verdict(record, check_refinement(item(FR), reply("Ce monument est-il en fer ?", "fer")))
    assert kept["provenance"]["refined"] is False and kept["provenance"]["refine_reason"] == "leak"
    unchanged = {k: v for k, v in record.items() if k != "provenance"}
    assert {k: v for k, v in kept.items() if k != "provenance"} == unchanged


# (record language, its template stem (from templates/<lang>.json, P131), a correct rewrite, the same
# question drifted into a close language). The rewrites are row 0 of tests/helpers/language_drift.py.
DRIFT = [
    ("id", "Di wilayah administratif mana ini berada?", "Di provinsi manakah candi ini berada?",
     "Di negeri manakah kuil ini terletak?"),  # Indonesian → Malay
    ("jv", "Iki dumunung ing wilayah administratif endi?", "Candhi iki dumunung ing provinsi endi?",
     "Di provinsi manakah candi ini berada?"),  # Javanese → Indonesian
    ("pt", "Em que divisão administrativa isto se encontra?", "Em que cidade fica esta igreja?",
     "¿En qué ciudad se encuentra esta iglesia?"),  # Portuguese → Spanish
]  # fmt: skip


@pytest.mark.parametrize(("language", "template", "good", "drifted"), DRIFT, ids=["id>ms", "jv>id", "pt>es"])
def test_a_rewrite_drifting_into_a_close_language_is_caught(language, template, good, drifted):
    record = RefineItem(template, "Jawa Tengah", language)
    assert check_refinement(record, reply(drifted, "Jawa Tengah")) == Verdict(None, "wrong_language")
    without = check_refinement(record, reply(drifted, "Jawa Tengah"), disabled=frozenset({"wrong_language"}))
    assert without.reason == "refined"
    assert check_refinement(record, reply(good, "Jawa Tengah")) == Verdict(good, "refined")


def test_english_drift_is_caught_with_and_without_the_identifier():
    indonesian = RefineItem("Di wilayah administratif mana ini berada?", "Jawa Tengah", "id")
    english = DRIFT_QUESTIONS["en"][0]  # "In which province is this temple located?"
    assert check_refinement(indonesian, reply(english, "Jawa Tengah")).reason == "wrong_language"
    # Sundanese is not among py3langid's languages: the English function-word rule stands in.
    assert "su" not in identified_languages() and identified_languages() == frozenset(LANGUAGES) - {"su"}
    sundanese = RefineItem("Ieu perenahna di wewengkon administratif mana?", "Jawa Barat", "su")
    assert check_refinement(sundanese, reply(english, "Jawa Barat")).reason == "wrong_language"
    good = "Candi ieu perenahna di propinsi mana?"
    assert check_refinement(sundanese, reply(good, "Jawa Barat")) == Verdict(good, "refined")


ONLY_LANGUAGE = frozenset(GUARDS) - {"wrong_language"} | frozenset(PRE_GUARDS)  # the other guards switched off


def test_no_template_question_is_flagged_as_its_own_rewrite():
    """Every stem of the 39 template files (the embedded sample's questions are among them) keeps its language."""
    checked = 0
    for language in LANGUAGES:
        templates = load_language(language)
        for kind in (templates.recognition, *templates.properties.values()):
            for stem in dict.fromkeys((*kind.open, *kind.mcq)):
                checked += 1
                verdict = check_refinement(RefineItem(stem, "-", language), reply(stem, "-"), disabled=ONLY_LANGUAGE)
                assert verdict.reason == "unchanged", (language, stem, verdict.reason)
    assert checked > 39 * 100


@pytest.mark.parametrize("language", ["id", "ms", "jv", "pt", "es"])
def test_correct_hand_written_rewrites_are_accepted_for_every_template(language):
    templates = load_language(language)
    stems = [stem for kind in (templates.recognition, *templates.properties.values()) for stem in kind.open]
    for stem in stems:
        for question in DRIFT_QUESTIONS[language]:
            verdict = check_refinement(RefineItem(stem, "-", language), reply(question, "-"), disabled=ONLY_LANGUAGE)
            assert verdict.reason == "refined", (stem, question, verdict.reason)
