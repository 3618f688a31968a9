"""xGQA (PangeaBench's copy, neulab/PangeaBench-xgqa): GQA's balanced test-dev questions in 8 languages.

A general (not culture-specific) benchmark, for the paper's claim that cultural training costs
nothing on mainstream tasks. One split per language (`bn`, `de`, `en`, `id`, `ko`, `pt`, `ru`,
`zh`) with columns `question` (in the language), `answer` (English: GQA's answers are not
translated) and `image`; a question ID column (`question_id` or `id`) is used when present, else the
row index. The prompt is PangeaBench's (`xgqa_doc_to_text`): the question, a space, then "Answer the
question using a single word or phrase in English."; 16 new tokens. Scored as short answers (exact
match, relaxed) and by PangeaBench's rule (`xgqa_process_result`: the lower-cased reference is a
substring of the lower-cased answer).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from culturalpangea.eval.adapters.base import ItemOrError, Row, RowContext, field, iterate_rows, text_field
from culturalpangea.eval.images import image_source
from culturalpangea.eval.items import EvalItem
from culturalpangea.eval.languages import code_for
from culturalpangea.eval.prompts import with_images

XGQA_INSTRUCTION = "Answer the question using a single word or phrase in English."


def xgqa_prompt(question: str) -> str:
    return with_images(f"{question.strip()} {XGQA_INSTRUCTION}")


def _id(row: Row, split: str, index: int) -> str:
    for key in ("question_id", "id", "questionId"):
        if row.get(key) not in (None, ""):
            return f"{split}:{row[key]}"
    return f"{split}#{index}"


class XgqaAdapter:
    name = "xgqa"
    description = "xGQA general VQA in 8 languages (exact match; PangeaBench's substring rule)"

    def items(self, root: Path, settings: Mapping[str, Any]) -> Iterator[ItemOrError]:
        return iterate_rows(
            self.name, root, settings,
            id_of=lambda row, table, index: _id(row, table.split, index),
            build=self._build,
            language_of=lambda row, table: code_for(row.get("language") or table.split),
        )

    def _build(self, row: Row, context: RowContext) -> EvalItem:
        return EvalItem(
            benchmark=self.name, item_id=context.item_id,
            language=code_for(row.get("language") or context.table.split),
            prompt=xgqa_prompt(text_field(row, "question")),
            images=(image_source(field(row, "image"), "image"),), task="vqa",
            target={"answers": [text_field(row, "answer")]}, max_new_tokens=context.settings.get("max_new_tokens"),
        )
