"""QA generation (data_gen/qa/generate.py) and the `qa` stage (data_gen/qa/stage.py) on synthetic entity records."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from data_gen.common.errors import DataGenError
from data_gen.common.parts import iter_records, list_parts
from data_gen.common.text import fold
from data_gen.qa.conversation import conversations
from data_gen.qa.generate import QASettings, answer_in_question, pick_distinct
from data_gen.qa.stage import country_complete, run_qa
from shard_contract.sample import KEY_PATTERN, check_sample
from tests.helpers.qa_inputs import write_inputs

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict]]:
    out = write_inputs(tmp_path_factory.mktemp("qa"), per_country=40)
    run_qa(out, QASettings(mcq_fraction=1.0, chunk_size=500))
    return out, list(iter_records(out / "qa"))


def _entities(out: Path) -> dict[str, dict]:
    entities = {}
    for path in sorted((out / "entities").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            entity = json.loads(line)
            entities[entity["qid"]] = entity
    return entities


def test_records_follow_the_contract_and_the_record_format(generated) -> None:
    _, records = generated
    assert len(records) > 3000
    ids = [record["id"] for record in records]
    assert len(set(ids)) == len(ids)
    for record in records:
        assert KEY_PATTERN.match(record["id"])
        assert check_sample(record, has_image=True) is None, record["id"]
        assert record["conversations"][0]["value"].startswith("<image>\n" + record["question"])
        assert record["conversations"] == conversations(record)  # the generator's fast path = qa_format
        assert set(record["provenance"]) == {"template", "refined", "filter_score", "image", "entity_label"}
        if record["property"] == "entity_recognition" and record["language"] == "en":
            assert record["provenance"]["entity_label"] == record["answer"]  # the English label, for the filter
        assert set(record["provenance"]["image"]) == {"file", "url", "author", "license", "placeholder"}
        assert record["image"].startswith(f"images/{record['country']}/")
    languages = Counter(record["language"] for record in records)
    assert {"en", "fr", "ja", "hi", "iw", "ar"} <= set(languages)


def test_no_open_answer_is_inside_its_question(generated) -> None:
    _, records = generated
    for record in records:
        assert fold(record["answer"]) not in fold(record["question"]), record["id"]
    assert answer_in_question("What is shown in this image?", "Image", [])
    assert answer_in_question("Quelle est sa hauteur ?", "x", ["HAUTEUR"])
    assert not answer_in_question("What is shown in this image?", "x", ["is"])  # short aliases are not searched


def test_distractors_are_same_property_never_the_answer_an_alias_or_another_true_value(generated) -> None:
    out, records = generated
    entities = _entities(out)
    mcqs = [r for r in records if r["question_type"] == "mcq"]
    assert len(mcqs) > 1500
    for record in mcqs:
        assert len(record["choices"]) == 4 and len(set(map(fold, record["choices"]))) == 4
        banned = {fold(record["answer"]), *map(fold, record["answer_aliases"])}
        entity = entities[record["qid"]]
        if record["property"] == "entity_recognition":
            banned |= {fold(a) for a in entity["aliases"].get(record["language"], [])}
        else:
            banned |= {
                fold(f["labels"][record["language"]])
                for f in entity["facts"]
                if f["property"] == record["property"] and f["type"] == "item" and record["language"] in f["labels"]
            }
        distractors = [c for c in record["choices"] if c != record["answer"]]
        assert not banned & set(map(fold, distractors)), record["id"]


def test_hard_negatives_come_from_the_same_country_first(generated) -> None:
    _, records = generated
    recognition = [r for r in records if r["question_type"] == "mcq" and r["property"] == "entity_recognition"]
    same_country = sum(all(c.startswith(r["country"]) for c in r["choices"]) for r in recognition)
    assert recognition and same_country == len(recognition)  # synthetic labels start with the country code


def test_time_options_share_the_answer_precision(generated) -> None:
    _, records = generated
    years = [r for r in records if r["question_type"] == "mcq" and r["property"] == "P571" and r["language"] == "en"]
    assert years
    for record in years:
        kinds = {("day" if "," in c else "month" if " " in c else "year") for c in record["choices"]}
        assert len(kinds) == 1, record["choices"]


def test_answer_letters_are_balanced_over_ten_thousand_items(tmp_path: Path) -> None:
    out = write_inputs(tmp_path, per_country=100)
    run_qa(out, QASettings(mcq_fraction=1.0))
    letters = Counter()
    for record in iter_records(out / "qa"):
        if record["question_type"] == "mcq":
            letters[record["conversations"][1]["value"]] += 1
    total = sum(letters.values())
    assert total >= 10_000
    for letter in "ABCD":
        assert abs(letters[letter] / total - 0.25) <= 0.02, letters
    assert max(letters.values()) - min(letters.values()) <= 3 * 4  # exact per country, by construction


def test_images_are_spread_over_an_entitys_usable_images(generated) -> None:
    _, records = generated
    per_entity: dict[str, set[str]] = {}
    for record in records:
        per_entity.setdefault(record["qid"], set()).add(record["image"])
    assert any(len(images) == 3 for images in per_entity.values())
    assert all(len(images) <= 3 for images in per_entity.values())


def test_skips_are_counted_by_reason(generated) -> None:
    out, _ = generated
    reasons = json.loads((out / "qa" / "manifest.json").read_text())["reasons"]
    assert reasons["entity:no_image"] > 0  # entities whose images all failed
    assert reasons["pair:entity_label_missing"] > 0
    assert reasons["pair:value_label_missing"] > 0
    assert reasons["kept:open"] > 0 and reasons["kept:mcq"] > 0


def _digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*.jsonl")):
        digest.update(path.relative_to(folder).as_posix().encode() + path.read_bytes())
    return digest.hexdigest()


def test_same_records_in_processes_with_different_hash_seeds(tmp_path: Path) -> None:
    script = (
        "import sys; from pathlib import Path; sys.path.insert(0, sys.argv[2]);"
        "from tests.helpers.qa_inputs import write_inputs; from data_gen.qa.stage import run_qa;"
        "from data_gen.qa.generate import QASettings; out = write_inputs(Path(sys.argv[1]), per_country=12);"
        "run_qa(out, QASettings(seed=7, mcq_fraction=0.5))"
    )
    digests = []
    for hash_seed in ("0", "12345"):
        out = tmp_path / f"run{hash_seed}"
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        subprocess.run([sys.executable, "-c", script, str(out), str(ROOT)], check=True, env=env, cwd=ROOT)
        digests.append(_digest(out / "qa"))
    assert digests[0] == digests[1]
    other = tmp_path / "other-seed"
    write_inputs(other, per_country=12)
    run_qa(other, QASettings(seed=8, mcq_fraction=0.5))
    assert _digest(other / "qa") != digests[0]


def test_resume_rewrites_only_missing_parts_identically(tmp_path: Path) -> None:
    out = write_inputs(tmp_path, per_country=20)
    run_qa(out, QASettings(chunk_size=100))
    before = _digest(out / "qa")
    parts = list_parts(out / "qa")
    assert len([p for p in parts if p.country == "IN"]) > 2
    victim = next(p for p in parts if p.country == "IN" and p.index == 1)
    victim.path(out / "qa").unlink()
    (out / "qa" / "manifest.json").unlink()
    assert not country_complete(out / "qa", "IN") and country_complete(out / "qa", "FR")
    summary = run_qa(out, QASettings(chunk_size=100))
    assert summary["countries"]["IN"]["parts_written"] == 1
    assert summary["countries"]["FR"]["parts_written"] == 0
    assert _digest(out / "qa") == before


def test_subset_of_countries_equals_the_full_run_and_defers_the_manifest(tmp_path: Path) -> None:
    full = write_inputs(tmp_path / "full", per_country=10)
    run_qa(full, QASettings())
    part = write_inputs(tmp_path / "part", per_country=10)
    summary = run_qa(part, QASettings(), countries=["JP"])
    assert not summary["complete"] and not (part / "qa" / "manifest.json").exists()
    assert _digest(part / "qa" / "JP") == _digest(full / "qa" / "JP")
    with pytest.raises(DataGenError, match="no entities output for KE"):
        run_qa(part, QASettings(), countries=["KE"])


def test_missing_inputs_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"entities output .* run it first"):
        run_qa(tmp_path, QASettings())
    out = write_inputs(tmp_path / "x", per_country=3)
    (out / "images" / "JP.jsonl").write_text('{"qid": "Q1", "status": "ok", "path": "../../etc/passwd"}\n')
    with pytest.raises(DataGenError, match=r"JP\.jsonl:1: image path '\.\./\.\./etc/passwd' must be relative"):
        run_qa(out, QASettings())


def test_chained_options_read_as_the_concatenated_list_and_draw_the_same_distractors() -> None:
    """Recognition tiers are views over the per-class lists (ChainedOptions), not copies made on every
    question (quadratic at scale): indexing, length and pick_distinct's draws equal the copied list's."""
    import random

    from data_gen.qa.generate import ChainedOptions

    parts = [[(f"a{i}", f"a{i}") for i in range(5)], [], [(f"b{i}", f"b{i}") for i in range(3)], [("c", "c")]]
    chained, copied = ChainedOptions(parts), [option for part in parts for option in part]
    assert len(chained) == len(copied) == 9 and list(chained) == copied and chained == copied
    assert [chained[i] for i in range(-9, 9)] == [copied[i] for i in range(-9, 9)] and chained[2:7] == copied[2:7]
    with pytest.raises(IndexError):
        chained[9]
    assert len(ChainedOptions([])) == 0 and not ChainedOptions([[], []])
    for seed in range(50):
        excluded = {f"a{seed % 5}", "c"}
        accept = (lambda text: not text.startswith("b1")) if seed % 2 else None
        assert pick_distinct(random.Random(seed), [chained, copied], excluded, 3, accept) == pick_distinct(
            random.Random(seed), [copied, copied], excluded, 3, accept
        )


def test_each_languages_option_lists_are_built_once_per_run(tmp_path: Path, monkeypatch) -> None:
    """Countries were generated in code order and each kept only its own languages' lists, so Tamil's
    were built for India, dropped for Japan and built again for Sri Lanka (each build formats every
    value of the property: most of the stage's time). The stage now orders countries by shared
    languages and keeps a list while a later country needs it: one build per (property, language)."""
    from data_gen.qa.generate import DistractorPools
    from data_gen.qa.stage import generation_order

    out = write_inputs(tmp_path / "run", per_country=8, countries=("FR", "IL", "IN", "JP", "LK"))
    builds: Counter = Counter()
    original = DistractorPools._build

    def counting(self, pid: str, language: str):
        builds[(pid, language)] += 1
        return original(self, pid, language)

    monkeypatch.setattr(DistractorPools, "_build", counting)
    run_qa(out, QASettings(mcq_fraction=1.0))
    assert builds and max(builds.values()) == 1, [key for key, n in builds.items() if n > 1]
    assert {language for _, language in builds} >= {"ta", "si", "en"}
    sets = {"FR": ["fr", "en"], "IN": ["hi", "ta", "en"], "JP": ["ja", "en"], "LK": ["si", "ta", "en"]}
    order = generation_order(sets, sets)
    assert sorted(order) == sorted(sets) and order.index("LK") == order.index("IN") + 1
    monkeypatch.setattr(DistractorPools, "_build", original)
    alone = write_inputs(tmp_path / "alone", per_country=8, countries=("FR", "IL", "IN", "JP", "LK"))
    run_qa(alone, QASettings(mcq_fraction=1.0), countries=["LK"])
    assert _digest(alone / "qa" / "LK") == _digest(out / "qa" / "LK")


def test_pick_distinct_respects_tiers_and_exclusions() -> None:
    import random

    tier1 = [("a", "a"), ("b", "b")]
    tier2 = [(t, t) for t in "abcdefgh" * 20]
    picked = pick_distinct(random.Random(0), [tier1, tier2], {"a"}, 3)
    assert picked[0] == "b" and len(set(picked)) == 3 and "a" not in picked
    assert pick_distinct(random.Random(0), [[("x", "x")]], set(), 3) == ["x"]


def test_changed_settings_or_inputs_are_refused_not_mixed(tmp_path: Path) -> None:
    out = write_inputs(tmp_path, per_country=4)
    run_qa(out, QASettings())
    run_qa(out, QASettings())  # same computation: fine
    with pytest.raises(DataGenError, match="settings differ"):
        run_qa(out, QASettings(mcq_fraction=0.9))
    with (out / "entities" / "FR.jsonl").open("a") as handle:
        handle.write("\n")
    with pytest.raises(DataGenError, match="entities_sha256 differ"):
        run_qa(out, QASettings())


def test_no_property_question_answers_with_the_pictured_entity_itself(tmp_path: Path) -> None:
    """Issue 17 (a): a photo of Kano, "which region is this in?" → "Kano"; "official name" → the entity's own
    label; the entity's own name offered as a wrong option. Such pairs are now skipped and counted."""
    out = write_inputs(tmp_path, per_country=6, countries=("FR",))
    path = out / "entities" / "FR.jsonl"
    entities = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    first = entities[0]
    item_fact = next(f for f in first["facts"] if f["type"] == "item")
    item_fact["value"] = first["qid"]  # "located in" itself
    next(f for f in first["facts"] if f["property"] == "P1448")["value"] = first["labels"]["en"]  # official name
    path.write_text("".join(json.dumps(e, ensure_ascii=False, sort_keys=True) + "\n" for e in entities),
                    encoding="utf-8")
    run_qa(out, QASettings(mcq_fraction=1.0))
    records = list(iter_records(out / "qa"))
    own = {fold(label) for label in first["labels"].values()}
    for record in records:
        if record["qid"] == first["qid"] and record["property"] != "entity_recognition":
            assert fold(record["answer"]) not in own, record["id"]
        if record["question_type"] == "mcq" and record["qid"] == first["qid"]:
            wrong = [c for c in record["choices"] if c != record["answer"]]
            assert not {fold(c) for c in wrong} & own, record["id"]  # never its own name as a distractor
    reasons = json.loads((out / "qa" / "manifest.json").read_text())["reasons"]
    assert reasons["pair:answer_is_entity"] >= 2


def test_a_multi_valued_property_is_asked_once_with_its_other_values_accepted(generated) -> None:
    """Issue 17 (b): the same question with two different answers (Yeats: poet / playwright) were two records."""
    out, records = generated
    entities = _entities(out)
    asked: Counter = Counter()
    checked = 0
    for record in records:
        if record["property"] == "entity_recognition":
            continue
        asked[(record["qid"], record["property"], record["language"], record["question_type"])] += 1
        values = [f for f in entities[record["qid"]]["facts"] if f["property"] == record["property"]]
        if len(values) > 1 and record["language"] == "en":
            others = [v["labels"].get("en") for v in values if v["labels"].get("en") and
                      fold(v["labels"]["en"]) != fold(record["answer"])]
            assert set(others) <= set(record["answer_aliases"]), record["id"]  # the other true values
            checked += 1
    assert checked > 0
    assert max(asked.values()) == 1  # one question per (entity, property, language, type)


def test_options_share_the_answers_writing_system_and_recognition_options_its_class(tmp_path: Path) -> None:
    """Issue 17 (c): a Javanese-script answer sat among Latin options (it gave itself away), and most wrong
    options of recognition questions did not share a class with the answer."""
    from data_gen.qa.generate import writing_family

    out = write_inputs(tmp_path, per_country=30, countries=("FR", "JP"))
    path = out / "entities" / "FR.jsonl"
    entities = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    javanese = "ꦥꦿꦩ꧀ꦧꦤꦤ꧀"
    entities[1]["labels"]["en"] = javanese
    path.write_text("".join(json.dumps(e, ensure_ascii=False, sort_keys=True) + "\n" for e in entities),
                    encoding="utf-8")
    run_qa(out, QASettings(mcq_fraction=1.0))
    classes = {e["labels"].get("en"): set(e["classes"]) for e in _entities(out).values()}
    shared = total = 0
    for record in iter_records(out / "qa"):
        if record["question_type"] != "mcq":
            continue
        families = {writing_family(choice) for choice in record["choices"]} - {None}
        assert len(families) <= 1, record["choices"]  # one writing system per question
        assert (javanese in record["choices"]) == (record["answer"] == javanese) or len(families) == 1
        if record["property"] == "entity_recognition" and record["language"] == "en":
            for choice in record["choices"]:
                if choice != record["answer"]:
                    total += 1
                    shared += bool(classes.get(choice, set()) & classes.get(record["answer"], set()))
    assert writing_family("富士山") == writing_family("ねぶた祭") == "CJK" and writing_family("1999") is None
    assert total and shared / total > 0.9  # a class in common: the class tier across countries comes first


def test_a_label_with_a_line_break_stays_one_line_and_a_description_is_no_answer(tmp_path: Path) -> None:
    """Issue 17 (d): a label with a line break split an option over two lines; a 300-character label became
    an answer."""
    out = write_inputs(tmp_path, per_country=8, countries=("FR",))
    path = out / "entities" / "FR.jsonl"
    entities = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    entities[0]["labels"]["en"] = "Pont\nNeuf"
    entities[1]["labels"]["en"] = "A very long description " * 13  # > 120 characters
    path.write_text("".join(json.dumps(e, ensure_ascii=False, sort_keys=True) + "\n" for e in entities),
                    encoding="utf-8")
    run_qa(out, QASettings(mcq_fraction=1.0))
    records = list(iter_records(out / "qa"))
    for record in records:
        texts = [record["answer"], *(record.get("choices") or []), *(t["value"] for t in record["conversations"])]
        assert not any("\n" in text for text in [record["answer"], *(record.get("choices") or [])]), record["id"]
        assert len(record["answer"]) <= 120 and all(len(c) <= 120 for c in record.get("choices") or [])
        assert texts
    assert any(r["answer"] == "Pont Neuf" for r in records)
    reasons = json.loads((out / "qa" / "manifest.json").read_text())["reasons"]
    assert reasons["pair:answer_too_long"] >= 1


def test_the_distractor_index_reads_each_country_once_and_keeps_no_whole_record(tmp_path: Path) -> None:
    """Scale (issue 17 §4): the index kept every entity record of every country in memory (most of the
    qa stage's 1.7 GiB at 100k entities); it now keeps labels and classes, and the stage reads a
    country's records from disk when it generates that country."""
    from data_gen.entities.stage import read_entities
    from data_gen.qa.generate import DistractorPools
    from data_gen.qa.question_templates import load_language
    from tests.helpers.qa_inputs import COUNTRY_LANGUAGES

    out = write_inputs(tmp_path, per_country=6)
    reads: Counter = Counter()

    def lazily(code: str):
        reads[code] += 1
        yield from read_entities(out, code)

    codes = sorted(COUNTRY_LANGUAGES)
    pools = DistractorPools({code: lazily(code) for code in codes}, {"fr": load_language("fr")})
    assert reads == dict.fromkeys(codes, 1)
    kept = [part for entry in pools.entities for part in entry]
    assert len(pools.entities) == 6 * len(codes)
    assert not any(isinstance(part, dict) and {"facts", "qid", "images"} & set(part) for part in kept)
    first = read_entities(out, "FR")[0]
    same_class = pools.recognition_tiers("fr", "FR", first["classes"])[0]
    assert (first["labels"]["fr"], fold(first["labels"]["fr"])) in same_class


def test_option_lists_of_other_languages_are_dropped_between_countries_and_rebuilt_the_same(tmp_path: Path) -> None:
    """The built option lists of every language stayed in memory to the end of the stage; each country
    now keeps only its own languages' lists, and a dropped list is rebuilt identically."""
    from data_gen.entities.stage import read_entities
    from data_gen.qa.generate import DistractorPools
    from data_gen.qa.question_templates import load_language
    from tests.helpers.qa_inputs import COUNTRY_LANGUAGES

    out = write_inputs(tmp_path, per_country=6)
    pools = DistractorPools({code: read_entities(out, code) for code in COUNTRY_LANGUAGES},
                            {lang: load_language(lang) for lang in ("fr", "ja", "en")})  # fmt: skip
    jp = read_entities(out, "JP")[0]
    before = (pools.property_tiers("P186", "ja", "item", "JP"), pools.recognition_tiers("ja", "JP", jp["classes"]))
    pools.property_tiers("P186", "fr", "item", "FR")
    pools.retain(["fr", "en"])
    assert {lang for _, lang in pools._pools} == {"fr"} and "ja" not in pools._recognition
    after = (pools.property_tiers("P186", "ja", "item", "JP"), pools.recognition_tiers("ja", "JP", jp["classes"]))
    assert after == before and before[0] and before[1][0]
