"""CVQA (afaji/cvqa): culturally diverse multiple-choice VQA, 30+ country–language pairs.

Published as a Hugging Face dataset (Parquet on the Hub; `save_to_disk` copies work too) with
columns `image`, `ID`, `Subset` (the string "('Japanese', 'Japan')": language and country),
`Question` / `Translated Question` (native / English), `Options` / `Translated Options` (four
strings), `Label` (0-based index of the correct option), `Category`, `Image Type`, `Image Source`,
`License`. The prompt uses the native question and options (PangeaBench's default;
`translated: true` switches to the English ones).

The published test split withholds its labels (`Label` is -1 in every row; scores come from the
CVQA leaderboard): such rows are still items — generated like any other — with no answer key
(`target.answer` null). They are not scored; evaluate.py writes their answers to
`<out_dir>/submissions/cvqa.csv` for the leaderboard, and the report says how many there were. A
copy with labels (e.g. a labelled validation copy) is scored as usual. Any other `Label` outside
the options is an item error, never scored.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from culturalpangea.eval.adapters.base import ItemOrError, Row, RowContext, field, iterate_rows, text_field
from culturalpangea.eval.adapters.common import answer_index, string_list
from culturalpangea.eval.images import image_source
from culturalpangea.eval.items import EvalItem, ItemProblem
from culturalpangea.eval.languages import code_for
from culturalpangea.eval.prompts import cvqa_prompt

WITHHELD_LABEL = -1  # the published test split: labels kept for the leaderboard


def parse_subset(value: Any) -> tuple[str, str | None]:
    """("ja", "Japan") from "('Japanese', 'Japan')" (or "Japanese-Japan" / "Japanese_Japan")."""
    if not isinstance(value, str) or not value.strip():
        raise ItemProblem("field 'Subset' is empty")
    text = value.strip()
    if text.startswith("("):
        try:
            parsed = ast.literal_eval(text)
        except (ValueError, SyntaxError) as error:
            raise ItemProblem(f"field 'Subset' is {value!r}, not a (language, country) pair") from error
        if isinstance(parsed, tuple) and len(parsed) == 2:
            return code_for(parsed[0]), str(parsed[1])
        raise ItemProblem(f"field 'Subset' is {value!r}, not a (language, country) pair")
    for separator in ("-", "_", ","):
        if separator in text:
            language, country = text.split(separator, 1)
            return code_for(language.strip()), country.strip()
    return code_for(text), None


class CvqaAdapter:
    name = "cvqa"
    description = "CVQA multiple-choice VQA (letter accuracy, per language and country)"

    def items(self, root: Path, settings: Mapping[str, Any]) -> Iterator[ItemOrError]:
        return iterate_rows(
            self.name, root, settings,
            id_of=lambda row, table, index: text_field(row, "ID"),
            build=self._build,
            language_of=lambda row, table: parse_subset(row.get("Subset"))[0],
        )

    def _build(self, row: Row, context: RowContext) -> EvalItem:
        translated = bool(context.settings.get("translated", False))
        question = text_field(row, "Translated Question" if translated else "Question")
        options = string_list(field(row, "Translated Options" if translated else "Options"), "Options", 2)
        raw_label = field(row, "Label")
        label = None if raw_label == WITHHELD_LABEL else answer_index(raw_label, len(options), "Label")
        language, country = parse_subset(field(row, "Subset"))
        return EvalItem(
            benchmark=self.name, item_id=context.item_id, language=language, country=country,
            prompt=cvqa_prompt(question, options), images=(image_source(field(row, "image"), "image"),),
            task="mcq", target={"answer": label, "options": options},
            subset=row.get("Category"), max_new_tokens=context.settings.get("max_new_tokens"),
        )
