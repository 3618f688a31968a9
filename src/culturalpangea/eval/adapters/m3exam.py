"""M3Exam: real school-exam questions with images, with in-language instructions.

Two published forms are read:
- PangeaBench's Parquet (the multimodal subset lmms-eval evaluates): one split per language name
  (`chinese`, `english`, `italian`, `portuguese`, `thai`, `vietnamese`, `afrikaans`) and columns
  `question_text`, `options` (list, e.g. "(1) …" or "A. …"), `answer_text` ("A"/"2"/"(2)"),
  `background_description` (list), `language`, `level`, `subject`, `subject_category`, `year` and
  `image_0` … `image_9` (base64 text, or "None");
- the original JSON release (`<lang>-questions-image.json` beside an `images-<lang>/` folder), whose
  texts name their images as `(image)[image-1.jpg]` — in the question, in the background
  description and in the options.

As in PangeaBench, option labels are stripped and re-lettered "(A) …" and an answer given as a
digit is turned into a letter. PangeaBench's Parquet: the `(image)[…]` markers of the question
become the image placeholders, options that are themselves images are not spelled out (as
PangeaBench does), and images the question does not mark get their placeholders in front. The
original release: every marker — background, question, options, in reading order — is loaded and
becomes a placeholder where it stands, so image options stay answerable. Either way every image
has exactly one placeholder, where PangeaBench writes one `<image>` per question and passes all
its images (LLaVA then reads only the first): the report counts the items this concerns
(`multi_image_items`), a difference stated rather than hidden. Rows have no ID: the item ID is
`<split>#<row index>` (stable for a given file).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from culturalpangea.eval.adapters.base import ItemOrError, Row, RowContext, field, iterate_rows, text_field
from culturalpangea.eval.adapters.common import string_list
from culturalpangea.eval.images import base64_image
from culturalpangea.eval.items import EvalItem, ImageSource, ItemProblem
from culturalpangea.eval.languages import code_for
from culturalpangea.eval.prompts import m3exam_prompt, with_images
from shard_contract.tokens import IMAGE_TOKEN

MARKER = re.compile(r"\(image\)\[([^\]]+)\]")
_OPTION_LABEL = re.compile(r"^[\(（]?[A-Da-d\d][\)）.\s]+\s*")
MAX_IMAGES = 10


def clean_option(option: str) -> str:
    """An option without its original label ("(1) x", "A. x" → "x")."""
    return _OPTION_LABEL.sub("", option).strip()


def answer_letter_index(answer: Any, n_options: int) -> int:
    """0-based index from "B", "2" or "(2)"; `ItemProblem` when outside the options."""
    text = str(answer).strip().strip("()（）").strip()
    if len(text) == 1 and text.upper() in "ABCDEFGH":
        index = "ABCDEFGH".index(text.upper())
    elif text.isdigit():
        index = int(text) - 1
    else:
        raise ItemProblem(f"field 'answer_text' is {answer!r}, not an option letter or number")
    if not 0 <= index < n_options:
        raise ItemProblem(f"answer key answer_text={answer!r} is outside the {n_options} choices")
    return index


def _embedded_images(row: Row) -> list[ImageSource]:
    images: list[ImageSource] = []
    for k in range(MAX_IMAGES):
        value = row.get(f"image_{k}")
        if value is None or (isinstance(value, str) and value.strip() in ("", "None")):
            continue
        images.append(base64_image(value, f"image_{k}"))
    return images


def _referenced_images(texts: Mapping[str, list[str]], base_dir: Path, language: str) -> list[ImageSource]:
    """The files the markers of `texts` (field name → its texts, in reading order) name, in that order."""
    paths = []
    for field_name, values in texts.items():
        for name in (found for value in values for found in MARKER.findall(value)):
            for candidate in (base_dir / f"images-{language}" / name, base_dir / name):
                if candidate.is_file():
                    paths.append(candidate)
                    break
            else:
                raise ItemProblem(f"image {name!r} named in {field_name!r} is not under {base_dir}")
    return paths


def _question_with_placeholders(question: str, n_images: int) -> tuple[str, int]:
    """Replace markers by `<image>` (at most `n_images`); return the text and how many were placed."""
    placed = 0

    def replace(_: re.Match[str]) -> str:
        nonlocal placed
        if placed < n_images:
            placed += 1
            return IMAGE_TOKEN
        return ""

    return MARKER.sub(replace, question), placed


class M3examAdapter:
    name = "m3exam"
    description = "M3Exam multimodal exam questions, in-language instructions (letter accuracy)"

    def items(self, root: Path, settings: Mapping[str, Any]) -> Iterator[ItemOrError]:
        return iterate_rows(
            self.name, root, settings,
            id_of=lambda row, table, index: f"{table.split}#{index}",
            build=self._build,
            language_of=lambda row, table: code_for(row.get("language") or table.split),
        )

    def _build(self, row: Row, context: RowContext) -> EvalItem:
        language_name = str(row.get("language") or context.table.split).lower()
        raw_options = string_list(field(row, "options"), "options", 2)
        options = [clean_option(option) for option in raw_options]
        answer = answer_letter_index(field(row, "answer_text"), len(options))
        background = row.get("background_description") or []
        background = [background] if isinstance(background, str) else [str(line) for line in background]
        question_text = text_field(row, "question_text")
        subject = str(row.get("subject_category", ""))
        if not any(f"image_{k}" in row for k in range(MAX_IMAGES)):  # the original release: files named in texts
            texts = {"background_description": background, "question_text": [question_text], "options": options}
            images = _referenced_images(texts, context.table.base_dir, language_name)
            placed = [[MARKER.sub(IMAGE_TOKEN, text) for text in texts[name]] for name in texts]
            prompt = m3exam_prompt(language_name, subject, placed[0], placed[1][0], placed[2])
        else:  # PangeaBench's Parquet: base64 images, the question's markers where they stand
            images = _embedded_images(row)
            question, placed = _question_with_placeholders(question_text, len(images))
            options_are_images = bool(MARKER.search(" ".join(raw_options)))
            prompt = m3exam_prompt(language_name, subject, background, question, [] if options_are_images else options)
            prompt = with_images(prompt, len(images) - placed)
        return EvalItem(
            benchmark=self.name, item_id=context.item_id, language=code_for(language_name), prompt=prompt,
            images=tuple(images), task="mcq", target={"answer": answer, "options": options},
            subset=row.get("subject_category"), max_new_tokens=context.settings.get("max_new_tokens"),
        )
