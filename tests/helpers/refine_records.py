"""QA records in the `qa` stage's format, written as a finished `qa/` stage, for refine/filter tests.

Hand-written questions in ten languages and seven scripts (open-ended and multiple-choice), each
with its answer and aliases, rendered into conversations by `data_gen.qa.conversation` exactly as the QA
stage does, with small generated JPEGs under `images/` (paths relative to out_dir).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from PIL import Image

from data_gen.common.parts import PartRef, write_part, write_stage_manifest
from data_gen.qa.conversation import conversations

# (language, question, answer, aliases, choices)
QUESTIONS: list[tuple[str, str, str, list[str], list[str] | None]] = [
    ("en", "In which year was the building in this image completed?", "1889", [], None),
    ("de", "In welcher Stadt befindet sich das Bauwerk auf diesem Bild?", "Köln", ["Koeln", "Cologne"], None),
    ("fr", "De quel matériau est fait le monument sur cette image ?", "fer", [], ["pierre", "bois", "fer", "verre"]),
    ("hi", "इस चित्र में दिखाई गई इमारत किस शहर में है?", "आगरा", ["Agra"], None),
    ("ja", "この画像の建物はどの都市にありますか？", "京都", ["京都市"], None),
    ("zh", "这张图片中的建筑位于哪个城市？", "北京", ["北京市"], None),
    ("ru", "Из какого материала сделан памятник на этом изображении?", "бронза", [],
     ["камень", "дерево", "бронза", "стекло"]),
    ("ar", "في أي مدينة يقع المبنى الموجود في هذه الصورة؟", "القاهرة", [], None),
    ("th", "อาคารในภาพนี้ตั้งอยู่ในเมืองใด", "กรุงเทพมหานคร", ["กรุงเทพ"], None),
    ("am", "በዚህ ምስል ውስጥ ያለው ሕንፃ በየትኛው ከተማ ይገኛል?", "አዲስ አበባ", [], None),
]  # fmt: skip


def jpeg(seed: int, size: tuple[int, int] = (64, 48)) -> bytes:
    image = Image.new("RGB", size, ((seed * 53) % 256, (seed * 29) % 256, (seed * 71) % 256))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


def make_record(index: int, country: str = "FR", image: str | None = None) -> dict[str, Any]:
    """Record number `index` (cycling through QUESTIONS; the index makes id and question unique)."""
    language, question, answer, aliases, choices = QUESTIONS[index % len(QUESTIONS)]
    suffix = f" [{index}]" if index >= len(QUESTIONS) else ""
    record: dict[str, Any] = {
        "id": f"{index:06d}_{country}_Q{1000 + index}_{language}",
        "qid": f"Q{1000 + index}",
        "country": country,
        "language": language,
        "property": "P131",
        "question_type": "mcq" if choices else "open",
        "answer": answer,
        "answer_aliases": list(aliases),
        "question": question + suffix,
        "image": image or f"images/{country}/Q{1000 + index}-0.jpg",
        "provenance": {"template": f"{language}/P131/0", "refined": False, "filter_score": None,
                       "image": {"file": f"Q{1000 + index}.jpg", "url": None, "author": "test", "license": "CC0"}},
    }  # fmt: skip
    if choices:
        record["choices"] = list(choices)
    record["conversations"] = conversations(record)
    return record


def write_qa_stage(out_dir: Path, parts: dict[str, list[int]], with_images: bool = True) -> list:
    """Write `qa/<CC>/part-NNNNN.jsonl` for `{country: [part sizes…]}` plus images and the manifest."""
    out_dir = Path(out_dir)
    stage_dir = out_dir / "qa"
    written, counter = [], 0
    for country, sizes in parts.items():
        for part_index, size in enumerate(sizes):
            records = []
            for _ in range(size):
                record = make_record(counter, country)
                counter += 1
                if with_images:
                    path = out_dir / record["image"]
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_bytes(jpeg(counter))
                records.append(record)
            ref = PartRef(country, part_index)
            write_part(stage_dir, ref, records, {"records_in": size, "records_out": size, "reasons": {}})
            written.append(ref)
    write_stage_manifest(stage_dir, "qa")
    return written


# Natural rewrites of QUESTIONS (same language, same meaning, no answer): what a good LLM returns.
REWRITES = {
    "en": "When was the construction of the building shown here finished?",
    "de": "In welcher Stadt steht das abgebildete Bauwerk?",
    "fr": "En quel matériau le monument de cette image est-il fait ?",
    "hi": "चित्र में दिखाई गई यह इमारत किस शहर में स्थित है?",
    "ja": "画像に写っている建物はどの都市にありますか？",
    "zh": "图中的这座建筑在哪个城市？",
    "ru": "Из какого материала изготовлен памятник на изображении?",
    "ar": "في أي مدينة يوجد المبنى الظاهر في الصورة؟",
    "th": "อาคารในรูปนี้อยู่ที่เมืองใด",
    "am": "በምስሉ ላይ የሚታየው ሕንፃ የሚገኘው በየትኛው ከተማ ነው?",
}


def good_rewrite(record: dict[str, Any]) -> str:
    """The rewrite of a record made by `make_record` (its index suffix kept, so it stays unique)."""
    suffix = record["question"][len(QUESTIONS_BY_LANGUAGE[record["language"]]) :]
    return REWRITES[record["language"]] + suffix


QUESTIONS_BY_LANGUAGE = {language: question for language, question, *_ in QUESTIONS}


def compose_data_gen(stage: str, overrides: list[str]) -> Any:
    """The composed configs/data_gen.yaml with `overrides`, and `stage` set (as `stage=` on the CLI)."""
    from hydra import compose, initialize_config_dir
    from omegaconf import open_dict

    from data_gen.pipeline.cli import CONFIG_DIR

    with initialize_config_dir(str(CONFIG_DIR), version_base="1.3"):
        cfg = compose("data_gen", overrides=overrides)
    with open_dict(cfg):
        cfg.stage = stage
    return cfg


def run_stage(stage: str, out_dir: Path, *overrides: str) -> int:
    """Run one data_gen stage in this process, as `python -m data_gen stage=… out_dir=…` would."""
    from data_gen.pipeline.cli import run

    return run(compose_data_gen(stage, [f"out_dir={out_dir}", "progress=false", *overrides]))


# A subprocess entry point for kill tests: `python -c DRIVER <stage> <overrides…>`.
DRIVER = (
    "import sys\n"
    "from tests.helpers.refine_records import compose_data_gen\n"
    "from data_gen.pipeline.cli import run\n"
    "sys.exit(run(compose_data_gen(sys.argv[1], sys.argv[2:])))\n"
)
