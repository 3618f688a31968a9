"""MERLIN (neulab/merlin): multilingual multimodal entity linking on news images.

Published as a Hugging Face dataset with one config per language (`hi`, `id`, `ja`, `ta`, `vi`),
each with a single split, and columns `Article Title` (the news headline, in the language),
`Entity Name` (the mention), `Wikidata ID`, `English Wikipedia Title` and `Image Name` (the image).
Local copies are one folder per config (a `save_to_disk` folder or `<lang>/…parquet`); the language
is that folder's name (or a `language` column). Rows have no ID, so the item ID is
`<lang>#<row index>:<Wikidata ID>`. Scored by `metrics.entity` (gold title or QID).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from culturalpangea.eval.adapters.base import ItemOrError, Row, RowContext, field, iterate_rows, text_field
from culturalpangea.eval.images import image_source
from culturalpangea.eval.items import EvalItem
from culturalpangea.eval.languages import code_for
from culturalpangea.eval.prompts import merlin_prompt
from culturalpangea.eval.tables import Table

_CODE = re.compile(r"^[a-z]{2,3}$")


def table_language(row: Row, table: Table) -> str:
    """The config folder's name when it is a language code, else the split or a `language` column."""
    if row.get("language"):
        return code_for(str(row["language"]))
    for part in (*table.parts[:-1], table.split):
        if _CODE.match(part.lower()) and part.lower() not in ("train", "test", "dev", "val"):
            return code_for(part)
    return "und"


class MerlinAdapter:
    name = "merlin"
    description = "MERLIN entity recognition from image + headline (entity accuracy, per language)"

    def items(self, root: Path, settings: Mapping[str, Any]) -> Iterator[ItemOrError]:
        return iterate_rows(
            self.name, root, settings,
            id_of=lambda row, table, index: f"{table_language(row, table)}#{index}:{row.get('Wikidata ID', '')}",
            build=self._build,
            language_of=table_language,
        )

    def _build(self, row: Row, context: RowContext) -> EvalItem:
        return EvalItem(
            benchmark=self.name, item_id=context.item_id, language=table_language(row, context.table),
            prompt=merlin_prompt(text_field(row, "Article Title"), text_field(row, "Entity Name")),
            images=(image_source(field(row, "Image Name"), "Image Name"),), task="entity",
            target={"title": text_field(row, "English Wikipedia Title"), "qid": text_field(row, "Wikidata ID")},
            max_new_tokens=context.settings.get("max_new_tokens"),
        )
