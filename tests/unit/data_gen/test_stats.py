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
    assert lines[2] == "| en | 5 | 50.0% |" and lines[3] == "| ja | 3 | 30.0% |"
    assert lines[4] == "| … 2 more | 2 | 20.0% |"


def test_write_stats_produces_json_markdown_and_pngs(tmp_path):
    write_shards(make_samples(18), tmp_path, ShardSpec(max_samples=5))
    out = write_stats(tmp_path, images_per_country={"Japan": 17})
    stats = json.loads((out / "stats.json").read_text())
    assert stats["total_samples"] == 18 and stats["shards"] == 4
    assert stats["counts"]["language"]["en"] == 3
    assert stats["counts"]["images_per_country"] == {"Japan": 17}
    text = (out / "stats.md").read_text()
    assert "18 samples, 17 with an image, in 4 shards." in text
    assert "## Samples per language" in text and "![language](language.png)" in text
    for name in ("language", "country", "property", "question_type", "images_per_country"):
        with Image.open(out / f"{name}.png") as image:
            assert image.format == "PNG" and image.width > 300
    assert not list(out.glob(".*tmp*"))
