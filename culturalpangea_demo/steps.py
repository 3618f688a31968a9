"""The steps `make demo` chains, each the real CLI of one stage, and how each reports.

Steps are listed in pipeline order: the embedded sample's statistics, data_gen `stage=all`, the
tiny models, training, evaluation. Each is a command line a user could type; the report functions
read only what the commands wrote.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

PY = sys.executable


@dataclass
class Step:
    name: str
    command: Callable[[Path], list[str]]
    done: Callable[[Path], bool]
    report: Callable[[Path], str]
    small_args: tuple[str, ...] = ()  # appended for `size=small` (the test suite's run of the demo)


def _tiny_report(out: Path) -> str:
    root = out / "tiny_models"
    llm = json.loads((root / "llm" / "config.json").read_text())
    tokenizer = json.loads((root / "tokenizer" / "tokenizer.json").read_text())
    return "\n".join([
        "## Models (tiny random-weight stand-ins)",
        "| component | what | where |",
        "| --- | --- | --- |",
        f"| LLM | {llm['model_type']}, {llm['num_hidden_layers']} layers, hidden {llm['hidden_size']}, "
        f"vocab {llm['vocab_size']} | `{root / 'llm'}` |",
        f"| tokenizer | byte-level BPE, {len(tokenizer['model']['vocab'])} tokens, ChatML + `<image>` "
        f"| `{root / 'tokenizer'}` |",
        f"| vision | open_clip tiny ViT (patch 14, 56 px, QuickGELU) | `{root / 'vision'}` |",
    ])


def _sample_report(out: Path) -> str:
    stats = json.loads((out / "sample_stats.json").read_text(encoding="utf-8"))
    rows = [f"| {country} | {count} |" for country, count in stats["items_per_country"].items()]
    return "\n".join([
        "## Embedded Wikidata sample",
        f"{stats['items_with_image']} items with an image, {stats['properties']} distinct properties, "
        f"labels in {len(stats['label_languages'])} languages ({', '.join(stats['label_languages'])}).",
        "",
        "| country | items |",
        "| --- | ---: |",
        *rows,
    ])


TINY_MODELS = Step(
    name="tiny_models",
    command=lambda out: [PY, "-m", "tiny_models", str(out / "tiny_models")],
    done=lambda out: (out / "tiny_models" / "llm" / "config.json").exists(),
    report=_tiny_report,
)

SAMPLE_STATS = Step(
    name="sample_stats",
    command=lambda out: [PY, "-m", "data_gen.wikidata.sample_stats", str(out / "sample_stats.json")],
    done=lambda out: (out / "sample_stats.json").exists(),
    report=_sample_report,
)


def _data_report(out: Path) -> str:
    """Dataset statistics of `stage=all` (data_gen/shards/stats.py), charts linked from the report."""
    data = out / "data"
    stats = json.loads((data / "shards" / "stats" / "stats.json").read_text(encoding="utf-8"))
    stages = {name: json.loads((data / name / "manifest.json").read_text(encoding="utf-8"))
              for name in ("qa", "refine", "filter")}  # fmt: skip
    counts = stats["counts"]
    lines = [
        "## Dataset (`python -m data_gen stage=all out_dir=<demo>/data`)",
        f"{stats['total_samples']:,} samples ({counts['question_type'].get('open', 0):,} open-ended, "
        f"{counts['question_type'].get('mcq', 0):,} multiple-choice) in {len(counts['language'])} languages "
        f"and {len(counts['country'])} countries; shards in `{data / 'shards' / 'open'}` and "
        f"`{data / 'shards' / 'mcq'}` (the training sources of `configs/data/demo.yaml`). Images are "
        "deterministic placeholders for the sample's Commons files.",
        "",
        "| stage | records in | records out | outcomes |",
        "| --- | ---: | ---: | --- |",
    ]
    for name, manifest in stages.items():
        reasons = ", ".join(f"{k} {v:,}" for k, v in sorted(manifest.get("reasons", {}).items()))
        lines.append(f"| {name} | {manifest['records_in']:,} | {manifest['records_out']:,} | {reasons} |")
    for name, title in (("language", "Samples per language"), ("country", "Samples per country"),
                        ("question_type", "Samples per question type"), ("property", "Samples per property"),
                        ("images_per_country", "Images per country")):  # fmt: skip
        table = counts.get(name) or {}
        rows = sorted(table.items(), key=lambda item: (-item[1], item[0]))
        shown = rows[:15]
        lines += ["", f"### {title}", "", f"| {name} | count |", "| --- | ---: |"]
        lines += [f"| {key} | {value:,} |" for key, value in shown]
        if len(rows) > len(shown):
            lines.append(f"| … {len(rows) - len(shown)} more | {sum(v for _, v in rows[len(shown):]):,} |")
        lines += ["", f"![{title}](data/shards/stats/{name}.png)"]
    return "\n".join(lines)


DATA = Step(
    name="data",
    command=lambda out: [PY, "-m", "data_gen", "stage=all", f"out_dir={out / 'data'}", "shards.max_samples=500"],
    small_args=("countries=[JP,IN]",),
    done=lambda out: (out / "data" / "shards" / "stats" / "stats.json").exists(),
    report=_data_report,
)


def _train_command(out: Path) -> list[str]:
    return [PY, "-m", "culturalpangea.train", "experiment=demo", f"model.tiny_root={out / 'tiny_models'}",
            f"data.shards_dir={out / 'data' / 'shards'}", f"hydra.run.dir={out / 'train'}",
            "trainer.enable_progress_bar=false"]


def _train_report(out: Path) -> str:
    """Loss curve summary, throughput and the last sample generations of the demo run."""
    run = out / "train"
    with open(run / "csv" / "metrics.csv", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    losses = [(int(r["step"]), float(r["train/loss"])) for r in rows if r.get("train/loss")]
    speed = [float(r["perf/samples_per_s"]) for r in rows if r.get("perf/samples_per_s")]
    every = max(1, len(losses) // 10)
    lines = [
        "## Training (`python -m culturalpangea.train experiment=demo`)",
        f"Tiny VLM on the shards above, CPU, {len(losses)} optimizer steps of global batch 8 (vision frozen, "
        f"connector + LLM trained, warm-up + cosine); loss {losses[0][1]:.3f} → {losses[-1][1]:.3f}; "
        f"{speed[-1] if speed else float('nan'):.1f} samples/s at the end. Run folder `{run}` (resolved config, "
        "run ID, checkpoints, W&B offline run, HF LlavaNext export in `export/hf`).",
        "",
        "| step | train loss |",
        "| ---: | ---: |",
        *[f"| {step} | {loss:.3f} |" for step, loss in losses[::every]],
    ]
    generations = run / "generations.jsonl"
    if generations.exists():
        last = [json.loads(line) for line in generations.read_text(encoding="utf-8").splitlines()][-2:]
        lines += ["", "Sample generations at the last logged step (a tiny model after a few steps):", "",
                  "| question | reference | generation |", "| --- | --- | --- |"]
        lines += [f"| {_cell(g['question'])} | {_cell(g['reference'])} | {_cell(g['generation'])} |" for g in last]
    return "\n".join(lines)


def _cell(text: str, limit: int = 80) -> str:
    flat = " ".join(str(text).split()).replace("|", "\\|")
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


TRAIN = Step(
    name="train",
    command=_train_command,
    small_args=("trainer.max_steps=6", "callbacks.checkpoint.every_n_train_steps=3",
                "callbacks.sample_generations.every_n_steps=3"),
    done=lambda out: (out / "train" / "export" / "hf" / "config.json").exists(),
    report=_train_report,
)


def _eval_command(out: Path) -> list[str]:
    """Evaluate the demo's trained checkpoint; the training manifest marks zero-shot languages."""
    command = [PY, "-m", "culturalpangea_demo.evaluation", str(out / "train" / "export" / "project"), str(out),
               "--manifest", str(out / "data" / "shards" / "open" / "manifest.json")]
    heldout = out / "data" / "shards" / "heldout"
    if (heldout / "manifest.json").exists():
        command += ["--heldout", str(heldout)]
    return command


EVAL = Step(
    name="eval",
    command=_eval_command,
    done=lambda out: (out / "eval" / "EVAL_TABLE.md").exists(),
    report=lambda out: (out / "eval" / "EVAL_TABLE.md").read_text(encoding="utf-8").strip(),
)


STEPS: list[Step] = [SAMPLE_STATS, DATA, TINY_MODELS, TRAIN, EVAL]  # the report ends with the evaluation table
