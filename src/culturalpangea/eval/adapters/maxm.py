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
from culturalpangea.eval.items import EvalItem
from culturalpangea.eval.languages import code_for, english_name
from culturalpangea.eval.prompts import maxm_prompt


def _id(row: Row, split: str) -> str:
    if row.get("question_id") is not None:
        return f"{split}:{row['question_id']}"
    return f"{split}:{text_field(row, 'image_id')}:{short_hash(text_field(row, 'question'))}"


class MaxmAdapter:
    name = "maxm"
    description = "MaXM open VQA (exact match and relaxed accuracy, per language)"

    def items(self, root: Path, settings: Mapping[str, Any]) -> Iterator[ItemOrError]:
        return iterate_rows(
            self.name, root, settings,
            id_of=lambda row, table, index: _id(row, table.split),
            build=self._build,
            language_of=lambda row, table: code_for(row.get("language") or table.split),
        )

    def _build(self, row: Row, context: RowContext) -> EvalItem:
        language = code_for(row.get("language") or context.table.split)
        answers = string_list(field(row, "answers"), "answers", 1)
        return EvalItem(
            benchmark=self.name, item_id=context.item_id, language=language,
            prompt=maxm_prompt(text_field(row, "question"), english_name(language)),
            images=(image_source(field(row, "image"), "image"),), task="vqa",
            target={"answers": answers}, max_new_tokens=context.settings.get("max_new_tokens"),
        )
