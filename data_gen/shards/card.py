"""The dataset card beside the shards, `shards/README.md`: one HF `datasets` call loads every folder, whole.

    from datasets import load_dataset
    data = load_dataset("out/shards")                  # DatasetDict with splits open, mcq, heldout
    mcq = load_dataset("out/shards", "mcq")["mcq"]     # one folder only (its own config: reads no other tar)

**Why.** HF's WebDataset loader (datasets/packaged_modules/webdataset) guesses the columns of every row
from the first five samples of one tar. Loading `open/` and `mcq/` together then silently drops
`choices` from all MCQ rows when the guess came from an open tar, and a field that is null in those
five samples (`provenance.filter_score` before the filter scored anything) becomes a null-typed column
that fails on the first number. With declared features nothing is guessed: a field absent from a
sample loads as null, and each folder's rows are counted against its manifest.

**What the card declares** (its YAML front matter, the format HF reads from a dataset repository's
README, also from a local folder, offline):

- `configs`: `all` (the default) with one split per shard folder, and a config per folder
  (`open`, `mcq`, `heldout`) whose one split has the folder's name, so a single folder loads without
  reading the others. `data_files` are the folders' `<folder>/<folder>-*.tar` globs.
- `dataset_info`: per config, the features, from `shard_contract.schema` (the one place that types
  every field; `jpg` is an Image, `json` a struct of every declared field, `choices` a list of strings
  that is null in open-ended and grouped samples, `qa` the grouped form's pairs, null otherwise), and
  each split's `num_examples` from the folder's manifest: HF's own split check (the default
  `verification_mode`) then refuses a load that yields a different number of rows. HF also demands
  `num_bytes` there; it gets the folder's tar bytes (informational: only the row count is checked).
- Only folders that hold shards: a folder with no tar (no held-out entity in a tiny run) would give
  HF a `data_files` pattern that matches nothing, which it refuses.

The features live in the card rather than a `features.json` of their own because the card is the
file `load_dataset(<folder>)` honours by itself; `shard_contract.schema` stays the single source and
the shards stage refuses a sample with a field the schema does not declare (it would be dropped).
The card is a pure function of the folders' names, sample counts and sizes, written atomically before the
stage's done marker, so a re-run writes it byte-identical.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from shard_contract.atomic import atomic_write_text
from shard_contract.schema import hf_features

CARD_NAME = "README.md"
DEFAULT_CONFIG = "all"


class _NoAliases(yaml.SafeDumper):
    """Spell every config's features out (no `&id001` anchors): the card is read by people too."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def data_files_glob(folder: str) -> str:
    """The shards of one folder, as the writer names them (`mcq/mcq-000000.tar`, …)."""
    return f"{folder}/{folder}-*.tar"


def card_metadata(folders_sizes: Mapping[str, Mapping[str, int]]) -> dict[str, Any]:
    """The card's YAML front matter for `{folder: {"samples", "bytes"}}` (in the order given; empty ones left out)."""
    folders = [folder for folder, size in folders_sizes.items() if size["samples"] > 0]
    groups = {DEFAULT_CONFIG: folders, **{folder: [folder] for folder in folders}} if folders else {}
    configs, infos = [], []
    for name, members in groups.items():
        config: dict[str, Any] = {"config_name": name}
        if name == DEFAULT_CONFIG:
            config["default"] = True
        config["data_files"] = [{"split": folder, "path": data_files_glob(folder)} for folder in members]
        configs.append(config)
        infos.append(
            {
                "config_name": name,
                "features": hf_features(),
                "splits": [
                    {
                        "name": folder,
                        "num_bytes": folders_sizes[folder]["bytes"],
                        "num_examples": folders_sizes[folder]["samples"],
                    }
                    for folder in members
                ],
            }
        )
    return {"pretty_name": "CulturalGround shards (data_gen)", "configs": configs, "dataset_info": infos}


BODY = """
# CulturalGround shards

WebDataset tars written by `python -m data_gen stage=shards` (data_gen/shards/stage.py): one folder per
split, each with `manifest.json` (counts) and `sizes.json`. One sample is `<key>.jpg` + `<key>.json`
(LLaVA conversation format, shard_contract/sample.py).

Load every folder in one call (Hugging Face `datasets`; works offline on a local folder):

```python
from datasets import load_dataset

data = load_dataset("path/to/shards")               # splits: {splits}
one = load_dataset("path/to/shards", "{first}")["{first}"]  # one folder, without reading the others
```

The YAML above declares the columns, so none is inferred from the first samples: `jpg` (image),
`json` (every field of the sample; `choices` is null in open-ended samples; grouped samples keep
their pairs in `qa`, with `answer` and `choices` null at the top), `__key__` and `__url__`.
The schema comes from `shard_contract/schema.py`; this card is written by `data_gen/shards/card.py`
and rewritten on every run of the stage.
"""


def card_text(folders_sizes: Mapping[str, Mapping[str, int]]) -> str:
    """The whole `README.md`: YAML front matter between `---` lines, then a short human description."""
    metadata = card_metadata(folders_sizes)
    front = yaml.dump(metadata, Dumper=_NoAliases, sort_keys=False, allow_unicode=True, default_flow_style=False)
    splits = [config["split"] for config in metadata["configs"][0]["data_files"]] if metadata["configs"] else []
    example = "mcq" if "mcq" in splits or not splits else splits[0]
    body = BODY.replace("{splits}", ", ".join(splits) or "none").replace("{first}", example)
    return f"---\n{front}---\n{body}"


def write_card(shards_dir: Path, folders_sizes: Mapping[str, Mapping[str, int]]) -> Path:
    """Write `<shards_dir>/README.md` atomically for `{folder: {"samples", "bytes"}}`; return its path."""
    path = Path(shards_dir) / CARD_NAME
    atomic_write_text(path, card_text(folders_sizes))
    return path
