"""Which entity classes selection leaves out by default: `registries/class_filter.json`.

The paper keeps *culturally* significant entities; Wikidata's items with images tied to a country
also include airports, railway stations, companies, hotels and sports clubs, which rank high by
sitelinks and make questions such as "What kind of thing is this?" → "international airport".
The deny list is data, one line per class with its reason, so it can be reviewed and changed
without code. Matching is on direct `P31` values only: subclass closure (`P31/P279*`) is costly on
WDQS for thousands of items and would reach far (a "museum" is a subclass of "organization").
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from data_gen.wikidata.identifiers import check_qid

REGISTRY = Path(__file__).resolve().parent / "registries" / "class_filter.json"


@dataclass(frozen=True)
class DeniedClass:
    qid: str
    label: str
    reason: str


@lru_cache(maxsize=1)
def default_denied_classes() -> tuple[DeniedClass, ...]:
    """The shipped deny list, validated (QIDs well formed, no duplicates, a reason each)."""
    data = json.loads(REGISTRY.read_text(encoding="utf-8"))
    denied = tuple(DeniedClass(entry["qid"], entry["label"], entry["reason"]) for entry in data["deny"])
    seen: set[str] = set()
    for entry in denied:
        check_qid(entry.qid)
        if entry.qid in seen:
            raise ValueError(f"class_filter.json: {entry.qid} is listed twice")
        if not entry.reason.strip() or not entry.label.strip():
            raise ValueError(f"class_filter.json: {entry.qid} needs a label and a reason")
        seen.add(entry.qid)
    return denied


def is_denied(classes: list[str] | tuple[str, ...], deny: frozenset[str], allow: frozenset[str]) -> bool:
    """True when one of the item's P31 values is denied and none is explicitly allowed.

    With a non-empty `allow`, an item none of whose classes is allowed is denied as well.
    """
    if allow and not allow.intersection(classes):
        return True
    return bool(deny.intersection(classes)) and not allow.intersection(classes)
