"""The bias section of `stage=stats`: who the dataset is about, next to how rich they are.

The paper warns that Wikidata-derived data over-represents rich, well-documented countries and
famous items. This section shows that skew before anyone trains on it:

- **per country**: samples (the shard manifests), usable images (images stage, status ok) and
  selected entities (entity records) against nominal GDP per capita, read from Wikidata itself
  (P2132, the truthy `wdt:` value: the preferred statement, usually the latest year; if several
  remain, the largest) in one query for all the run's countries through the same SPARQL client and
  cache as the other stages; Spearman's ρ with its p-value and n for samples and for images vs GDP,
  and a scatter plot (log GDP, labelled with country codes). A country without a value is listed
  as "no GDP value" and left out of ρ (counted in `no_gdp_value`);
- **per class**: entities and images by each entity's primary P31 class — the class most common
  among its country's selected entities (ties: lower QID), the entities stage's rule applied to the
  selected entities — named by the English label its P31 fact carries, else by QID;
- **per popularity band**: entities and images by global sitelinks, in the fixed bands of
  `SITELINK_BANDS` (the same edges on every run, so runs compare).

The run's countries are those the entities stage wrote a record file for, plus any country with
samples or images; a country with none of them still counts (zero is the skew at its worst).
Classes and bands count entities and images, not samples: the manifests count samples per
country, language and property only, and the section never re-reads shards or QA records.
Without entity records (`out_dir/entities/*.jsonl`, e.g. `shard_dir=` on a downloaded folder) the
section is skipped with its reason; if the GDP query fails the rest is written and the reason stated.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from data_gen.common.errors import DataGenError
from data_gen.common.jsonl import iter_jsonl
from data_gen.common.layout import Layout
from data_gen.entities.selection import primary_class
from data_gen.wikidata.identifiers import PREFIXES, qid_number, qid_of, values_clause
from data_gen.wikidata.regions import load_regions

GDP_PROPERTY = "P2132"  # nominal GDP per capita (Wikidata), in US dollars on country items
SITELINK_BANDS: tuple[tuple[int, int | None], ...] = ((0, 9), (10, 49), (50, 199), (200, None))
"""Global sitelink bands (inclusive; None: no upper edge), roughly ×4–5 apart: the one place they are defined."""
PLOT_NAME = "bias_gdp.png"
NO_CLASS = ""  # an entity record without any P31 class
SIGNIFICANCE = 0.05  # the p-value below which the one-line reading names a direction


def band_name(low: int, high: int | None) -> str:
    return f"{low}+" if high is None else f"{low}–{high}"


def band_of(sitelinks: int) -> str:
    """The `SITELINK_BANDS` band that holds `sitelinks`."""
    for low, high in SITELINK_BANDS:
        if sitelinks >= low and (high is None or sitelinks <= high):
            return band_name(low, high)
    return band_name(*SITELINK_BANDS[0])  # negative counts never occur; kept in the lowest band


def spearman(xs: Sequence[float], ys: Sequence[float]) -> dict[str, Any]:
    """Spearman's ρ (average ranks for ties), its two-sided p-value (t approximation, as scipy) and n.

    ρ and p are None, with a `reason`, when n < 3 or either side is constant (ρ undefined).
    """
    n = len(xs)
    if n != len(ys):
        raise ValueError(f"spearman needs paired values, got {n} and {len(ys)}")
    result: dict[str, Any] = {"rho": None, "p_value": None, "n": n}
    if n < 3:
        return {**result, "reason": f"n = {n}: too few countries with a GDP value (ρ needs at least 3)"}
    if len(set(xs)) < 2 or len(set(ys)) < 2:
        return {**result, "reason": "one side is the same for every country: ρ is undefined"}
    from scipy.stats import spearmanr

    statistic = spearmanr(xs, ys)
    return {**result, "rho": float(statistic.statistic), "p_value": float(statistic.pvalue)}


def reading(test: Mapping[str, Any], unit: str) -> str:
    """The one-line reading of a ρ: `ρ = 0.62 (n = 18, p = 0.006): richer countries get more samples`."""
    if test["rho"] is None:
        return f"ρ for {unit}: not computed ({test['reason']})"
    rho, p, n = test["rho"], test["p_value"], test["n"]
    head = f"ρ = {rho:.2f} (n = {n}, p = {p:.3f})"
    if p >= SIGNIFICANCE:
        return f"{head}: no clear link between GDP per capita and {unit} at this n (p ≥ {SIGNIFICANCE})"
    return f"{head}: {'richer' if rho > 0 else 'poorer'} countries get more {unit}"


# ---------------------------------------------------------------- inputs


def entity_files(layout: Layout) -> list[Path]:
    return layout.country_record_files("entities")


def read_entities(files: list[Path]) -> dict[tuple[str, str], dict[str, Any]]:
    """(country, qid) → the fields this section uses: sitelinks, primary class, class labels."""
    entities: dict[tuple[str, str], dict[str, Any]] = {}
    for path in files:
        records = [line.record for line in iter_jsonl(path) if line.record]  # type: ignore[union-attr]
        frequency = Counter(cls for record in records for cls in record.get("classes") or [])
        for record in records:
            primary = primary_class(record.get("classes") or [], frequency)
            labels = {
                fact["value"]: fact["labels"]["en"]
                for fact in record.get("facts") or []
                if fact.get("property") == "P31" and "en" in (fact.get("labels") or {})
            }
            entities[(record.get("country") or path.stem, record["qid"])] = {
                "sitelinks": int(record.get("sitelinks") or 0),
                "class": primary,
                "label": labels.get(primary),
            }
    return entities


def usable_images(layout: Layout) -> Counter:
    """(country, qid) → usable (status ok) images, from the images stage's records."""
    counts: Counter = Counter()
    for path in layout.country_record_files("images"):
        for line in iter_jsonl(path):
            record = line.record or {}
            if record.get("status") == "ok":
                counts[(record.get("country") or path.stem, record.get("qid"))] += 1
    return counts


def gdp_query(qids: list[str]) -> str:
    return PREFIXES + (
        f"SELECT ?country ?gdp WHERE {{ {values_clause('country', qids)} ?country wdt:{GDP_PROPERTY} ?gdp . }}"
    )


def gdp_per_capita(cfg: DictConfig, codes: list[str]) -> dict[str, float]:
    """Country code → nominal GDP per capita (truthy P2132; the largest if several), one query for all."""
    from data_gen.wikidata.config import sparql_client

    regions = load_regions()
    qid_to_code = {}
    for code in codes:
        try:
            qid_to_code[regions.by_key(code).qid] = code
        except ValueError:
            continue  # not a registry country (an imported code): no item to ask about
    if not qid_to_code:
        return {}
    values: dict[str, float] = {}
    for row in sparql_client(cfg).select(gdp_query(sorted(qid_to_code, key=qid_number))):
        code = qid_to_code.get(qid_of(row.get("country", {}).get("value", "")) or "")
        try:
            amount = float(row.get("gdp", {}).get("value", ""))
        except ValueError:
            continue
        if code and math.isfinite(amount) and amount > 0:
            values[code] = max(amount, values.get(code, amount))
    return values


# ---------------------------------------------------------------- the section


def images_per_country(images: Mapping[tuple[str, str], int]) -> dict[str, int]:
    """Per country, the usable images of `usable_images` (countries with none left out)."""
    counts: Counter = Counter()
    for (country, _), count in images.items():
        counts[country] += count
    return dict(sorted((country, n) for country, n in counts.items() if n))


def bias_section(
    cfg: DictConfig, samples_per_country: Mapping[str, int], images: Mapping[tuple[str, str], int]
) -> dict[str, Any]:
    """The bias section for stats.json, or `{"skipped": reason}` without entity records.

    `images` is `usable_images(layout)`, read once by the stats stage for its tables and this section.
    """
    layout = Layout.of(cfg)
    files = entity_files(layout)
    if not files:
        return {
            "skipped": f"no entity records in {layout.stage('entities')} (written by stage=entities): the bias "
            "section needs the run's entities for its countries, classes and popularity"
        }
    entities = read_entities(files)
    per_country_images = images_per_country(images)
    per_country_entities = Counter(country for country, _ in entities)
    codes = sorted({path.stem for path in files} | set(samples_per_country) | set(per_country_images))
    section: dict[str, Any] = {
        "gdp": {
            "property": GDP_PROPERTY,
            "source": str(cfg.get("source", "sample")),
            "unit": "US dollars per person, nominal",
            "error": None,
        }
    }
    try:
        gdp = gdp_per_capita(cfg, codes)
    except DataGenError as error:  # endpoint down, settings missing: the rest of the section still helps
        gdp, section["gdp"]["error"] = {}, str(error)
    countries = {
        code: {
            "gdp_per_capita": gdp.get(code),
            "samples": int(samples_per_country.get(code, 0)),
            "images": int(per_country_images.get(code, 0)),
            "entities": per_country_entities[code],
        }
        for code in codes
    }
    with_gdp = [row for row in countries.values() if row["gdp_per_capita"] is not None]
    section["countries"] = countries
    section["no_gdp_value"] = [code for code, row in countries.items() if row["gdp_per_capita"] is None]
    section["spearman"] = {
        unit: spearman([row["gdp_per_capita"] for row in with_gdp], [row[unit] for row in with_gdp])
        for unit in ("samples", "images")
    }
    classes = _grouped(entities, images, lambda entity: entity["class"])
    section["classes"] = [  # lists, not objects: stats.json sorts keys, these keep their order
        {"class": qid, "label": group.pop("label", None), **group}
        for qid, group in sorted(classes.items(), key=lambda item: (-item[1]["entities"], item[0]))
    ]
    bands = _grouped(entities, images, lambda entity: band_of(entity["sitelinks"]))
    section["sitelink_bands"] = [
        {
            "band": band_name(low, high),
            "low": low,
            "high": high,
            "entities": 0,
            "images": 0,
            **bands.get(band_name(low, high), {}),
        }
        for low, high in SITELINK_BANDS
    ]
    section["units"] = {
        "countries": "samples (shard manifests), images (status ok), entities (entity records)",
        "classes": "entities and images, by primary P31 class",
        "sitelink_bands": "entities and images, by global sitelinks",
    }
    return section


def _grouped(entities: Mapping[tuple[str, str], Mapping[str, Any]], images: Counter, key: Any) -> dict[str, Any]:
    """Entities and their usable images per `key(entity)`; classes keep their English label."""
    groups: dict[str, dict[str, Any]] = {}
    for where, entity in entities.items():
        group = groups.setdefault(key(entity), {"entities": 0, "images": 0})
        group["entities"] += 1
        group["images"] += images.get(where, 0)
        if entity.get("label") and key(entity) == entity["class"]:
            group["label"] = entity["label"]
    return groups


# ---------------------------------------------------------------- report


def _money(value: float | None) -> str:
    return "no GDP value" if value is None else f"${value:,.0f}"


def class_name(row: Mapping[str, Any]) -> str:
    """`dish (Q746549)`, the bare QID without an English label, or `(no P31 class)`."""
    if row["class"] == NO_CLASS:
        return "(no P31 class)"
    return f"{row['label']} ({row['class']})" if row.get("label") else row["class"]


def bias_markdown(section: Mapping[str, Any], country_label: Any, limit: int = 30) -> list[str]:
    """Markdown blocks of the section (a skip note when skipped); `country_label` names a country code."""
    if "skipped" in section:
        return ["## Bias", f"Skipped: {section['skipped']}."]
    countries = section["countries"]
    blocks = [
        "## Bias: samples and images per country against GDP per capita",
        f"GDP per capita: Wikidata {section['gdp']['property']} (nominal US$, truthy value), "
        f"source={section['gdp']['source']}.",
    ]
    if section["gdp"]["error"]:
        blocks.append(f"GDP values unavailable: {section['gdp']['error']}")
    blocks.append(
        "\n".join(
            f"- {unit.capitalize()}: {reading(section['spearman'][unit], unit)}" for unit in ("samples", "images")
        )
    )
    rows = sorted(
        countries.items(),
        key=lambda item: (item[1]["gdp_per_capita"] is None, -(item[1]["gdp_per_capita"] or 0), item[0]),
    )
    lines = ["| country | GDP per capita | samples | images | entities |", "| --- | ---: | ---: | ---: | ---: |"]
    lines += [
        f"| {country_label(code)} | {_money(row['gdp_per_capita'])} | {row['samples']:,} | {row['images']:,} "
        f"| {row['entities']:,} |"
        for code, row in rows
        if row["gdp_per_capita"] is not None or row["samples"] or row["images"] or row["entities"]
    ]
    blocks.append("\n".join(lines))
    if section["no_gdp_value"]:
        blocks.append(
            f"No GDP value ({len(section['no_gdp_value'])}, left out of ρ): {', '.join(section['no_gdp_value'])}."
        )
    if any(row["gdp_per_capita"] is not None for row in countries.values()):
        blocks.append(f"![bias_gdp]({PLOT_NAME})")
    blocks += ["## Entities and images per primary class", _table("class", section["classes"], class_name, limit)]
    blocks += [
        "## Entities and images per popularity band (global sitelinks)",
        _table("sitelinks", section["sitelink_bands"], lambda row: row["band"], None),
    ]
    return blocks


def _table(name: str, rows: Sequence[Mapping[str, Any]], label: Any, limit: int | None) -> str:
    """Entities and images per row with their shares; `limit` keeps the first rows and folds the rest."""
    entities = sum(row["entities"] for row in rows) or 1
    images = sum(row["images"] for row in rows) or 1
    shown = rows[:limit] if limit else rows
    lines = [f"| {name} | entities | share | images | share |", "| --- | ---: | ---: | ---: | ---: |"]
    lines += [
        f"| {label(row)} | {row['entities']:,} | {100 * row['entities'] / entities:.1f}% "
        f"| {row['images']:,} | {100 * row['images'] / images:.1f}% |"
        for row in shown
    ]
    if len(shown) < len(rows):
        rest_e = sum(row["entities"] for row in rows[len(shown) :])
        rest_i = sum(row["images"] for row in rows[len(shown) :])
        lines.append(
            f"| … {len(rows) - len(shown)} more | {rest_e:,} | {100 * rest_e / entities:.1f}% "
            f"| {rest_i:,} | {100 * rest_i / images:.1f}% |"
        )
    return "\n".join(lines)


def bias_figure(section: Mapping[str, Any]) -> Any:
    """Samples and images per country against GDP per capita (log x), labelled with codes; None if no GDP."""
    points = [(code, row) for code, row in section["countries"].items() if row["gdp_per_capita"] is not None]
    if not points:
        return None
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(12, 5))
    for axis, unit in zip(axes, ("samples", "images"), strict=True):
        xs = [row["gdp_per_capita"] for _, row in points]
        ys = [row[unit] for _, row in points]
        axis.scatter(xs, ys, color="#3b7dd8")
        for (code, _), x, y in zip(points, xs, ys, strict=True):
            axis.annotate(code, (x, y), textcoords="offset points", xytext=(4, 3), fontsize=8)
        axis.set_xscale("log")
        axis.set_xlabel("GDP per capita (US$, Wikidata P2132, log scale)")
        axis.set_ylabel(f"{unit} per country")
        test = section["spearman"][unit]
        rho = "ρ n/a" if test["rho"] is None else f"ρ = {test['rho']:.2f}, p = {test['p_value']:.3f}"
        axis.set_title(f"{unit.capitalize()} vs GDP per capita ({rho}, n = {test['n']})")
    return figure
