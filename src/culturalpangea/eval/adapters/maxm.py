"""MaXM (floschne/maxm): open-ended VQA in 7 languages, exact match and relaxed accuracy.

Published as a Hugging Face dataset with one split per language (`en`, `fr`, `hi`, `iw`, `ro`, `th`,
`zh`) and columns `image_id`, `question`, `answers` (list), `processed_answers`, `language` and
`image` (`{"bytes", "path"}`). The prompt is PangeaBench's ("… provide a concise answer. {q}\\nAnswer
the question using a single word or phrase in {Language}."). Items are keyed by split, image ID and
a hash of the question (an image can carry several questions).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from culturalpangea.eval.adapters.base import ItemOrError, Row, RowContext, field, iterate_rows, text_field
from culturalpangea.eval.adapters.common import short_hash, string_list
from culturalpangea.eval.images import image_source
from culturalpangea.eval.items import EvalItem, ItemProblem
from culturalpangea.eval.languages import code_for, english_name
from culturalpangea.eval.prompts import maxm_prompt
from culturalpangea.eval.tables import Table

YESNO_SUFFIX = "_yesno"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


def _id(row: Row, split: str) -> str:
    if row.get("question_id") is not None:
        return f"{split}:{row['question_id']}"
    return f"{split}:{text_field(row, 'image_id')}:{short_hash(text_field(row, 'question'))}"


def _language(row: Row, split: str) -> str:
    return code_for(row.get("language") or split.removesuffix(YESNO_SUFFIX))


def release_rows(record: Row) -> list[Row]:
    """The v1 release's nested document → one row per question (other forms pass through)."""
    annotations = record.get("annotations")
    if not isinstance(annotations, list):
        return [record]
    rows: list[Row] = []
    for annotation in annotations:
        if not isinstance(annotation, dict):
            rows.append({"__invalid__": annotation})
            continue
        for pair in annotation.get("qa_pairs") or []:
            rows.append({**pair, "image_id": annotation.get("image_id"), "image_url": annotation.get("image_url"),
                         "language": record.get("split") or record.get("language")} if isinstance(pair, dict)
                        else {"__invalid__": pair})  # fmt: skip
    return rows


def _local_image(image_id: str, root: Path | None) -> Path:
    """Crossmodal-3600's image file of `image_id` under the benchmark folder."""
    for folder in ((root / "images", root) if root else ()):
        for suffix in IMAGE_SUFFIXES:
            if (folder / f"{image_id}{suffix}").is_file():
                return folder / f"{image_id}{suffix}"
    raise ItemProblem(f"image {image_id}.jpg not found under {root}/images (the Crossmodal-3600 images the "
                      "MaXM release refers to)")


class MaxmAdapter:
    name = "maxm"
    description = "MaXM open VQA (exact match and relaxed accuracy, per language)"

    def items(self, root: Path, settings: Mapping[str, Any]) -> Iterator[ItemOrError]:
        return iterate_rows(
            self.name, root, settings,
            id_of=lambda row, table, index: _id(row, table.split),
            build=self._build,
            language_of=lambda row, table: _language(row, table.split),
            expand=release_rows,
            keep_table=lambda table: self._keep(table, settings),
        )

    @staticmethod
    def _keep(table: Table, settings: Mapping[str, Any]) -> bool:
        return not table.split.endswith(YESNO_SUFFIX) or bool(settings.get("include_yesno", False))

    def _build(self, row: Row, context: RowContext) -> EvalItem:
        language = _language(row, context.table.split)
        answers = string_list(field(row, "answers"), "answers", 1)
        if row.get("image") is not None:
            image = image_source(row["image"], "image")
        else:
            image = _local_image(text_field(row, "image_id"), context.root)
        return EvalItem(
            benchmark=self.name, item_id=context.item_id, language=language,
            prompt=maxm_prompt(text_field(row, "question"), english_name(language)),
            images=(image,), task="vqa", target={"answers": answers},
            subset="yesno" if context.table.split.endswith(YESNO_SUFFIX) else None,
            max_new_tokens=context.settings.get("max_new_tokens"),
        )
