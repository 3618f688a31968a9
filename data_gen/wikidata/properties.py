"""The catalogue of culturally meaningful Wikidata properties, loaded from `registries/properties.json`.

Each property carries its answer type (item, time, quantity, string, monolingual), the entity
classes it fits (tags with a Wikidata class QID each, used by question templates to pick what to
ask) and whether it makes a good *visual* question (the pictured thing helps answer it: style,
material, colour, what it depicts) as opposed to knowledge about it (architect, date of birth).
`links` are the property paths that tie an item to a country during entity selection. The
catalogue is data so it can be reviewed and extended without touching code; it is validated on load.

Two profiles (`entities.properties`):
- `cultural` (the default): the 76 properties marked `"cultural": <reason>` in the registry, the
  paper's "76 culturally meaningful properties". The paper does not list them; this list is our
  choice, each property with its reason (`cultural_reasons`: belonging, place, heritage, art, food,
  belief, language, people, time, visual). Out: civic and economic facts (population, area,
  elevation, party, team, employees, head of state, currency, address), which the paper's aim —
  regionally significant culture rather than general knowledge — does not need.
- `broad`: all 138 properties (the catalogue before the culture profile), as an option.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from data_gen.wikidata.identifiers import check_path, check_pid, check_qid

REGISTRY = Path(__file__).resolve().parent / "registries" / "properties.json"
ANSWER_TYPES = ("item", "time", "quantity", "string", "monolingual")
PROFILES = ("cultural", "broad")
CULTURAL_PROPERTY_COUNT = 76  # the paper's figure; a test holds the registry to it


@dataclass(frozen=True)
class Property:
    pid: str
    label: str
    answer_type: str
    applies_to: tuple[str, ...]
    visual: bool
    cultural: str | None = None  # the reason it is culturally meaningful (a `cultural_reasons` key), or None


@dataclass(frozen=True)
class Link:
    """How an item is tied to a country: a property path ending at the country item."""

    pid: str
    path: str


@dataclass(frozen=True)
class Catalogue:
    properties: tuple[Property, ...]
    classes: dict[str, str | None]
    links: tuple[Link, ...]
    cultural_reasons: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _validate(self)

    def profile(self, name: str) -> Catalogue:
        """The catalogue restricted to a profile: `cultural` (marked properties) or `broad` (all)."""
        if name not in PROFILES:
            raise ValueError(f"entities.properties must be one of {PROFILES}, got {name!r}")
        if name == "broad":
            return self
        kept = tuple(prop for prop in self.properties if prop.cultural)
        return Catalogue(kept, self.classes, self.links, self.cultural_reasons)

    @property
    def pids(self) -> tuple[str, ...]:
        return tuple(p.pid for p in self.properties)

    def get(self, pid: str) -> Property:
        for prop in self.properties:
            if prop.pid == pid:
                return prop
        raise KeyError(f"{pid} is not in the property catalogue")

    def link(self, pid: str) -> Link:
        for link in self.links:
            if link.pid == pid:
                return link
        raise KeyError(f"{pid} is not a country link; known: {', '.join(link.pid for link in self.links)}")


def _validate(catalogue: Catalogue) -> None:
    seen: set[str] = set()
    for prop in catalogue.properties:
        check_pid(prop.pid)
        if prop.pid in seen:
            raise ValueError(f"duplicate property {prop.pid}")
        seen.add(prop.pid)
        if prop.answer_type not in ANSWER_TYPES:
            raise ValueError(f"{prop.pid}: answer type {prop.answer_type!r} not in {ANSWER_TYPES}")
        unknown = set(prop.applies_to) - set(catalogue.classes)
        if not prop.applies_to or unknown:
            raise ValueError(f"{prop.pid}: applies_to must name known classes (unknown: {sorted(unknown)})")
        if not prop.label.strip():
            raise ValueError(f"{prop.pid}: empty label")
        if prop.cultural is not None and prop.cultural not in catalogue.cultural_reasons:
            raise ValueError(f"{prop.pid}: cultural reason {prop.cultural!r} is not in cultural_reasons")
    for tag, qid in catalogue.classes.items():
        if qid is not None:
            check_qid(qid)
        if not tag.replace("_", "").isalpha():
            raise ValueError(f"class tag {tag!r} must be a plain word")
    for link in catalogue.links:
        check_pid(link.pid)
        check_path(link.path)


def parse_catalogue(data: dict) -> Catalogue:
    return Catalogue(
        properties=tuple(
            Property(
                pid=p["pid"],
                label=p["label"],
                answer_type=p["type"],
                applies_to=tuple(p["applies_to"]),
                visual=bool(p["visual"]),
                cultural=p.get("cultural"),
            )
            for p in data["properties"]
        ),
        classes=dict(data["classes"]),
        links=tuple(Link(pid=link["pid"], path=link["path"]) for link in data["links"]),
        cultural_reasons=dict(data.get("cultural_reasons", {})),
    )


@lru_cache(maxsize=1)
def load_catalogue(path: Path | None = None) -> Catalogue:
    """The shipped catalogue (cached)."""
    return parse_catalogue(json.loads(Path(path or REGISTRY).read_text(encoding="utf-8")))
