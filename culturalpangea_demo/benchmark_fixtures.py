"""Small synthetic copies of every benchmark, written in each benchmark's own published format.

Tests and the offline demo cannot download the benchmarks, so this module writes a few rows of
each, shaped exactly like the public copies the adapters read (field names, nesting, split layout,
file format): CVQA, MaXM and MERLIN as `save_to_disk` folders, MaRVL, M3Exam, XM100 and ALM-Bench as
Hub-style Parquet (`data/<split>-00000-of-00001.parquet`), and a CulturalGround held-out split as
WebDataset shards with a manifest (through data_gen's shard writer). With `bad=True` each benchmark
also gets broken rows of the kinds real copies have: an answer key outside the choices, an image
that does not decode, a missing field. Images are tiny solid-colour JPEGs, so the whole set is a few
hundred kilobytes and takes about a second to write.
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PIL import Image

from shard_contract.tokens import IMAGE_TOKEN

BROKEN_IMAGE = b"\x89PNG this is not an image"


def tiny_jpeg(seed: int, size: int = 32) -> bytes:
    """A solid-colour JPEG whose colour depends on `seed`."""
    color = ((seed * 53) % 256, (seed * 97) % 256, (seed * 29 + 80) % 256)
    buffer = io.BytesIO()
    Image.new("RGB", (size, size), color).save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


def _image(seed: int) -> dict[str, Any]:
    return {"bytes": tiny_jpeg(seed), "path": None}


def _save_to_disk(splits: dict[str, list[dict[str, Any]]], features: dict[str, Any], out: Path) -> None:
    import datasets

    datasets.disable_progress_bars()
    feature_set = datasets.Features(features)
    data = {name: datasets.Dataset.from_list(rows, features=feature_set) for name, rows in splits.items()}
    datasets.DatasetDict(data).save_to_disk(str(out))


def _write_parquet(rows: list[dict[str, Any]], path: Path, schema: Any = None) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)


def _image_struct() -> Any:
    import pyarrow as pa

    return pa.struct([("bytes", pa.binary()), ("path", pa.string())])


# --- CVQA: save_to_disk, split "test" -------------------------------------------------------
CVQA_ROWS = (
    ("Japanese", "Japan", "この祭りの名前は？", ["祇園祭", "ねぶた祭", "阿波踊り", "雪まつり"], 0),
    ("Japanese", "Japan", "この料理は何ですか？", ["寿司", "天ぷら", "ラーメン", "うどん"], 2),
    ("Swahili", "Kenya", "Hiki ni chakula gani?", ["Ugali", "Pilau", "Chapati", "Mandazi"], 0),
    ("Swahili", "Kenya", "Ngoma hii inaitwaje?", ["Chakacha", "Mdundiko", "Sindimba", "Lizombe"], 1),
    ("Spanish", "Mexico", "¿Qué fiesta es esta?", ["Día de Muertos", "Carnaval", "Posadas", "Guelaguetza"], 0),
    ("Spanish", "Spain", "¿Cómo se llama este plato?", ["Paella", "Gazpacho", "Tortilla", "Cocido"], 3),
)


def write_cvqa(out: Path, bad: bool = False) -> None:
    from datasets import Image as HFImage
    from datasets import Sequence, Value

    rows = []
    for i, (language, country, question, options, label) in enumerate(CVQA_ROWS):
        rows.append({"image": _image(i), "ID": f"cvqa_{i:03d}", "Subset": str((language, country)),
                     "Question": question, "Translated Question": f"Question {i}?", "Options": options,
                     "Translated Options": [f"option {k}" for k in range(4)], "Label": label,
                     "Category": "Food" if i % 2 else "Festivals", "Image Type": "Self", "Image Source": "",
                     "License": "CC BY-SA"})
    if bad:
        base = dict(rows[0])
        rows.append({**base, "ID": "cvqa_bad_label", "Label": 7})
        rows.append({**base, "ID": "cvqa_bad_image", "image": {"bytes": BROKEN_IMAGE, "path": None}})
        rows.append({**base, "ID": "cvqa_missing_question", "Question": None})
    features = {"image": HFImage(), "ID": Value("string"), "Subset": Value("string"), "Question": Value("string"),
                "Translated Question": Value("string"), "Options": Sequence(Value("string")),
                "Translated Options": Sequence(Value("string")), "Label": Value("int64"),
                "Category": Value("string"), "Image Type": Value("string"), "Image Source": Value("string"),
                "License": Value("string")}
    _save_to_disk({"test": rows}, features, out)


# --- MaRVL: Hub Parquet, one split per language --------------------------------------------
MARVL_ROWS = {
    "id": [("Ada dua orang di gambar kiri.", True), ("Kedua gambar menunjukkan makanan.", False),
           ("Gambar kanan berwarna merah.", True)],
    "zh": [("左图中有两个人。", False), ("两张图片都有食物。", True), ("右图是红色的。", True)],
}


def write_marvl(out: Path, bad: bool = False) -> None:
    import pyarrow as pa

    image = _image_struct()
    schema = pa.schema([("id", pa.string()), ("hypothesis", pa.string()), ("hypo_en", pa.string()),
                        ("language", pa.string()), ("label", pa.bool_()), ("chapter", pa.string()),
                        ("concept", pa.string()), ("left_img_id", pa.string()), ("right_img_id", pa.string()),
                        ("left_img", image), ("right_img", image), ("horizontally_stacked_img", image)])
    for language, items in MARVL_ROWS.items():
        rows = []
        for i, (hypothesis, label) in enumerate(items):
            rows.append({"id": f"{language}-{i}", "hypothesis": hypothesis, "hypo_en": "English hypothesis",
                         "language": language, "label": label, "chapter": "food", "concept": f"concept{i}",
                         "left_img_id": f"l{i}", "right_img_id": f"r{i}", "left_img": _image(i),
                         "right_img": _image(i + 1), "horizontally_stacked_img": _image(i + 2)})
        if bad and language == "zh":
            rows.append({**rows[0], "id": "zh-bad-image", "horizontally_stacked_img":
                         {"bytes": BROKEN_IMAGE, "path": None}})
        _write_parquet(rows, out / "data" / f"{language}-00000-of-00001.parquet", schema)
    if bad:  # a label that is not true/false needs a string column: its own split file
        row = {"id": "sw-bad-label", "hypothesis": "Kuna watu wawili.", "language": "sw", "label": "maybe",
               "horizontally_stacked_img": _image(9)}
        _write_parquet([row], out / "data" / "sw-00000-of-00001.parquet")


def write_marvl_pangeabench(out: Path) -> None:
    """PangeaBench's MaRVL copy (neulab/PangeaBench-marvl): Parquet per language with `id`, `image` and
    LLaVA-style `conversations` (human: "<image>\n" + statement and options; gpt: the answer)."""
    import pyarrow as pa

    turn = pa.struct([("from", pa.string()), ("value", pa.string())])
    schema = pa.schema([("id", pa.string()), ("image", _image_struct()), ("conversations", pa.list_(turn))])
    for language, items in MARVL_ROWS.items():
        rows = [{"id": f"{language}-{i}", "image": _image(70 + i), "conversations": [
                    {"from": "human", "value": f"<image>\nStatement: {text} Options: (a) false (b) true"},
                    {"from": "gpt", "value": "true" if label else "false"}]}
                for i, (text, label) in enumerate(items)]
        _write_parquet(rows, out / "data" / f"{language}-00000-of-00001.parquet", schema)


def write_marvl_release(out: Path, layout: str = "marvl-data") -> None:
    """MaRVL's original release: `marvl-<lang>.jsonl` rows (`id`, `language`, `concept`, `chapter`,
    `caption`, `left_img`, `right_img`, `annotator_info`, `label`) and `<lang>/images/<concept>/<file>`.

    `layout="marvl-data"`: `<lang>/annotations/marvl-<lang>.jsonl` beside `<lang>/images/`;
    `layout="iglue"`: `zero_shot/annotations/marvl-<lang>.jsonl` and `images/<lang>/images/…`.
    One Indonesian concept name carries an accent and is stored decomposed (NFKD) on disk while the
    annotation spells it composed (NFC), as happens with the release's Unicode names."""
    import unicodedata

    for language, items in MARVL_ROWS.items():
        rows = []
        for i, (caption, label) in enumerate(items):
            concept = f"{10 + i}-Kafé" if language == "id" and i == 0 else f"{10 + i}-concept"
            left, right = f"{10 + i}-1.jpg", f"{10 + i}-2.jpg"
            rows.append({"concept": concept, "language": language, "caption": caption, "left_img": left,
                         "right_img": right, "annotator_info": {"annotator_id": f"{language}_01", "age": 30},
                         "chapter": "Food and beverages", "id": f"{language}-{i}", "label": label})
            image_root = out / (language if layout == "marvl-data" else f"images/{language}") / "images"
            folder = image_root / unicodedata.normalize("NFKD", concept)
            folder.mkdir(parents=True, exist_ok=True)
            (folder / left).write_bytes(tiny_jpeg(40 + i))
            (folder / right).write_bytes(tiny_jpeg(50 + i))
        annotations = out / (f"{language}/annotations" if layout == "marvl-data" else "zero_shot/annotations")
        annotations.mkdir(parents=True, exist_ok=True)
        (annotations / f"marvl-{language}.jsonl").write_text(
            "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")


# --- MaXM: save_to_disk, one split per language ----------------------------------------------
MAXM_ROWS = {
    "fr": [("De quelle couleur est la voiture ?", ["rouge"]), ("Combien de personnes ?", ["deux", "2"]),
           ("Quel animal est-ce ?", ["chat"])],
    "zh": [("汽车是什么颜色的？", ["红色"]), ("有几个人？", ["两个", "2"]), ("这是什么动物？", ["猫"])],
    "iw": [("באיזה צבע המכונית?", ["אדום"]), ("כמה אנשים יש?", ["2"])],
}


def write_maxm(out: Path, bad: bool = False, yesno: bool = False) -> None:
    from datasets import Image as HFImage
    from datasets import Sequence, Value

    splits: dict[str, list[dict[str, Any]]] = {}
    for language, items in MAXM_ROWS.items():
        splits[language] = [{"image_id": f"{language}img{i}", "question": question, "answers": answers,
                             "processed_answers": answers, "language": language, "image": _image(20 + i)}
                            for i, (question, answers) in enumerate(items)]
    if bad:
        splits["fr"].append({**splits["fr"][0], "image_id": "frbad", "answers": None})
    if yesno:  # floschne/maxm splits the yes/no questions of a language off as `<lang>_yesno`
        splits["fr_yesno"] = [{"image_id": "frimg0", "question": "Est-ce une voiture ?", "answers": ["oui"],
                               "processed_answers": ["oui"], "language": "fr", "image": _image(20)}]
    features = {"image_id": Value("string"), "question": Value("string"), "answers": Sequence(Value("string")),
                "processed_answers": Sequence(Value("string")), "language": Value("string"), "image": HFImage()}
    _save_to_disk(splits, features, out)


def write_maxm_release(out: Path) -> None:
    """MaXM v1 as google-research-datasets/maxm releases it: per language one JSON document
    (`dataset`, `version`, `split`, `annotations` → `image_id`, `image_url`, `qa_pairs` → `question_id`,
    `question`, `answers`, `processed_answers`, `is_collection`), and Crossmodal-3600's images as
    `images/<image_id>.jpg` beside them."""
    (out / "images").mkdir(parents=True, exist_ok=True)
    for language, items in MAXM_ROWS.items():
        annotations = []
        for i in range(0, len(items), 2):  # two questions per image where there are two
            image_id = f"{language}{i:012x}"
            (out / "images" / f"{image_id}.jpg").write_bytes(tiny_jpeg(60 + i))
            pairs = [{"question_id": f"{language}-{i + k}", "question": question, "answers": answers,
                      "processed_answers": [a.lower() for a in answers], "is_collection": False}
                     for k, (question, answers) in enumerate(items[i:i + 2])]
            annotations.append({"image_id": image_id, "image_url": f"https://example.org/{image_id}.jpg",
                                "qa_pairs": pairs})
        document = {"dataset": "maxm", "version": "v1", "split": language, "annotations": annotations}
        (out / f"maxm_v1_{language}.json").write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")


# --- M3Exam: PangeaBench Parquet, base64 images ------------------------------------------------
M3EXAM_ROWS = {
    "chinese": [("(image)[image-1.png] 图中的建筑位于哪个城市？",
                 ["(1) 北京", "(2) 上海", "(3) 西安", "(4) 南京"], "1"),
                ("(image)[image-2.png] 这幅画的作者是谁？",
                 ["A. 齐白石", "B. 徐悲鸿", "C. 张大千", "D. 吴道子"], "B")],
    "thai": [("(image)[image-1.png] ภาพนี้คือจังหวัดใด", ["(1) เชียงใหม่", "(2) ภูเก็ต", "(3) ขอนแก่น",
                                                      "(4) ระยอง"], "3"),
             ("ข้อใดถูกต้องตามภาพ (image)[image-2.png]", ["(1) ก", "(2) ข", "(3) ค", "(4) ง"], "(4)")],
}


def write_m3exam(out: Path, bad: bool = False) -> None:
    for language, items in M3EXAM_ROWS.items():
        rows = []
        for i, (question, options, answer) in enumerate(items):
            row = {"question_text": question, "background_description": ["背景"] if i == 0 else [],
                   "answer_text": answer, "options": options, "language": language, "level": "high",
                   "subject": "history", "subject_category": "social-science", "year": "2020"}
            row.update({f"image_{k}": "None" for k in range(5)})
            row["image_0"] = base64.b64encode(tiny_jpeg(40 + i)).decode("ascii")
            rows.append(row)
        if bad and language == "chinese":
            rows.append({**rows[0], "answer_text": "5"})  # answer key outside the four choices
            rows.append({**rows[0], "image_0": "!!! not base64 !!!"})
        _write_parquet(rows, out / "data" / f"{language}-00000-of-00001.parquet")


# --- XM100: Hub Parquet, one split per language ---------------------------------------------------
XM_ROWS = {
    "ja": [["赤い家の前に車が止まっている。", "赤い家と車。"], ["公園で遊ぶ子供たち。"], ["テーブルの上のりんご。"]],
    "sw": [["Nyumba nyekundu na gari mbele yake."], ["Watoto wanacheza bustanini.", "Watoto bustanini."],
           ["Tufaha juu ya meza."]],
    "en": [["A red house with a car in front.", "A car parked by a red house."], ["Children playing in a park."],
           ["An apple on a table."]],
}


def write_xm100(out: Path, bad: bool = False) -> None:
    import pyarrow as pa

    schema = pa.schema([("image_id", pa.string()), ("image_locale", pa.string()), ("captions", pa.list_(pa.string())),
                        ("captions_tokenized", pa.list_(pa.string())), ("image", _image_struct())])
    for language, items in XM_ROWS.items():
        rows = [{"image_id": f"img{i:04x}", "image_locale": language, "captions": captions,
                 "captions_tokenized": captions, "image": _image(60 + i)} for i, captions in enumerate(items)]
        if bad and language == "sw":
            rows.append({**rows[0], "image_id": "broken", "image": {"bytes": BROKEN_IMAGE, "path": None}})
        _write_parquet(rows, out / "data" / f"{language}-00000-of-00001.parquet", schema)


def write_xm3600_release(out: Path) -> None:
    """Crossmodal-3600 as Google releases it: `captions.jsonl` (per line `image/key` and, per language,
    `caption`, `caption/tokenized`, `caption/tokenized/lowercase`) beside `images/<key>.jpg`."""
    captions = {"en": ["A red house by a lake.", "A house."], "quz": ["Puka wasi."], "ja": ["湖のそばの赤い家。"]}
    (out / "images").mkdir(parents=True, exist_ok=True)
    lines = []
    for n in range(2):
        key = f"{n:016x}"
        (out / "images" / f"{key}.jpg").write_bytes(tiny_jpeg(110 + n))
        line: dict[str, Any] = {"image/key": key}
        for code, texts in captions.items():
            line[code] = {"caption": texts, "caption/tokenized": [t.lower() for t in texts],
                          "caption/tokenized/lowercase": [t.lower() for t in texts]}
        lines.append(json.dumps(line, ensure_ascii=False))
    (out / "captions.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")


# --- ALM-Bench: Hub Parquet, split "test" ------------------------------------------------------------
ALM_ROWS = (
    ("Japanese", "Multiple Choice Questions", "この服の名前は？", "着物 (着物, サリー, 韓服, ディアンドル)"),
    ("Japanese", "True False Question", "これは寺ですか？", "はい"),
    ("Japanese", "Short Question", "この食べ物は何ですか？", "寿司"),
    ("Urdu", "Multiple Choice Questions", "یہ کون سا لباس ہے؟", "A. شلوار قمیض (A. شلوار قمیض, B. ساڑھی, C. کیمونو)"),
    ("Urdu", "True False Question", "کیا یہ مسجد ہے؟", "نہیں"),
    ("Urdu", "Long Question", "اس تہوار کی تفصیل بیان کریں۔", "یہ عید کا تہوار ہے جس میں لوگ نماز پڑھتے ہیں۔"),
    ("English", "Multiple Choice Questions", "Which dish is this?", "Haggis (Haggis, Pizza, Sushi, Tacos)"),
    ("English", "Long Question", "Describe this festival.", "A lantern festival where people release lanterns."),
)


def write_almbench(out: Path, bad: bool = False) -> None:
    rows = []
    for i, (language, kind, question, answer) in enumerate(ALM_ROWS):
        rows.append({"file_name": _image(80 + i), "ID": f"{i:03d}_1_01_001", "Language": language,
                     "Category": "Food", "Question_Type": kind, "English_Question": question,
                     "English_Answer": answer, "Translated_Question": question, "Translated_Answer": answer,
                     "Image_Url": "https://example.org/image.jpg"})
    if bad:
        rows.append({**rows[0], "ID": "bad_mcq", "Translated_Answer": "Sari (Kimono, Hanbok, Dirndl)"})
        rows.append({**rows[1], "ID": "bad_tf", "Translated_Answer": "perhaps", "English_Answer": "perhaps"})
    _write_parquet(rows, out / "data" / "test-00000-of-00001.parquet")


# --- MERLIN: save_to_disk per language config, split "train" ----------------------------------------
MERLIN_ROWS = {
    "hi": [("दिल्ली में प्रधानमंत्री ने रैली की", "प्रधानमंत्री", "Q1058", "Narendra Modi"),
           ("मुंबई में बारिश", "मुंबई", "Q1156", "Mumbai")],
    "ja": [("東京で大雪", "東京", "Q1490", "Tokyo"), ("富士山の噴火警戒", "富士山", "Q39231", "Mount Fuji"),
           ("首相が会見", "首相", "Q132345", "Prime Minister of Japan")],
}


def write_merlin(out: Path, bad: bool = False) -> None:
    from datasets import Image as HFImage
    from datasets import Value

    features = {"Article Title": Value("string"), "Entity Name": Value("string"), "Wikidata ID": Value("string"),
                "English Wikipedia Title": Value("string"), "Image Name": HFImage()}
    for language, items in MERLIN_ROWS.items():
        rows = [{"Article Title": title, "Entity Name": mention, "Wikidata ID": qid, "English Wikipedia Title": en,
                 "Image Name": _image(100 + i)} for i, (title, mention, qid, en) in enumerate(items)]
        if bad and language == "hi":
            rows.append({**rows[0], "Wikidata ID": "Q999", "English Wikipedia Title": None})
        _save_to_disk({"train": rows}, features, out / language)


# --- CulturalGround held-out: our own shards --------------------------------------------------------
HELDOUT = (
    ("ja", "Japan", "mcq", "この建物はいつ建てられましたか？", ["1603", "1868", "1945", "2001"], "1603"),
    ("ja", "Japan", "open", "この寺の名前は何ですか？", None, "金閣寺"),
    ("hi", "India", "mcq", "यह स्मारक किस शहर में है?", ["आगरा", "दिल्ली", "जयपुर", "मुंबई"], "आगरा"),
    ("hi", "India", "open", "यह किस नदी के किनारे है?", None, "यमुना"),
    ("en", "United Kingdom", "open", "Which city is this bridge in?", None, "London"),
    ("en", "United Kingdom", "mcq", "What is this building?", ["Big Ben", "Eiffel Tower", "Colosseum"], "Big Ben"),
    ("sw", "Kenya", "open", "Mlima huu unaitwaje?", None, "Kilimanjaro"),
)


def _heldout_samples(bad: bool) -> list[Any]:
    from data_gen.shards.writer import ShardSample

    samples = []
    for i, (language, country, kind, question, choices, answer) in enumerate(HELDOUT):
        key = f"HO-{i:04d}-{language}-{kind}"
        human = f"{IMAGE_TOKEN}\n{question}"
        gpt = answer
        if kind == "mcq":
            human += "\n" + "\n".join(f"{'ABCD'[k]}. {c}" for k, c in enumerate(choices))
            human += "\nAnswer with the option's letter from the given choices directly."
            gpt = "ABCD"[choices.index(answer)]
        sample = {"id": key, "qid": f"Q{100 + i}", "country": country, "language": language, "property": "P571",
                  "question_type": kind, "answer": answer,
                  "conversations": [{"from": "human", "value": human}, {"from": "gpt", "value": gpt}],
                  "provenance": {"template": None, "refined": False, "filter_score": None, "image": None}}
        if choices:
            sample["choices"] = list(choices)
        samples.append(ShardSample(key, sample, tiny_jpeg(120 + i)))
    if bad:
        broken = samples[0]
        samples.append(ShardSample("HO-9999-ja-broken-image", {**broken.sample, "id": "HO-9999-ja-broken-image"},
                                   BROKEN_IMAGE))
    return samples


def write_culturalground(out: Path, bad: bool = False) -> None:
    from data_gen.shards.writer import ShardSpec, write_shards

    write_shards(_heldout_samples(bad), out, ShardSpec(max_samples=4, prefix="heldout"))


# --- General benchmarks: xGQA (PangeaBench Parquet), MMMU (Hub, by subject), xMMMU (PangeaBench) -----
XGQA_ROWS = {
    "de": [("Welche Farbe hat das Auto?", "red"), ("Ist der Himmel bewölkt?", "no")],
    "zh": [("桌子上有什么？", "cup")],
}


def write_xgqa(out: Path, bad: bool = False) -> None:
    """neulab/PangeaBench-xgqa: a split per language; question in the language, English answer, image."""
    for language, items in XGQA_ROWS.items():
        rows = [{"question_id": f"{language}{i:05d}", "question": question, "answer": answer, "image": _image(80 + i)}
                for i, (question, answer) in enumerate(items)]
        if bad and language == "de":
            rows.append({"question_id": "debad", "question": "Was ist das?", "answer": None, "image": _image(1)})
        _write_parquet(rows, out / "data" / f"{language}-00000-of-00001.parquet")


MMMU_ROWS = (  # (subject, question, options or None for open, answer)
    ("Art_Theory", "<image 1> Which movement does this painting belong to?", ["Cubism", "Baroque", "Fauvism"], "B"),
    ("Math", "What is the area of the triangle in <image 1>? Compare with <image 2>.", None, "12"),
    ("Geography", "Which river is marked? <image 1>", ["Nile", "<image 2>", "Danube", "Mekong"], "A"),
)


def _mmmu_row(index: int, subject: str, question: str, options: list[str] | None, answer: str,
              split: str = "validation", options_as_text: bool = True) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": f"{split}_{subject}_{index + 1}", "question": question,
        "options": (str(options) if options_as_text else options) if options is not None else "[]",
        "explanation": "", "answer": answer, "topic_difficulty": "Medium", "subfield": subject.replace("_", " "),
        "question_type": "multiple-choice" if options is not None else "open", "img_type": "['Photographs']",
    }
    for k in range(1, 8):
        row[f"image_{k}"] = _image(90 + index * 7 + k) if f"<image {k}>" in question + str(options) else None
    return row


def _mmmu_schema() -> Any:
    import pyarrow as pa

    fields = [(name, pa.string()) for name in ("id", "question", "options", "explanation")]
    fields += [(f"image_{k}", _image_struct()) for k in range(1, 8)]
    fields += [(name, pa.string()) for name in ("img_type", "answer", "topic_difficulty", "question_type",
                                                "subfield")]
    return pa.schema(fields)


def write_mmmu(out: Path, bad: bool = False) -> None:
    """MMMU/MMMU as the Hub stores it: `<Subject>/<split>-00000-of-00001.parquet`, options as the
    string form of a list; a `dev` split beside `validation` (only validation is evaluated)."""
    for index, (subject, question, options, answer) in enumerate(MMMU_ROWS):
        rows = [_mmmu_row(index, subject, question, options, answer)]
        if bad and subject == "Art_Theory":
            rows.append(_mmmu_row(9, subject, question, options, "F"))  # an answer outside the options
        _write_parquet(rows, out / subject / "validation-00000-of-00001.parquet", _mmmu_schema())
        dev = _mmmu_row(index, subject, question, options, answer, split="dev")
        _write_parquet([dev], out / subject / "dev-00000-of-00001.parquet", _mmmu_schema())


def write_xmmmu(out: Path, bad: bool = False) -> None:
    """neulab/PangeaBench-xmmmu: MMMU validation rows translated, a split per language."""
    import pyarrow as pa

    schema = pa.schema([field if field.name != "options" else pa.field("options", pa.list_(pa.string()))
                        for field in _mmmu_schema()])
    for language in ("fr", "ja"):
        rows = [_mmmu_row(i, subject, f"[{language}] {question}", options or [], answer, options_as_text=False)
                for i, (subject, question, options, answer) in enumerate(MMMU_ROWS)]
        for row, (_, _, options, _) in zip(rows, MMMU_ROWS, strict=True):
            if options is None:
                row["question_type"] = "open"
        if bad and language == "fr":
            broken = dict(rows[0], id="validation_Art_Theory_99")
            broken["image_1"] = None  # the question names <image 1>
            rows.append(broken)
        _write_parquet(rows, out / "data" / f"{language}-00000-of-00001.parquet", schema)


WRITERS: dict[str, Callable[[Path, bool], None]] = {
    "cvqa": write_cvqa, "marvl": write_marvl, "maxm": write_maxm, "m3exam": write_m3exam, "xm100": write_xm100,
    "almbench": write_almbench, "merlin": write_merlin, "culturalground": write_culturalground,
    "xgqa": write_xgqa, "mmmu": write_mmmu, "xmmmu": write_xmmmu,
}
FOLDERS = {"culturalground": "culturalground_heldout"}


def write_fixtures(root: Path, benchmarks: list[str] | None = None, bad: bool = False) -> dict[str, Path]:
    """Write the chosen (default: all) benchmark fixtures under `root`; return each benchmark's folder."""
    root = Path(root)
    written = {}
    for name in benchmarks or list(WRITERS):
        folder = root / FOLDERS.get(name, name)
        WRITERS[name](folder, bad)
        written[name] = folder
    return written
