"""ALM-Bench (MBZUAI/ALM-Bench): 22.7k culturally diverse questions in 100 languages, four formats.

Published as a Hugging Face dataset (split `test`) with columns `file_name` (the image),
`ID`, `Language` (English name), `Category`, `Question_Type` ("Multiple Choice Questions",
"True False Question", "Short Question", "Long Question"), `English_Question`, `English_Answer`,
`Translated_Question`, `Translated_Answer`, `Image_Url`. For multiple choice the answer holds the
correct option followed by all options in parentheses ("Sari (Kimono, Sari, Hanbok, Dirndl)"; full-
width brackets in CJK); the benchmark's own script reads the options from there, and so do we.

Prompts are the benchmark's per-type prompts. Its official scoring is a GPT-4o judge; with no API
here, scoring is deterministic instead, so numbers are not comparable with the paper's:
multiple choice → option accuracy (letter or exact option text; unparseable counted), true/false
→ multilingual yes/no accuracy, short → exact match and relaxed accuracy, long → ROUGE-L.
A true/false answer in a language outside the yes/no word lists is read from `English_Answer`
(the row's own translation). An MCQ answer that is not among its options, or a true/false answer
that is neither in either language, is an item error. Generation length: 2,048 new tokens, as the
benchmark's own script allows (`max_new_tokens_by_type` caps each question type for quicker runs).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from culturalpangea.eval.adapters.base import ItemOrError, Row, RowContext, field, iterate_rows, text_field
from culturalpangea.eval.images import image_source
from culturalpangea.eval.items import EvalItem, ItemProblem
from culturalpangea.eval.languages import code_for
from culturalpangea.eval.metrics.mcq import parse_choice
from culturalpangea.eval.metrics.normalize import normalize_text
from culturalpangea.eval.metrics.yesno import parse_yes_no
from culturalpangea.eval.prompts import alm_prompt

_OPTIONS_GROUP = re.compile(r"^(.*?)\s*[\(（](.*)[\)）]\s*$", re.DOTALL)
_LETTER_MARK = re.compile(r"(?:^|(?<=[\s,;，；、]))\(?([A-J])[.)．]\s*")
_SEPARATORS = re.compile(r"\s*[,;，；、،]\s*")

TYPES = {"multiple": "mcq", "true": "yesno", "long": "long", "short": "short"}
TASK_OF_TYPE = {"mcq": "mcq", "yesno": "yesno", "long": "long", "short": "vqa"}


def question_type(value: str) -> str:
    """'mcq' | 'yesno' | 'long' | 'short' from ALM-Bench's `Question_Type` text."""
    lowered = value.lower()
    for marker, kind in TYPES.items():
        if marker in lowered:
            return kind
    raise ItemProblem(f"field 'Question_Type' is {value!r}, not one of ALM-Bench's four types")


def split_options(choices: str) -> list[str]:
    """Options from the bracketed list: lettered ("A. x, B. y") or separated ("x, y, z")."""
    marks = list(_LETTER_MARK.finditer(choices))
    if len(marks) >= 2:
        bounds = [*(m.start() for m in marks[1:]), len(choices)]
        return [choices[m.end():end].strip(" ,;，；、") for m, end in zip(marks, bounds, strict=True)]
    return [part for part in _SEPARATORS.split(choices.strip()) if part]


def mcq_target(answer: str) -> tuple[list[str], int, str]:
    """(options, correct index, options text for the prompt) from an MCQ answer cell."""
    match = _OPTIONS_GROUP.match(answer.strip())
    if not match:
        raise ItemProblem("field 'Translated_Answer' has no bracketed list of options")
    correct, choices = match.group(1).strip(), match.group(2).strip()
    options = split_options(choices)
    if len(options) < 2:
        raise ItemProblem("field 'Translated_Answer' lists fewer than two options")
    index = parse_choice(correct, options)
    if index is None:
        hits = [i for i, option in enumerate(options) if normalize_text(option) == normalize_text(correct)]
        index = hits[0] if len(hits) == 1 else None
    if index is None:
        raise ItemProblem(f"answer {correct!r} is not one of the choices {options}")
    return options, index, choices


class AlmBenchAdapter:
    name = "almbench"
    description = "ALM-Bench, 100 languages: MCQ, true/false, short and long answers (deterministic scoring)"

    def items(self, root: Path, settings: Mapping[str, Any]) -> Iterator[ItemOrError]:
        return iterate_rows(
            self.name, root, settings,
            id_of=lambda row, table, index: text_field(row, "ID").strip(),
            build=self._build,
            language_of=lambda row, table: code_for(text_field(row, "Language")),
        )

    def _build(self, row: Row, context: RowContext) -> EvalItem:
        english = bool(context.settings.get("english", False))
        question = text_field(row, "English_Question" if english else "Translated_Question")
        answer = text_field(row, "English_Answer" if english else "Translated_Answer")
        language_name = "English" if english else text_field(row, "Language")
        kind = question_type(text_field(row, "Question_Type"))
        choices = None
        if kind == "mcq":
            options, index, choices = mcq_target(answer)
            target: dict[str, Any] = {"answer": index, "options": options}
        elif kind == "yesno":
            label = parse_yes_no(answer)
            if label is None and not english:  # a language outside the yes/no word lists: its English answer
                label = parse_yes_no(str(row.get("English_Answer") or ""))
            if label is None:
                raise ItemProblem(f"true/false answer {answer!r} is neither true nor false")
            target = {"label": label}
        elif kind == "long":
            target = {"references": [answer]}
        else:
            target = {"answers": [answer]}
        limits = context.settings.get("max_new_tokens_by_type") or {}
        return EvalItem(
            benchmark=self.name, item_id=context.item_id, language=code_for(text_field(row, "Language")),
            prompt=alm_prompt(kind, question, language_name, choices),
            images=(image_source(field(row, "file_name"), "file_name"),), task=TASK_OF_TYPE[kind], target=target,
            subset=kind, max_new_tokens=limits.get(kind, context.settings.get("max_new_tokens")),
            meta={"category": row.get("Category")},
        )
