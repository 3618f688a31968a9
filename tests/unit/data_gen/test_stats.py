"""Statistics from a shard manifest: tables, shares and real PNG charts."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from PIL import Image

from data_gen.shards.stats import markdown_table, write_stats
from data_gen.shards.writer import ShardSpec, write_shards
from tests.helpers.datagen_config import NO_MODELS, datagen_config
from tests.helpers.shard_samples import make_samples


def test_markdown_table_sorts_by_count_and_folds_the_tail():
    table = markdown_table("language", {"en": 5, "ja": 3, "am": 1, "ar": 1}, limit=2)
    lines = table.splitlines()
    assert lines[0] == "| language | samples | share |"
    assert lines[2] == "| English (en) | 5 | 50.0% |" and lines[3] == "| Japanese (ja) | 3 | 30.0% |"
    assert lines[4] == "| … 2 more | 2 | 20.0% |"


def test_tables_name_codes_the_way_every_report_does():
    """Issue 19 §6: P-ids without names, `he`/`iw`, codes here and names there, images counted as "samples"."""
    assert markdown_table("language", {"iw": 2}).splitlines()[2] == "| Hebrew (iw) | 2 | 100.0% |"
    assert markdown_table("country", {"JP": 1}).splitlines()[2] == "| Japan (JP) | 1 | 100.0% |"
    images = markdown_table("images_per_country", {"KR": 4}).splitlines()
    assert images[0] == "| images_per_country | images | share |" and images[2].startswith("| South Korea (KR) |")
    rows = markdown_table("property", {"P131": 3, "entity_recognition": 1}).splitlines()
    assert rows[2] == "| P131 located in the administrative territorial entity | 3 | 75.0% |"
    assert rows[3] == "| entity_recognition | 1 | 25.0% |"


def test_write_stats_produces_json_markdown_and_pngs(tmp_path):
    write_shards(make_samples(18), tmp_path, ShardSpec(max_samples=5))
    out = write_stats(tmp_path, images_per_country={"JP": 17})
    stats = json.loads((out / "stats.json").read_text())
    assert stats["total_samples"] == 18 and stats["shards"] == 4
    assert stats["counts"]["language"]["en"] == 3
    assert stats["counts"]["images_per_country"] == {"JP": 17}  # the data keeps codes, the tables name them
    text = (out / "stats.md").read_text()
    assert "18 samples, 17 with an image, in 4 shards." in text
    assert "## Samples per language" in text and "![language](language.png)" in text
    for name in ("language", "country", "property", "question_type", "images_per_country"):
        with Image.open(out / f"{name}.png") as image:
            assert image.format == "PNG" and image.width > 300
    assert not list(out.glob(".*tmp*"))


def test_save_png_writes_a_decodable_png_and_closes_the_figure(tmp_path):
    """The one PNG writer of the dataset charts and the demo's loss plot."""
    import matplotlib.pyplot as plt

    from data_gen.shards.stats import save_png

    figure, axis = plt.subplots()
    axis.plot([0, 1], [1, 0])
    path = save_png(figure, tmp_path / "plot.png")
    with Image.open(path) as image:
        assert image.format == "PNG" and image.size[0] > 100
    assert not plt.fignum_exists(figure.number) and not list(tmp_path.glob(".*tmp*"))


# ---------------------------------------------------------------- the bias section (issue 17, item 5)


def test_spearman_matches_a_hand_computed_case_with_ties():
    """x ranks 1..5; y = [1, 2, 2, 4, 3] ranks 1, 2.5, 2.5, 5, 4 (average ranks for the tie).
    Rank deviations (-2, -1, 0, 1, 2) and (-2, -.5, -.5, 2, 1): ρ = 8.5 / √(10 · 9.5); p two-sided from
    t = ρ √(3 / (1 - ρ²)) with 3 degrees of freedom, whose CDF has a closed form."""
    from data_gen.shards.bias import spearman

    result = spearman([1272, 3457, 13790, 22990, 44461], [1, 2, 2, 4, 3])
    rho = 8.5 / math.sqrt(10 * 9.5)
    x = rho * math.sqrt(3 / (1 - rho**2)) / math.sqrt(3)
    p = 1 - (2 / math.pi) * (x / (1 + x**2) + math.atan(x))
    assert result["n"] == 5
    assert result["rho"] == pytest.approx(rho, abs=1e-12) and result["p_value"] == pytest.approx(p, abs=1e-9)
    tied_x = spearman([3, 1, 1, 2], [4, 1, 2, 3])  # x ranks 4, 1.5, 1.5, 3: ρ = 4.5 / √(4.5 · 5)
    assert tied_x["rho"] == pytest.approx(4.5 / math.sqrt(4.5 * 5), abs=1e-12)


def test_spearman_is_undefined_below_three_points_or_for_a_constant_side():
    from data_gen.shards.bias import reading, spearman

    two = spearman([1.0, 2.0], [3, 4])
    assert two["rho"] is None and two["n"] == 2 and "at least 3" in two["reason"]
    flat = spearman([1.0, 2.0, 3.0], [0, 0, 0])
    assert flat["rho"] is None and "undefined" in flat["reason"]
    assert reading(flat, "images").startswith("ρ for images: not computed (one side is the same")
    line = reading({"rho": 0.62, "p_value": 0.006, "n": 18}, "samples")
    assert line == "ρ = 0.62 (n = 18, p = 0.006): richer countries get more samples"
    assert reading({"rho": -0.7, "p_value": 0.01, "n": 9}, "images").endswith("poorer countries get more images")
    assert "no clear link" in reading({"rho": 0.3, "p_value": 0.2, "n": 9}, "images")


def test_sitelink_bands_are_fixed_and_inclusive():
    from data_gen.shards.bias import SITELINK_BANDS, band_of

    assert [band_of(n) for n in (0, 9, 10, 49, 50, 199, 200, 5000)] == [
        "0–9", "0–9", "10–49", "10–49", "50–199", "50–199", "200+", "200+"]  # fmt: skip
    assert SITELINK_BANDS[0][0] == 0 and SITELINK_BANDS[-1][1] is None


SMALL_RUN = ("FR", "GR", "EG", "ET", "MX", "BD", "BR")  # BD: samples, no P2132 in the sample; BR: no items at all


@pytest.fixture(scope="module")
def small_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The embedded sample through the real stages (no models) for a few countries."""
    from data_gen.pipeline.run_all import run_all

    out = tmp_path_factory.mktemp("bias") / "out"
    # the broad catalogue: Bangladesh's one sample item has no property of the cultural profile
    run_all(datagen_config(out, *NO_MODELS, f"countries=[{','.join(SMALL_RUN)}]", "entities.properties=broad"))
    return out


def _rank(values: list[float]) -> list[int]:
    order = sorted(values)
    assert len(set(order)) == len(order), "the check below assumes no ties"
    return [order.index(value) + 1 for value in values]


def test_stats_on_a_real_run_reports_samples_and_images_against_gdp(small_run: Path):
    stats = json.loads((small_run / "shards" / "stats" / "stats.json").read_text())
    bias = stats["bias"]
    assert bias["gdp"] == {"property": "P2132", "source": "sample", "unit": "US dollars per person, nominal",
                           "error": None}  # fmt: skip
    assert sorted(bias["countries"]) == sorted(SMALL_RUN)
    assert bias["no_gdp_value"] == ["BD", "BR"]  # counted and listed, not a crash
    assert bias["countries"]["BD"]["samples"] > 0 and bias["countries"]["BD"]["gdp_per_capita"] is None
    assert bias["countries"]["BR"] == {"gdp_per_capita": None, "samples": 0, "images": 0, "entities": 0}
    assert bias["countries"]["FR"]["gdp_per_capita"] == 44461.0  # the sample's P2132 value
    for code, row in bias["countries"].items():
        assert row["samples"] == stats["counts"]["country"].get(code, 0)
        assert row["images"] == stats["counts"]["images_per_country"].get(code, 0)
    with_gdp = [row for row in bias["countries"].values() if row["gdp_per_capita"] is not None]
    assert bias["spearman"]["samples"]["n"] == bias["spearman"]["images"]["n"] == len(with_gdp) == 5
    gdp_ranks = _rank([row["gdp_per_capita"] for row in with_gdp])
    for unit in ("samples", "images"):
        counts = [row[unit] for row in with_gdp]
        if len(set(counts)) == len(counts):  # no ties: ρ = 1 - 6 Σd² / (n (n² - 1))
            d2 = sum((a - b) ** 2 for a, b in zip(gdp_ranks, _rank(counts), strict=True))
            assert bias["spearman"][unit]["rho"] == pytest.approx(1 - 6 * d2 / (5 * 24), abs=1e-12)
        assert 0 <= bias["spearman"][unit]["p_value"] <= 1
    assert sum(row["entities"] for row in bias["classes"]) == sum(row["entities"] for row in bias["sitelink_bands"])
    assert sum(row["entities"] for row in bias["classes"]) == sum(r["entities"] for r in bias["countries"].values())
    assert [row["band"] for row in bias["sitelink_bands"]] == ["0–9", "10–49", "50–199", "200+"]
    assert any(row["label"] == "dish" and row["class"] == "Q746549" for row in bias["classes"])  # named by label
    text = (small_run / "shards" / "stats" / "stats.md").read_text()
    assert "## Bias: samples and images per country against GDP per capita" in text
    assert "| France (FR) | $44,461 |" in text and "| Bangladesh (BD) | no GDP value |" in text
    assert "No GDP value (2, left out of ρ): BD, BR." in text and "(n = 5, p = " in text
    assert "## Entities and images per primary class" in text and "| dish (Q746549) |" in text
    with Image.open(small_run / "shards" / "stats" / "bias_gdp.png") as image:
        assert image.format == "PNG" and image.width > 600


def test_one_shard_folder_of_the_run_gets_its_own_bias_section(small_run: Path):
    from data_gen.shards.stats import run_stats

    folder = small_run / "shards" / "open"
    result = run_stats(datagen_config(small_run, f"shard_dir={folder}"))
    bias = json.loads((folder / "stats" / "stats.json").read_text())["bias"]
    manifest = json.loads((folder / "manifest.json").read_text())
    assert {code: row["samples"] for code, row in bias["countries"].items() if row["samples"]} == manifest["counts"][
        "country"
    ]
    assert (folder / "stats" / "bias_gdp.png").read_bytes()[:4] == b"\x89PNG"
    assert "bias, samples vs GDP: ρ = " in result.summary


def test_without_entity_records_the_bias_section_is_skipped_with_its_reason(tmp_path):
    from data_gen.shards.stats import run_stats

    folder = tmp_path / "downloaded"
    write_shards(make_samples(6), folder, ShardSpec(max_samples=5))
    result = run_stats(datagen_config(tmp_path / "out", f"shard_dir={folder}"))
    bias = json.loads((folder / "stats" / "stats.json").read_text())["bias"]
    assert set(bias) == {"skipped"} and "no entity records in" in bias["skipped"]
    assert "## Bias\n\nSkipped: no entity records in" in (folder / "stats" / "stats.md").read_text()
    assert "bias: skipped (no entity records" in result.summary
    assert not (folder / "stats" / "bias_gdp.png").exists()


def test_a_failed_gdp_query_keeps_the_rest_of_the_section(small_run: Path, tmp_path):
    """source=endpoint without a User-Agent is refused before any request: the reason is stated, ρ is skipped."""
    from data_gen.shards.bias import bias_section

    cfg = datagen_config(small_run, "source=endpoint", "endpoint.url=http://127.0.0.1:9/sparql", "user_agent=null")
    bias = bias_section(cfg, {"FR": 10, "GR": 3}, {("FR", "Q1"): 2})
    assert bias["gdp"]["error"] and bias["no_gdp_value"] == sorted(SMALL_RUN)
    assert bias["spearman"]["samples"]["rho"] is None and bias["spearman"]["samples"]["n"] == 0
    assert bias["countries"]["FR"]["gdp_per_capita"] is None and bias["countries"]["FR"]["samples"] == 10
    assert sum(row["entities"] for row in bias["sitelink_bands"]) > 0
