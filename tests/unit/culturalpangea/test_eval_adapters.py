"""Adapters read each benchmark's published format (written by the fixtures) into items and errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from culturalpangea.eval.adapters import ADAPTERS, select
from culturalpangea.eval.adapters.almbench import mcq_target, split_options
from culturalpangea.eval.adapters.cvqa import parse_subset
from culturalpangea.eval.items import EvalItem, ItemError, ItemProblem
from culturalpangea.eval.languages import code_for, english_name
from culturalpangea.eval.tables import TableError, find_tables
from culturalpangea_demo.benchmark_fixtures import tiny_jpeg, write_marvl
from tests.helpers.benchmark_fixtures import write_benchmarks


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    return write_benchmarks(tmp_path_factory.mktemp("benchmarks"), bad=True)


def _read(name, folder, **settings):
    items = list(ADAPTERS[name].items(folder, settings))
    good = {i.item_id: i for i in items if isinstance(i, EvalItem)}
    errors = {e.item_id: e.reason for e in items if isinstance(e, ItemError)}
    return good, errors


def test_cvqa(folders):
    good, errors = _read("cvqa", folders["cvqa"])
    assert len(good) == 7  # six rows + one whose image is broken (caught when its batch decodes)
    assert {i.language for i in good.values()} == {"ja", "sw", "es"}
    assert good["cvqa_005"].country == "Spain" and good["cvqa_005"].target["answer"] == 3
    assert good["cvqa_000"].prompt == (
        "<image>\nQuestion: この祭りの名前は？ \n\n Options: A. 祇園祭\nB. ねぶた祭\nC. 阿波踊り\nD. 雪まつり \n\n "
        "Answer with the option's letter from the given choices directly.")
    assert "outside the 4 choices" in errors["cvqa_bad_label"]
    assert errors["cvqa_missing_question"] == "missing field 'Question'"
    translated, _ = _read("cvqa", folders["cvqa"], translated=True)
    assert "Question 0?" in translated["cvqa_000"].prompt and "A. option 0" in translated["cvqa_000"].prompt


def test_cvqa_subset_forms():
    assert parse_subset("('Japanese', 'Japan')") == ("ja", "Japan")
    assert parse_subset("Spanish-Argentina") == ("es", "Argentina")
    with pytest.raises(ItemProblem):
        parse_subset("('Japanese',")


def test_marvl(folders, tmp_path):
    good, errors = _read("marvl", folders["marvl"])
    assert len(good) == 7 and {i.language for i in good.values()} == {"id", "zh"}
    item = good["id:id-0"]
    assert item.task == "yesno" and item.target["label"] is True and len(item.images) == 1
    assert item.prompt.endswith("Options: (a) false (b) true. Answer with the option directly.")
    assert errors == {"sw:sw-bad-label": "field 'label' is 'maybe', not true/false"}
    # a copy without the prepared stacked image: the two images go in as two placeholders
    import pyarrow.parquet as pq

    write_marvl(tmp_path / "m")
    table = pq.read_table(tmp_path / "m" / "data" / "id-00000-of-00001.parquet").drop(["horizontally_stacked_img"])
    pq.write_table(table, tmp_path / "m" / "data" / "id-00000-of-00001.parquet")
    pair, _ = _read("marvl", tmp_path / "m")
    assert len(pair["id:id-1"].images) == 2 and pair["id:id-1"].prompt.startswith("<image>\n<image>\nDoes")


@pytest.mark.parametrize("layout", ["marvl-data", "iglue"])
def test_marvl_original_release_resolves_images_against_the_benchmark_folder(tmp_path, monkeypatch, layout):
    """Issue 16: the marvl-data / IGLUE files (`caption`, `left_img`, `right_img` as file names) failed
    every row with "missing field 'hypothesis'", and the names were resolved against the working directory."""
    from culturalpangea.eval.images import decode_image
    from culturalpangea_demo.benchmark_fixtures import MARVL_ROWS, write_marvl_release

    write_marvl_release(tmp_path / "marvl", layout)
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # the working directory must not matter
    good, errors = _read("marvl", tmp_path / "marvl")
    assert errors == {}
    assert len(good) == sum(len(rows) for rows in MARVL_ROWS.values())
    item = good["marvl-id:id-0"]
    assert item.language == "id" and item.target["label"] is True and item.subset == "10-Kafé"
    assert item.prompt.startswith("<image>\n<image>\nDoes the content of the image support the given text? Text: "
                                  + MARVL_ROWS["id"][0][0])
    assert [Path(image).name for image in item.images] == ["10-1.jpg", "10-2.jpg"]
    assert all(decode_image(image).size == (32, 32) for image in item.images)  # NFKD folder found from NFC name
    assert good["marvl-zh:zh-1"].language == "zh" and good["marvl-zh:zh-1"].target["label"] is True


def test_marvl_pangeabench_copy_with_conversations(tmp_path):
    """Issue 16: PangeaBench's MaRVL copy (`conversations` + `image`) failed every row like the original release."""
    from culturalpangea_demo.benchmark_fixtures import MARVL_ROWS, write_marvl_pangeabench

    write_marvl_pangeabench(tmp_path)
    good, errors = _read("marvl", tmp_path)
    assert errors == {} and len(good) == sum(len(rows) for rows in MARVL_ROWS.values())
    item = good["id:id-0"]
    # marvl_doc_to_text: the human turn without "<image>\n", then ". Answer with the option directly."
    assert item.prompt == (f"<image>\nStatement: {MARVL_ROWS['id'][0][0]} Options: (a) false (b) true. "
                           "Answer with the option directly.")
    assert len(item.images) == 1 and item.target["label"] is MARVL_ROWS["id"][0][1]
    assert good["zh:zh-0"].target["label"] is False  # marvl_doc_to_target: "false" in the answer turn


def test_marvl_original_release_names_a_missing_image(tmp_path):
    from culturalpangea_demo.benchmark_fixtures import write_marvl_release

    write_marvl_release(tmp_path, "marvl-data")
    next((tmp_path / "zh" / "images").rglob("11-2.jpg")).unlink()
    _, errors = _read("marvl", tmp_path)
    assert list(errors) == ["marvl-zh:zh-1"]
    assert "image '11-2.jpg' not found" in errors["marvl-zh:zh-1"] and "zh/images/11-concept" in errors["marvl-zh:zh-1"]


def test_limit_counts_rows_per_split_across_its_shards(tmp_path):
    """Issue 16: `limit: 10` gave 150 MaRVL items (10 per Parquet shard). The Hub shards one split into
    `data/<split>-0000k-of-0000n.parquet`: the limit counts the split, whatever its number of files."""
    import pyarrow.parquet as pq

    from culturalpangea_demo.benchmark_fixtures import write_cvqa

    write_cvqa(tmp_path / "saved")
    rows = list(next(iter(find_tables(tmp_path / "saved"))).read())  # 6 rows in the CVQA schema
    for shard in range(3):
        import pyarrow as pa

        renamed = [{**row, "ID": f"{row['ID']}_{shard}"} for row in rows]
        path = tmp_path / "hub" / "data" / f"test-{shard:05d}-of-00003.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pylist(renamed), path)
    everything, _ = _read("cvqa", tmp_path / "hub")
    assert len(everything) == 18
    limited, _ = _read("cvqa", tmp_path / "hub", limit=4)
    assert sorted(limited) == ["cvqa_000_0", "cvqa_001_0", "cvqa_002_0", "cvqa_003_0"]
    split_files, _ = _read("cvqa", tmp_path / "hub", limit=8)
    assert len(split_files) == 8  # 6 from the first file, 2 from the second


def test_maxm(folders):
    good, errors = _read("maxm", folders["maxm"])
    assert len(good) == 8 and {i.language for i in good.values()} == {"fr", "zh", "iw"}
    hebrew = next(i for i in good.values() if i.language == "iw")
    assert hebrew.prompt.endswith("Answer the question using a single word or phrase in Hebrew.")
    assert hebrew.prompt.startswith("<image>\nGiven the image and the question, provide a concise answer. ")
    assert [reason for reason in errors.values()] == ["missing field 'answers'"]


def test_maxm_original_v1_release(tmp_path, monkeypatch):
    """Issue 16: the v1 JSON (annotations → qa_pairs) gave "missing field 'answers'"."""
    from culturalpangea_demo.benchmark_fixtures import MAXM_ROWS, write_maxm_release

    write_maxm_release(tmp_path / "maxm")
    monkeypatch.chdir(tmp_path)
    good, errors = _read("maxm", tmp_path / "maxm")
    assert errors == {}
    assert len(good) == sum(len(rows) for rows in MAXM_ROWS.values())
    item = good["maxm_v1_fr:fr-1"]
    assert item.language == "fr" and item.target["answers"] == MAXM_ROWS["fr"][1][1]
    assert item.prompt.endswith("Answer the question using a single word or phrase in French.")
    assert Path(item.images[0]) == tmp_path / "maxm" / "images" / f"fr{0:012x}.jpg"  # both questions of image 0
    assert good["maxm_v1_fr:fr-0"].images == item.images
    assert {i.language for i in good.values()} == {"fr", "zh", "iw"}
    limited, _ = _read("maxm", tmp_path / "maxm", limit=1)
    assert len(limited) == 3  # one question per language: the limit counts questions, not image records
    (tmp_path / "maxm" / "images" / f"zh{2:012x}.jpg").unlink()
    _, errors = _read("maxm", tmp_path / "maxm")
    assert list(errors) == ["maxm_v1_zh:zh-2"] and "not found under" in errors["maxm_v1_zh:zh-2"]


def test_maxm_yesno_splits_are_an_explicit_setting_reported_under_their_language(tmp_path):
    from culturalpangea_demo.benchmark_fixtures import write_maxm

    write_maxm(tmp_path / "maxm", yesno=True)
    default, _ = _read("maxm", tmp_path / "maxm")
    assert not any(key.startswith("fr_yesno") for key in default)  # were silently mixed in
    included, _ = _read("maxm", tmp_path / "maxm", include_yesno=True)
    [yesno] = [item for key, item in included.items() if key.startswith("fr_yesno:")]
    assert yesno.language == "fr" and yesno.subset == "yesno"
    assert len(included) == len(default) + 1


def test_m3exam_parquet(folders):
    good, errors = _read("m3exam", folders["m3exam"])
    assert sorted(good) == ["chinese#0", "chinese#1", "thai#0", "thai#1"]
    assert [good[k].target["answer"] for k in sorted(good)] == [0, 1, 2, 3]  # "1", "B", "3", "(4)"
    item = good["chinese#0"]
    assert item.language == "zh" and item.target["options"] == ["北京", "上海", "西安", "南京"]
    assert item.prompt.startswith("以下是关于社会科学的单项选择题。")
    assert "<image> 图中的建筑位于哪个城市？\n(A) 北京\n(B) 上海" in item.prompt and item.prompt.endswith("答案：")
    assert good["thai#1"].prompt.count("<image>") == 1 and "ข้อใดถูกต้องตามภาพ <image>" in good["thai#1"].prompt
    assert "outside the 4 choices" in errors["chinese#2"] and "not valid base64" in errors["chinese#3"]


def test_m3exam_original_json_release(tmp_path):
    (tmp_path / "images-english").mkdir()
    (tmp_path / "images-english" / "image-1.jpg").write_bytes(tiny_jpeg(1))
    rows = [{"question_text": "(image)[image-1.jpg] What is shown?", "background_description": [],
             "answer_text": "2", "options": ["(1) a cat", "(2) a dog"], "need_image": "yes", "language": "english",
             "level": "low", "subject": "science", "subject_category": "natural-science", "year": "2010"},
            {"question_text": "(image)[missing.jpg] And here?", "answer_text": "1", "options": ["(1) x", "(2) y"],
             "language": "english"}]
    (tmp_path / "english-questions-image.json").write_text(json.dumps(rows), encoding="utf-8")
    good, errors = _read("m3exam", tmp_path)
    item = good["english-questions-image#0"]
    assert item.images == (tmp_path / "images-english" / "image-1.jpg",) and item.target["answer"] == 1
    assert "multiple choice question about Natural Science" in item.prompt and item.prompt.endswith("Answer:")
    assert "missing.jpg" in errors["english-questions-image#1"]


def test_m3exam_original_release_loads_images_named_in_background_and_options(tmp_path):
    """Issue 16: only the question's markers were loaded; those in `background_description` and `options`
    were left as text, so an image option could not be seen."""
    from culturalpangea.eval.markdown import benchmark_markdown
    from culturalpangea.eval.report import benchmark_section

    folder = tmp_path / "images-english"
    folder.mkdir()
    for name in ("map.png", "q.jpg", "opt-a.jpg", "opt-b.jpg"):
        (folder / name).write_bytes(tiny_jpeg(len(name)))
    rows = [{"question_text": "(image)[q.jpg] Which animal lives here?", "language": "english",
             "background_description": ["The map (image)[map.png] shows a region."],
             "options": ["(1) (image)[opt-a.jpg]", "(2) (image)[opt-b.jpg]"], "answer_text": "(2)",
             "subject_category": "natural-science"}]
    (tmp_path / "english-questions-image.json").write_text(json.dumps(rows), encoding="utf-8")
    good, errors = _read("m3exam", tmp_path)
    assert errors == {}
    item = good["english-questions-image#0"]
    assert [Path(p).name for p in item.images] == ["map.png", "q.jpg", "opt-a.jpg", "opt-b.jpg"]  # reading order
    assert item.prompt.count("<image>") == 4 and "(image)[" not in item.prompt
    assert "The map <image> shows a region." in item.prompt and "(A) <image>\n(B) <image>" in item.prompt
    record = {"id": item.item_id, "benchmark": "m3exam", "language": "en", "task": "mcq", "target": item.target,
              "prompt": item.prompt, "prediction": "B", "error": None}
    section = benchmark_section("m3exam", [record], None)
    assert section["multi_image_items"] == 1
    assert "PangeaBench writes one `<image>` per question" in benchmark_markdown("m3exam", section)


def test_xm100_prompts_for_english_and_quechua_as_pangeabench(tmp_path):
    """Issue 16: `en` got "… in English." and Cusco Quechua "… in quz."; PangeaBench's xm100_en.yaml names no
    language and xm100_quz.yaml says "in Quechua". Rows in PangeaBench-xm100's form: image_id, caption, image."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from culturalpangea_demo.benchmark_fixtures import _image

    for split in ("en", "quz", "fil"):
        path = tmp_path / "data" / f"{split}-00000-of-00001.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pylist([{"image_id": f"{split}01", "caption": "a caption", "image": _image(1)}]),
                       path)
    good, errors = _read("xm100", tmp_path)
    assert errors == {}
    assert good["en:en01"].prompt == "<image>\nProvide a one-sentence caption for the provided image."
    assert good["quz:quz01"].prompt.endswith("for the provided image in Quechua.")
    assert good["fil:fil01"].prompt.endswith("for the provided image in Filipino.")
    assert good["quz:quz01"].target["captions"] == ["a caption"]


def test_xm3600_original_release(tmp_path):
    """Issue 16: XM3600's own captions.jsonl + images/ (one line per image, every language in it)."""
    from culturalpangea_demo.benchmark_fixtures import write_xm3600_release

    write_xm3600_release(tmp_path)
    good, errors = _read("xm100", tmp_path)
    assert errors == {} and len(good) == 6  # 2 images × 3 languages
    key = f"{0:016x}"
    english = good[f"en:{key}"]
    assert english.target["captions"] == ["A red house by a lake.", "A house."]
    assert english.prompt == "<image>\nProvide a one-sentence caption for the provided image."
    assert english.images == (tmp_path / "images" / f"{key}.jpg",)
    assert good[f"quz:{key}"].prompt.endswith("in Quechua.")
    assert len(_read("xm100", tmp_path, limit=1)[0]) == 3  # limit counts images per language
    assert set(_read("xm100", tmp_path, languages=["quz"])[0]) == {f"quz:{key}", f"quz:{1:016x}"}
    (tmp_path / "images" / f"{key}.jpg").unlink()
    _, errors = _read("xm100", tmp_path)
    assert len(errors) == 3 and all("is missing" in reason for reason in errors.values())


def test_xm100(folders):
    good, errors = _read("xm100", folders["xm100"])
    assert len(good) == 10 and not errors
    item = good["ja:img0000"]
    assert item.task == "caption" and len(item.target["captions"]) == 2
    assert item.prompt == "<image>\nProvide a one-sentence caption for the provided image in Japanese."
    limited, _ = _read("xm100", folders["xm100"], limit=1)
    assert len(limited) == 3  # first row of each language


def test_almbench(folders):
    good, errors = _read("almbench", folders["almbench"])
    assert len(good) == 8
    kinds = {i.item_id: (i.subset, i.task) for i in good.values()}
    assert kinds["000_1_01_001"] == ("mcq", "mcq") and kinds["001_1_01_001"] == ("yesno", "yesno")
    assert kinds["002_1_01_001"] == ("short", "vqa") and kinds["005_1_01_001"] == ("long", "long")
    urdu = good["003_1_01_001"]
    assert urdu.target == {"answer": 0, "options": ["شلوار قمیض", "ساڑھی", "کیمونو"]}
    assert good["004_1_01_001"].target == {"label": False} and good["001_1_01_001"].target == {"label": True}
    limited, _ = _read("almbench", folders["almbench"], max_new_tokens_by_type={"long": 256}, max_new_tokens=64)
    assert limited["005_1_01_001"].max_new_tokens == 256 and limited["000_1_01_001"].max_new_tokens == 64
    assert "not one of the choices" in errors["bad_mcq"] and "neither true nor false" in errors["bad_tf"]
    assert good["002_1_01_001"].prompt.endswith("Please provide brief, clear responses in Japanese language.")


def test_almbench_true_false_outside_the_yes_no_lists_falls_back_to_the_english_answer(tmp_path):
    """Issue 16: a true/false answer in a language the yes/no word lists lack became an item error."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from culturalpangea_demo.benchmark_fixtures import _image

    row = {"file_name": _image(1), "ID": "yo_1", "Language": "Yoruba", "Category": "Religion",
           "Question_Type": "True False Question", "English_Question": "Is this a mosque?", "English_Answer": "Yes",
           "Translated_Question": "Ṣé mọ́sálásí ni èyí?", "Translated_Answer": "Bẹ́ẹ̀ni", "Image_Url": ""}
    path = tmp_path / "data" / "test-00000-of-00001.parquet"
    path.parent.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist([row, {**row, "ID": "yo_2", "English_Answer": "unclear"}]), path)
    good, errors = _read("almbench", tmp_path)
    assert good["yo_1"].target == {"label": True} and good["yo_1"].language == "yo"
    assert "neither true nor false" in errors["yo_2"]


def test_almbench_option_lists():
    assert split_options("A. x, B. y z, C. w") == ["x", "y z", "w"]
    assert split_options("Kimono, Sari、Hanbok") == ["Kimono", "Sari", "Hanbok"]
    assert mcq_target("着物（着物、サリー、韓服）")[:2] == (["着物", "サリー", "韓服"], 0)
    with pytest.raises(ItemProblem, match="no bracketed list"):
        mcq_target("Kimono")


def test_merlin(folders):
    good, errors = _read("merlin", folders["merlin"])
    assert len(good) == 5 and {i.language for i in good.values()} == {"hi", "ja"}
    item = good["ja#1:Q39231"]
    assert item.target == {"title": "Mount Fuji", "qid": "Q39231"} and item.task == "entity"
    assert "Mention: 富士山" in item.prompt and "English Wikipedia title" in item.prompt
    assert errors == {"hi#2:Q999": "missing field 'English Wikipedia Title'"}


def test_culturalground(folders):
    good, errors = _read("culturalground", folders["culturalground"])
    assert len(good) == 8 and not errors
    mcq = good["HO-0002-hi-mcq"]
    assert mcq.target == {"answer": 0, "options": ["आगरा", "दिल्ली", "जयपुर", "मुंबई"]} and mcq.country == "India"
    assert mcq.prompt.startswith("<image>\nयह स्मारक") and "A. आगरा" in mcq.prompt
    assert good["HO-0004-en-open"].target == {"answers": ["London"]} and good["HO-0004-en-open"].task == "vqa"


def test_culturalground_damaged_shard_is_counted(tmp_path, folders):
    import shutil

    copy = tmp_path / "heldout"
    shutil.copytree(folders["culturalground"], copy)
    shard = sorted(copy.glob("*.tar"))[0]
    shard.write_bytes(shard.read_bytes()[:3000])  # cut inside the first shard
    good, errors = _read("culturalground", copy)
    assert len(good) < 8 and any(key.startswith("shards:tar") for key in errors)


def test_tables_and_languages(tmp_path):
    with pytest.raises(TableError, match="does not exist"):
        find_tables(tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    with pytest.raises(TableError, match="no save_to_disk"):
        find_tables(tmp_path / "empty")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "test-00000-of-00001.parquet").write_bytes(b"PAR1 not really")
    table = find_tables(tmp_path / "bad")[0]
    assert table.split == "test"
    with pytest.raises(TableError, match="not a readable Parquet"):
        list(table.read())
    assert code_for("Japanese") == "ja" and code_for("he") == "iw" and code_for("ben") == "bn"
    assert code_for("Chinese (Traditional)") == "zh" and code_for("Klingon") == "klingon"
    assert english_name("iw") == "Hebrew" and english_name("zh") == "Chinese"


def test_select_benchmarks():
    assert select("all") == list(ADAPTERS)
    assert select("cvqa, maxm") == ["cvqa", "maxm"] and select(["xm100"]) == ["xm100"]
    with pytest.raises(ValueError, match="unknown benchmark"):
        select("cvqa,nope")


def test_general_benchmarks_in_their_published_layouts(folders):
    """Issue 16: the no-degradation claim needs general benchmarks: xGQA and xMMMU as PangeaBench copies
    them, MMMU validation as the Hub stores it (a folder per subject; its dev split is not evaluated)."""
    from culturalpangea.eval.adapters import GENERAL
    from culturalpangea.eval.scoring import aggregate

    assert GENERAL == ("xgqa", "mmmu", "xmmmu")
    xgqa, errors = _read("xgqa", folders["xgqa"])
    assert errors == {"de:debad": "missing field 'answer'"} and {i.language for i in xgqa.values()} == {"de", "zh"}
    assert xgqa["de:de00000"].prompt == ("<image>\nWelche Farbe hat das Auto? Answer the question using a single "
                                         "word or phrase in English.")  # xgqa_doc_to_text
    mmmu, errors = _read("mmmu", folders["mmmu"])
    assert sorted(mmmu) == ["validation_Art_Theory_1", "validation_Geography_3", "validation_Math_2"]
    assert "outside the 3 choices" in errors["validation_Art_Theory_10"]
    geography = mmmu["validation_Geography_3"]  # an image in an option: its placeholder where it is written
    assert geography.prompt.count("<image>") == 2 == len(geography.images) and "B. <image>\n" in geography.prompt
    assert geography.prompt.endswith("Answer with the option letter from the given choices directly.")
    math = mmmu["validation_Math_2"]
    assert math.task == "vqa" and math.target == {"answers": ["12"]} and math.subset == "Math"
    assert math.prompt.endswith("\nAnswer the question using a single word or phrase.")
    xmmmu, errors = _read("xmmmu", folders["xmmmu"])
    assert {i.language for i in xmmmu.values()} == {"fr", "ja"} and len(xmmmu) == 6
    assert "names <image 1> but image_1 is empty" in errors["fr:validation_Art_Theory_99"]
    records = [{"id": i.item_id, "benchmark": "mmmu", "task": i.task, "target": i.target, "error": None,
                "prediction": answer} for i, answer in ((mmmu["validation_Art_Theory_1"], "(B)"),
                                                        (math, "The area is 12"))]
    result = aggregate(records, "score")
    assert result["pangeabench"] == 100.0  # MMMU's rules: "(B)" and the number 12
    assert result["accuracy"] == 100.0 and result["exact_match"] == 0.0  # the project's: "(B)" parses, no EM


def test_every_adapter_has_a_fixture_and_a_documented_format(folders):
    assert set(folders) == set(ADAPTERS)
    for adapter in ADAPTERS.values():
        module = __import__(type(adapter).__module__, fromlist=["x"])
        assert module.__doc__ and len(module.__doc__) > 200, adapter.name
        assert Path(folders[adapter.name]).is_dir()
