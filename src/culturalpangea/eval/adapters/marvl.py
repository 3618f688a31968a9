"""MaRVL: does a statement hold for a pair of culturally specific images? Two published forms.

- **floschne/marvl** (Hugging Face): one split per language (`id`, `sw`, `ta`, `tr`, `zh`; some
  copies add NLVR2's `en`), columns `id`, `hypothesis` (in the language), `hypo_en`, `language`,
  `label` (bool), `chapter`, `concept`, `left_img` / `right_img` and the prepared
  `horizontally_stacked_img` (all `{"bytes", "path"}`).
- **The original release** (marvl-data / IGLUE): `marvl-<lang>.jsonl` annotation files whose rows
  hold `id` ("id-0"), `language`, `concept` ("39-Panci"), `chapter`, `caption` (the statement),
  `left_img` / `right_img` (file names), `label` (bool) and `annotator_info`, beside the images
  release laid out `<language>/images/<concept>/<file>`. Image names are resolved against the
  benchmark folder — directly, or under its `images/` (IGLUE's `images/<lang>/images/…`), or two
  folders above the annotation file (`<lang>/annotations/marvl-<lang>.jsonl` next to
  `<lang>/images/`) — trying the NFC and NFKD spellings of the name (the release's Unicode file
  names are stored in either form); never against the working directory.
- **PangeaBench's copy** (neulab/PangeaBench-marvl, a split per language): `id`, `image` (the
  stacked pair) and LLaVA-style `conversations` — the human turn holds the statement and options
  after `<image>\n`, the assistant turn the answer containing "true" or "false". The prompt is
  PangeaBench's own (`marvl_doc_to_text`): the human turn without its image tag, then ". Answer
  with the option directly.".

Like PangeaBench, the model sees the horizontally stacked pair and answers "(a) false (b) true";
a copy without the stacked image (the original release) gets the two images as two placeholders
instead — a difference from PangeaBench's single stacked image, noted here rather than hidden.
Scored as true/false with the multilingual mapping.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from culturalpangea.eval.adapters.base import ItemOrError, Row, RowContext, field, iterate_rows, text_field
from culturalpangea.eval.adapters.common import boolean
from culturalpangea.eval.images import image_source
from culturalpangea.eval.items import EvalItem, ItemProblem
from culturalpangea.eval.languages import code_for
from culturalpangea.eval.prompts import MARVL_OPTIONS, marvl_prompt, with_images
from shard_contract.tokens import IMAGE_TOKEN


def _language(row: Row, split: str) -> str:
    value = row.get("language") or split.removeprefix("marvl-")
    return code_for(value)


def _released_image(name: str, row: Row, context: RowContext) -> Path:
    """`<language>/images/<concept>/<name>` of the original images release, found under the benchmark folder."""
    language, concept = text_field(row, "language"), text_field(row, "concept")
    relative = Path(language) / "images" / concept
    bases = [context.root, context.root / "images", context.table.base_dir.parent.parent] if context.root else []
    for base in bases:
        for form in ("NFC", "NFKD", "NFD"):
            candidate = base / unicodedata.normalize(form, str(relative / name))
            if candidate.is_file():
                return candidate
    looked = context.root / relative / name if context.root else relative / name
    raise ItemProblem(f"image {name!r} not found (looked for {looked} and under images/)")


def _turn(row: Row, index: int) -> str:
    turns = field(row, "conversations")
    if not isinstance(turns, list) or len(turns) < 2 or not isinstance(turns[index], dict):
        raise ItemProblem("field 'conversations' is not a human turn followed by an answer")
    value = turns[index].get("value")
    if not isinstance(value, str) or not value.strip():
        raise ItemProblem(f"conversation turn {index} has no text")
    return value


def _conversation_label(answer: str) -> bool:
    """The label of PangeaBench's answer turn ("true" is looked for first, as `marvl_doc_to_target` does)."""
    if "true" in answer:
        return True
    if "false" in answer:
        return False
    raise ItemProblem(f"answer turn {answer!r} says neither true nor false")


class MarvlAdapter:
    name = "marvl"
    description = "MaRVL true/false reasoning over image pairs (exact match, per language)"

    def items(self, root: Path, settings: Mapping[str, Any]) -> Iterator[ItemOrError]:
        return iterate_rows(
            self.name, root, settings,
            id_of=lambda row, table, index: f"{table.split}:{text_field(row, 'id')}",
            build=self._build,
            language_of=lambda row, table: _language(row, table.split),
        )

    def _build(self, row: Row, context: RowContext) -> EvalItem:
        if "conversations" in row:
            return self._build_pangeabench(row, context)
        original = "hypothesis" not in row and "caption" in row  # the marvl-data / IGLUE annotation files
        hypothesis = text_field(row, "caption" if original else "hypothesis")
        label = boolean(field(row, "label"), "label")
        if original:
            images = tuple(_released_image(text_field(row, name), row, context) for name in ("left_img", "right_img"))
            prompt = with_images(marvl_prompt(hypothesis).removeprefix(f"{IMAGE_TOKEN}\n"), 2)
        elif row.get("horizontally_stacked_img") is not None:
            images = (image_source(row["horizontally_stacked_img"], "horizontally_stacked_img"),)
            prompt = marvl_prompt(hypothesis)
        else:
            images = (image_source(field(row, "left_img"), "left_img"),
                      image_source(field(row, "right_img"), "right_img"))
            prompt = with_images(marvl_prompt(hypothesis).removeprefix(f"{IMAGE_TOKEN}\n"), 2)
        return EvalItem(
            benchmark=self.name, item_id=context.item_id, language=_language(row, context.table.split),
            prompt=prompt, images=images, task="yesno",
            target={"label": label, "options": MARVL_OPTIONS},
            subset=row.get("concept"), max_new_tokens=context.settings.get("max_new_tokens"),
        )

    def _build_pangeabench(self, row: Row, context: RowContext) -> EvalItem:
        statement = _turn(row, 0).replace(f"{IMAGE_TOKEN}\n", "").strip()
        return EvalItem(
            benchmark=self.name, item_id=context.item_id, language=_language(row, context.table.split),
            prompt=with_images(f"{statement}. Answer with the option directly."),
            images=(image_source(field(row, "image"), "image"),), task="yesno",
            target={"label": _conversation_label(_turn(row, 1)), "options": MARVL_OPTIONS},
            subset=row.get("concept"), max_new_tokens=context.settings.get("max_new_tokens"),
        )
