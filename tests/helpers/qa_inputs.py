"""Synthetic `entities/` and `images/` outputs in the formats the entities and images stages write.

Deterministic (a seeded RNG): countries with their languages, entities whose facts cover every
answer type (item values with labels per language, times at year/month/day precision and BCE,
quantities, monolingual and plain strings), multi-valued properties, entities with several,
one or no usable images, and labels missing in some languages. Used by the QA, shards and
`all` tests before (and beside) the embedded Wikidata sample.
"""

from __future__ import annotations

import io
import json
import random
from pathlib import Path
from typing import Any

from PIL import Image

COUNTRY_LANGUAGES = {"FR": ["fr"], "IL": ["iw", "ar"], "IN": ["hi", "bn", "ta", "te", "ur"], "JP": ["ja"]}
# Written only when asked for (`countries=`): Sri Lanka shares Tamil with India, not its neighbour in code order.
EXTRA_COUNTRY_LANGUAGES = {"LK": ["si", "ta"]}
ALL_COUNTRY_LANGUAGES = {**COUNTRY_LANGUAGES, **EXTRA_COUNTRY_LANGUAGES}
ITEM_PROPERTIES = ("P186", "P149", "P84", "P131", "P2596", "P140", "P136")
STYLE_WORDS = ("stone", "iron", "wood", "marble", "brick", "glass", "bronze", "clay", "silk", "gold", "jade", "teak")


def _label(base: str, lang: str) -> str:
    return base if lang == "en" else f"{base} ({lang})"


def value_items(count: int = 40) -> list[tuple[str, dict[str, str]]]:
    """Value items with labels in every language used here (some languages missing for a few)."""
    languages = sorted({lang for langs in ALL_COUNTRY_LANGUAGES.values() for lang in langs} | {"en"})
    items = []
    for index in range(count):
        base = f"{STYLE_WORDS[index % len(STYLE_WORDS)]} {index}"
        labels = {lang: _label(base, lang) for lang in languages if not (index % 9 == 4 and lang != "en")}
        items.append((f"Q{500_000 + index}", labels))
    return items


def make_entity(rng: random.Random, country: str, rank: int, items: list) -> dict[str, Any]:
    qid = f"Q{100_000 + 1_000 * list(ALL_COUNTRY_LANGUAGES).index(country) + rank}"
    languages = [*ALL_COUNTRY_LANGUAGES[country], "en"]
    labels = {lang: f"{country} landmark {rank} [{lang}]" for lang in languages if not (rank % 7 == 3 and lang != "en")}
    facts = []
    for pid in rng.sample(ITEM_PROPERTIES, 3):
        for _ in range(1 + (rank % 4 == 0)):  # some multi-valued properties
            value, item_labels = items[rng.randrange(len(items))]
            facts.append({"property": pid, "type": "item", "value": value,
                          "labels": {k: v for k, v in item_labels.items() if k in languages}})
    year = rng.randrange(1000, 2000)
    day = rng.choice([(1, 1), (3, 1), (5, 17)])
    facts.append({"property": "P571", "type": "time", "value": f"{year}-{day[0]:02d}-{day[1]:02d}T00:00:00Z"})
    if rank % 5 == 0:
        facts.append({"property": "P1619", "type": "time", "value": f"-{rng.randrange(100, 900):04d}-01-01T00:00:00Z"})
    facts.append({"property": "P2048", "type": "quantity", "value": f"+{rng.randrange(5, 400)}.{rng.randrange(10)}"})
    facts.append({"property": "P1082", "type": "quantity", "value": f"+{rng.randrange(1000, 9_000_000)}"})
    facts.append({"property": "P1448", "type": "monolingual", "value": f"Official {country} {rank}", "lang": "en"})
    facts.append({"property": "P742", "type": "string", "value": f"alias-{country}-{rank}"})
    facts.sort(key=lambda f: (int(f["property"][1:]), str(f["value"])))
    return {
        "qid": qid, "country": country, "rank": rank, "sitelinks": 100 - rank, "links": ["P17"],
        "classes": [f"Q{10 + rank % 3}"], "labels": labels, "descriptions": {},
        "aliases": {"en": [f"{country} site {rank}"]} if rank % 2 else {},
        "images": [f"{country}_{rank}_{i}.jpg" for i in range(1 + rank % 3)], "facts": facts,
    }


def tiny_jpeg(seed: int, size: int = 32) -> bytes:
    image = Image.new("RGB", (size, size), ((seed * 37) % 256, (seed * 91) % 256, (seed * 13) % 256))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=80)
    return buffer.getvalue()


def _image_rows(out_dir: Path, entity: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for index, name in enumerate(entity["images"]):
        ok = entity["rank"] % 11 != 10  # a few entities have no usable image
        relative = f"images/{entity['country']}/{entity['qid']}-{index}.jpg"
        row = {"qid": entity["qid"], "country": entity["country"], "index": index, "file": name,
               "status": "ok" if ok else "corrupt", "path": relative if ok else None, "width": 32, "height": 32,
               "sha256": None, "url": f"https://commons.wikimedia.org/wiki/Special:FilePath/{name}",
               "author": "Test Author", "license": "CC BY-SA 4.0", "license_url": None, "placeholder": True}
        if ok:
            path = out_dir / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(tiny_jpeg(entity["rank"] * 7 + index))
        rows.append(row)
    return rows


def write_inputs(out_dir: Path, per_country: int = 30, seed: int = 0, countries: tuple[str, ...] | None = None) -> Path:
    """Write entities/ and images/ (records, manifests, JPEGs) under `out_dir`; return out_dir."""
    out_dir = Path(out_dir)
    rng = random.Random(seed)
    items = value_items()
    (out_dir / "entities").mkdir(parents=True, exist_ok=True)
    (out_dir / "images").mkdir(parents=True, exist_ok=True)
    codes = countries or tuple(COUNTRY_LANGUAGES)
    for code in codes:
        entities = [make_entity(rng, code, rank, items) for rank in range(1, per_country + 1)]
        lines = "".join(json.dumps(e, ensure_ascii=False, sort_keys=True) + "\n" for e in entities)
        (out_dir / "entities" / f"{code}.jsonl").write_text(lines, encoding="utf-8")
        rows = [row for entity in entities for row in _image_rows(out_dir, entity)]
        (out_dir / "images" / f"{code}.jsonl").write_text(
            "".join(json.dumps(r, sort_keys=True) + "\n" for r in rows), encoding="utf-8")
    countries_block = {code: {"entities": per_country} for code in codes}
    (out_dir / "entities" / "manifest.json").write_text(json.dumps({"stage": "entities", "countries": countries_block}))
    (out_dir / "images" / "manifest.json").write_text(json.dumps({"stage": "images", "countries": countries_block}))
    return out_dir
