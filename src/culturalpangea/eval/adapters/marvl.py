"""MaRVL (floschne/marvl): does a statement hold for a pair of culturally specific images?

Published as a Hugging Face dataset with one split per language (`id`, `sw`, `ta`, `tr`, `zh`;
some copies add NLVR2's `en`) and columns `id`, `hypothesis` (in the language), `hypo_en`,
`language`, `label` (bool), `chapter`, `concept`, `left_img` / `right_img` and the prepared
`horizontally_stacked_img` (all `{"bytes", "path"}`). Like PangeaBench, the model sees the
horizontally stacked pair and answers "(a) false (b) true"; a copy without the stacked image gets
the two images as two placeholders instead. Scored as true/false with the multilingual mapping.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from culturalpangea.eval.adapters.base import ItemOrError, Row, RowContext, field, iterate_rows, text_field
from culturalpangea.eval.adapters.common import boolean
from culturalpangea.eval.images import image_source
from culturalpangea.eval.items import EvalItem
from culturalpangea.eval.languages import code_for
from culturalpangea.eval.prompts import MARVL_OPTIONS, marvl_prompt, with_images
from shard_contract.tokens import IMAGE_TOKEN


def _language(row: Row, split: str) -> str:
    return code_for(row.get("language") or split)


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
        hypothesis = text_field(row, "hypothesis")
        label = boolean(field(row, "label"), "label")
        if row.get("horizontally_stacked_img") is not None:
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
