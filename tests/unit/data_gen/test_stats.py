"""Statistics from a shard manifest: tables, shares and real PNG charts."""

from __future__ import annotations

import json

from PIL import Image

from data_gen.shards.stats import markdown_table, write_stats
from data_gen.shards.writer import ShardSpec, write_shards
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
