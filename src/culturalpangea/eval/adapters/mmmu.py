"""MMMU (validation) and xMMMU: college-level multimodal questions, the paper's general benchmarks.

General (not culture-specific) benchmarks, for the paper's claim that cultural training costs
nothing on mainstream tasks. Both keep MMMU's row schema: `id` ("validation_Art_Theory_12"),
`question` with image markers `<image 1>` … `<image 7>`, `options` (a list, or its string form as
MMMU's Parquet stores it), `answer` (a letter for multiple choice, the reference text for open
questions), `question_type` ("multiple-choice" or "open"), `image_1` … `image_7` and `subfield`.

- **MMMU** (MMMU/MMMU on the Hub): one config folder per subject, `<Subject>/<split>-0000k-of-…
  .parquet`, splits `dev`, `validation`, `test` (test answers withheld); only `splits:
  [validation]` is read by default. English.
- **xMMMU** (PangeaBench's copy, neulab/PangeaBench-xmmmu): MMMU validation questions translated,
  one split per language (`ar`, `en`, `fr`, `hi`, `id`, `ja`, `pt`).

The prompt is lmms-eval's / PangeaBench's (`construct_prompt`, `mmmu_doc_to_text`): the question,
then for multiple choice the options "A. …" one per line and "Answer with the option letter from
the given choices directly.", for open questions "Answer the question using a single word or
phrase."; every `<image k>` marker becomes `<image>` and brings image k, in the order written (a
marker written twice brings its image twice, as PangeaBench's `mmmu_doc_to_visual` does). Scored by
the project's rules and by MMMU's official ones (metrics/mmmu.py), the latter being the number
comparable with published scores. A multiple-choice row whose answer lists several letters is an
item error here (MMMU's rule accepts any of them).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from culturalpangea.eval.adapters.base import ItemOrError, Row, RowContext, field, iterate_rows, text_field
from culturalpangea.eval.adapters.common import string_list
from culturalpangea.eval.images import image_source
from culturalpangea.eval.items import EvalItem, ItemProblem
from culturalpangea.eval.languages import code_for
from culturalpangea.eval.tables import Table
from shard_contract.tokens import IMAGE_TOKEN

MULTIPLE_CHOICE_INSTRUCTION = "Answer with the option letter from the given choices directly."
OPEN_INSTRUCTION = "Answer the question using a single word or phrase."
IMAGE_MARKER = re.compile(r"<image (\d+)>")
SUBJECT = re.compile(r"^[^_]+_(.+?)_\d+$")


def mmmu_prompt(question: str, options: list[str] | None) -> str:
    """lmms-eval's MMMU prompt, markers still in place (they become `<image>` when the images are taken)."""
    if options is None:
        return f"{question}\n{OPEN_INSTRUCTION}"
    lettered = "\n".join(f"{chr(ord('A') + i)}. {option}" for i, option in enumerate(options))
    return f"{question}\n{lettered}\n{MULTIPLE_CHOICE_INSTRUCTION}"


def _options(row: Row) -> list[str]:
    value = field(row, "options")
    return string_list(value.replace("\n", " ") if isinstance(value, str) else value, "options", 2)


def _answer_index(answer: Any, n_options: int) -> int:
    text = str(answer).strip()
    if len(text) != 1 or not "A" <= text.upper() <= "Z":
        raise ItemProblem(f"answer {answer!r} is not one option letter")
    index = ord(text.upper()) - ord("A")
    if index >= n_options:
        raise ItemProblem(f"answer key answer={answer!r} is outside the {n_options} choices")
    return index


def _images(prompt: str, row: Row) -> tuple[str, tuple[Any, ...]]:
    """The prompt with `<image>` for every marker, and the images in the order the markers appear."""
    images = []
    for number in IMAGE_MARKER.findall(prompt):
        value = row.get(f"image_{number}")
        if value is None:
            raise ItemProblem(f"the question names <image {number}> but image_{number} is empty")
        images.append(image_source(value, f"image_{number}"))
    return IMAGE_MARKER.sub(IMAGE_TOKEN, prompt), tuple(images)


class MmmuAdapter:
    """MMMU (one English copy by subject) or xMMMU (one split per language): see the module docstring."""

    def __init__(self, name: str, per_language: bool, default_splits: tuple[str, ...] | None) -> None:
        self.name = name
        self.per_language = per_language
        self.default_splits = default_splits
        self.description = (f"{'xMMMU' if per_language else 'MMMU validation'} multimodal questions "
                            "(MMMU's official rules and the project's)")

    def items(self, root: Path, settings: Mapping[str, Any]) -> Iterator[ItemOrError]:
        wanted = settings.get("splits") or self.default_splits
        return iterate_rows(
            self.name, root, settings,
            id_of=lambda row, table, index: f"{table.split}:{text_field(row, 'id')}" if self.per_language
            else text_field(row, "id"),
            build=self._build,
            language_of=self._language,
            keep_table=lambda table: wanted is None or table.split in wanted,
        )

    def _language(self, row: Row, table: Table) -> str:
        return code_for(row.get("language") or table.split) if self.per_language else "en"

    def _build(self, row: Row, context: RowContext) -> EvalItem:
        question = text_field(row, "question")
        multiple_choice = str(row.get("question_type", "multiple-choice")).strip() == "multiple-choice"
        options = _options(row) if multiple_choice else None
        prompt, images = _images(mmmu_prompt(question, options), row)
        if options is not None:
            target: dict[str, Any] = {"answer": _answer_index(field(row, "answer"), len(options)), "options": options}
        else:
            target = {"answers": [str(field(row, "answer"))]}
        subject = SUBJECT.match(str(row.get("id", "")))
        return EvalItem(
            benchmark=self.name, item_id=context.item_id, language=self._language(row, context.table),
            prompt=prompt, images=images, task="mcq" if options is not None else "vqa", target=target,
            subset=subject.group(1) if subject else row.get("subfield"),
            max_new_tokens=context.settings.get("max_new_tokens"),
        )
