"""XM100 (neulab/PangeaBench-xm100): 100 Crossmodal-3600 images per language, one-sentence captions.

XM3600 copies on the Hub (`floschne/xm3600`, PangeaBench's XM100 subset) have one split per
language code (`ar` … `zh`, including `he`, `fil`, `quz`, `mi`) and columns `image_id`,
`image_locale`, `captions` (list of reference captions), `captions_tokenized`, `image`
(`{"bytes", "path"}`); a single `caption` column (string or list) is accepted too. The prompt is
PangeaBench's "Provide a one-sentence caption for the provided image in {Language}." (English: no
"in …"; Cusco Quechua `quz`: "in Quechua", as PangeaBench's per-language task files say) and scoring is
corpus BLEU-4, ROUGE-L and CIDEr-D per language on the shared CJK-aware tokens. `limit` (per split)
cuts a full XM3600 copy down to its first N images.

The original Crossmodal-3600 release is read too: `captions.jsonl`, one line per image with
`image/key` and, per language code, `{"caption": [...], "caption/tokenized": [...],
"caption/tokenized/lowercase": [...]}`, beside `images/<image/key>.jpg`. Every language of a line
becomes an item (`languages: [fr, quz]` keeps some); `limit` counts images per language. XM100 is
PangeaBench's choice of 100 images per language: `limit: 100` on the original release takes the
first 100 of the file instead, a different subset (said here so the numbers are not mixed up).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from culturalpangea.eval.adapters.base import ItemOrError, Row, RowContext, field, iterate_rows, text_field
from culturalpangea.eval.adapters.common import string_list
from culturalpangea.eval.images import image_source
from culturalpangea.eval.items import EvalItem, ItemProblem
from culturalpangea.eval.languages import code_for, english_name
from culturalpangea.eval.prompts import xm_caption_prompt

IMAGE_KEY = "image/key"


def release_rows(record: Row, languages: Any = None) -> list[Row]:
    """A line of XM3600's captions.jsonl → one row per language it has captions in (other forms pass through)."""
    if IMAGE_KEY not in record:
        return [record]
    wanted = None if languages in (None, "all") else {str(code) for code in languages}
    return [{"image_id": record[IMAGE_KEY], "language": code, "captions": value.get("caption"), "__release__": True}
            for code, value in record.items()
            if isinstance(value, dict) and "caption" in value and (wanted is None or code in wanted)]


def _release_image(image_id: str, root: Path | None) -> Path:
    path = (root or Path(".")) / "images" / f"{image_id}.jpg"
    if not path.is_file():
        raise ItemProblem(f"image {path} of Crossmodal-3600 is missing")
    return path


def _language(row: Row, split: str) -> str:
    return code_for(row.get("language") or split)


def _captions(row: Row) -> list[str]:
    if row.get("captions") is not None:
        captions = string_list(row["captions"], "captions", 1)
    else:
        value = field(row, "caption")
        captions = [value] if isinstance(value, str) else string_list(value, "caption", 1)
    captions = [c for c in captions if c.strip()]
    if not captions:
        raise ItemProblem("field 'captions' holds no non-empty caption")
    return captions


class Xm100Adapter:
    name = "xm100"
    description = "XM100 multilingual captioning (BLEU-4, ROUGE-L, CIDEr-D, per language)"

    def items(self, root: Path, settings: Mapping[str, Any]) -> Iterator[ItemOrError]:
        return iterate_rows(
            self.name, root, settings,
            id_of=lambda row, table, index: f"{row.get('language') or table.split}:{text_field(row, 'image_id')}",
            build=self._build,
            language_of=lambda row, table: _language(row, table.split),
            expand=lambda record: release_rows(record, settings.get("languages")),
            split_of=lambda row, table: str(row.get("language") or table.split),
        )

    def _build(self, row: Row, context: RowContext) -> EvalItem:
        language = _language(row, context.table.split)
        if row.get("__release__"):
            image: Any = _release_image(text_field(row, "image_id"), context.root)
        else:
            image = image_source(field(row, "image"), "image")
        return EvalItem(
            benchmark=self.name, item_id=context.item_id, language=language,
            prompt=xm_caption_prompt(language, english_name(language)),
            images=(image,), task="caption",
            target={"captions": _captions(row)}, max_new_tokens=context.settings.get("max_new_tokens"),
        )
