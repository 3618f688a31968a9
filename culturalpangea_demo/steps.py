"""The steps `make demo` chains, each the real CLI of one stage, and how each reports.

Steps are listed in pipeline order: the embedded sample's statistics, data_gen `stage=all`, the
tiny models, training, evaluation. Each is a command line a user could type; the report and
summary functions read only what the commands wrote. Languages and countries are named the one
way every report names them (`Hebrew (iw)`, `Japan (JP)`: shard_contract.names).

The data step runs refinement and filtering with the tiny random models on a stated share of the
records (`MODEL_STAGE_SHARE`, chosen by record-ID hash): both model stages run for real, batched,
on every kind of record, but the demo does not spend most of its time on a random model's
replies, which the guards reject anyway. The rest pass through as templates / unscored
(`not_sampled`), counted in the report.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from shard_contract.names import country_label, language_label

PY = sys.executable
MODEL_STAGE_SHARE = 0.05  # refine.sample_fraction and filter.sample_fraction of the demo's data step


@dataclass
class Step:
    name: str
    command: Callable[[Path], list[str]]
    done: Callable[[Path], bool]
    report: Callable[[Path], str]
    summary: Callable[[Path], str] = lambda out: "done"  # one console line when the step ends
    small_args: tuple[str, ...] = ()  # appended for `size=small` (the test suite's run of the demo)
    terminal_args: tuple[str, ...] = ()  # appended when the console is a terminal (progress bars)


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


def _country(key: str, outside: dict[str, str]) -> str:
    return f"{outside[key]} ({key}, not in the country registry)" if key in outside else country_label(key)


def _sample_report(out: Path) -> str:
    stats = json.loads((out / "sample_stats.json").read_text(encoding="utf-8"))
    outside = stats.get("outside_registry", {})
    per_country = sorted(stats["items_per_country"].items(), key=lambda item: (-item[1], item[0]))
    mapped: dict[str, list[str]] = {}
    for tag, code in stats.get("dataset_languages", {}).items():
        mapped.setdefault(code or tag, []).append(tag)
    languages = [language_label(code) + ("" if tags == [code] else f" from Wikidata {', '.join(tags)}")
                 for code, tags in sorted(mapped.items())]
    return "\n".join([
        "## Embedded Wikidata sample",
        f"{stats['items_with_image']} items with an image in {len(per_country)} countries (linked by P17, P495, "
        f"P27 or P2596), {stats['properties']} distinct properties, labels in {len(languages)} of the dataset's "
        f"languages: {', '.join(languages)}.",
        "",
        "| country | items |",
        "| --- | ---: |",
        *[f"| {_country(key, outside)} | {count} |" for key, count in per_country],
    ])


def _sample_summary(out: Path) -> str:
    stats = json.loads((out / "sample_stats.json").read_text(encoding="utf-8"))
    return f"{stats['items_with_image']} items with an image in {len(stats['items_per_country'])} countries"


TINY_MODELS = Step(
    name="tiny_models",
    command=lambda out: [PY, "-m", "tiny_models", str(out / "tiny_models")],
    done=lambda out: (out / "tiny_models" / "llm" / "config.json").exists(),
    report=_tiny_report,
    summary=lambda out: f"LLM, tokenizer and vision tower written to {out / 'tiny_models'}",
)

SAMPLE_STATS = Step(
    name="sample_stats",
    command=lambda out: [PY, "-m", "data_gen.wikidata.sample_stats", str(out / "sample_stats.json")],
    done=lambda out: (out / "sample_stats.json").exists(),
    report=_sample_report,
    summary=_sample_summary,
)


def _model_stage_line(name: str, manifest: dict) -> str:
    reasons = manifest.get("reasons", {})
    skipped = reasons.get("not_sampled", 0)
    sent = manifest["records_in"] - skipped
    what = "sent to the tiny LLM for a rewrite" if name == "refine" else "scored by the tiny VLM"
    rest = "kept their template question" if name == "refine" else "kept unscored"
    share = 100 * sent / max(1, manifest["records_in"])
    return (f"- **{name}**: {sent:,} of {manifest['records_in']:,} records ({share:.0f} %, "
            f"chosen by record-ID hash, `{name}.sample_fraction={MODEL_STAGE_SHARE}`) {what}; the other "
            f"{skipped:,} {rest} (`not_sampled`).")


def _data_report(out: Path) -> str:
    """Dataset statistics of `stage=all` (data_gen/shards/stats.py), charts linked from the report."""
    from data_gen.shards.stats import TITLES, display_key, unit_of

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
        "The two model stages run on a stated share of the records, so that the demo's time goes to the whole "
        "path rather than to a random model's replies (a real run sends every record):",
        _model_stage_line("refine", stages["refine"]),
        _model_stage_line("filter", stages["filter"]),
        "",
        "| stage | records in | records out | outcomes |",
        "| --- | ---: | ---: | --- |",
    ]
    for name, manifest in stages.items():
        reasons = ", ".join(f"{k} {v:,}" for k, v in sorted(manifest.get("reasons", {}).items()))
        lines.append(f"| {name} | {manifest['records_in']:,} | {manifest['records_out']:,} | {reasons} |")
    for name in ("language", "country", "question_type", "property", "images_per_country"):
        table = counts.get(name) or {}
        rows = sorted(table.items(), key=lambda item: (-item[1], item[0]))
        shown = rows[:15]
        lines += ["", f"### {TITLES[name]}", "", f"| {name.replace('_', ' ')} | {unit_of(name)} |", "| --- | ---: |"]
        lines += [f"| {display_key(name, key)} | {value:,} |" for key, value in shown]
        if len(rows) > len(shown):
            lines.append(f"| … {len(rows) - len(shown)} more | {sum(v for _, v in rows[len(shown):]):,} |")
        lines += ["", f"![{TITLES[name]}](data/shards/stats/{name}.png)"]
    return "\n".join(lines)


def _data_summary(out: Path) -> str:
    stats = json.loads((out / "data" / "shards" / "stats" / "stats.json").read_text(encoding="utf-8"))
    counts = stats["counts"]
    return (f"{stats['total_samples']:,} samples in {len(counts['language'])} languages and "
            f"{len(counts['country'])} countries")


DATA = Step(
    name="data",
    command=lambda out: [PY, "-m", "data_gen", "stage=all", f"out_dir={out / 'data'}", "shards.max_samples=500",
                         f"refine.sample_fraction={MODEL_STAGE_SHARE}", f"filter.sample_fraction={MODEL_STAGE_SHARE}"],
    small_args=("countries=[JP,IN]",),
    terminal_args=("progress=true",),
    done=lambda out: (out / "data" / "shards" / "stats" / "stats.json").exists(),
    report=_data_report,
    summary=_data_summary,
)


def _train_command(out: Path) -> list[str]:
    return [PY, "-m", "culturalpangea.train", "experiment=demo", f"model.tiny_root={out / 'tiny_models'}",
            f"data.shards_dir={out / 'data' / 'shards'}", f"hydra.run.dir={out / 'train'}",
            "trainer.enable_progress_bar=false"]


def _losses(run: Path) -> tuple[list[tuple[int, float]], list[float]]:
    with open(run / "csv" / "metrics.csv", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    losses = [(int(r["step"]), float(r["train/loss"])) for r in rows if r.get("train/loss")]
    speed = [float(r["perf/samples_per_s"]) for r in rows if r.get("perf/samples_per_s")]
    return losses, speed


def loss_plot(losses: list[tuple[int, float]], path: Path) -> Path:
    """The training loss per optimizer step as a PNG (matplotlib, Agg), written as the dataset charts are."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from data_gen.shards.stats import save_png

    figure, axis = plt.subplots(figsize=(6, 3.2))
    axis.plot([step for step, _ in losses], [loss for _, loss in losses], marker="o", markersize=3, color="#3b7dd8")
    axis.set_title("Training loss (experiment=demo)")
    axis.set_xlabel("optimizer step")
    axis.set_ylabel("train/loss")
    axis.grid(alpha=0.3)
    return save_png(figure, path)


def _train_report(out: Path) -> str:
    """Loss curve (plot and table), throughput and the last sample generations of the demo run."""
    run = out / "train"
    losses, speed = _losses(run)
    loss_plot(losses, out / "train_loss.png")
    every = max(1, len(losses) // 10)
    lines = [
        "## Training (`python -m culturalpangea.train experiment=demo`)",
        f"Tiny VLM on the shards above, CPU, {len(losses)} optimizer steps of global batch 8 (vision frozen, "
        f"connector + LLM trained, warm-up + cosine); loss {losses[0][1]:.3f} → {losses[-1][1]:.3f}; "
        f"{speed[-1] if speed else float('nan'):.1f} samples/s at the end. Run folder `{run}` (resolved config, "
        "run ID, checkpoints, CSV metrics, W&B offline run, HF LlavaNext export in `export/hf`).",
        "",
        "![Training loss](train_loss.png)",
        "",
        "| step | train loss |",
        "| ---: | ---: |",
        *[f"| {step} | {loss:.3f} |" for step, loss in losses[::every]],
    ]
    generations = run / "generations.jsonl"
    if generations.exists():
        last = [json.loads(line) for line in generations.read_text(encoding="utf-8").splitlines()][-2:]
        empty = sum(1 for g in last if not str(g["generation"]).strip())
        lines += ["", "Sample generations at the last logged step (a tiny random-weight model after a few steps):",
                  "", "| question | reference | generation |", "| --- | --- | --- |"]
        lines += [f"| {_cell(g['question'])} | {_cell(g['reference'])} | {_cell(g['generation']) or '*(empty)*'} |"
                  for g in last]
        if empty:
            lines += ["", f"{empty} of {len(last)} generations are empty: the tiny model's first new token was the "
                      "end-of-turn marker, which it has learned ends every answer, so nothing is left once special "
                      "tokens are removed. A real model (or a longer run) answers; the table shows that the path from "
                      "the checkpoint to a decoded answer runs."]
    return "\n".join(lines)


def _train_summary(out: Path) -> str:
    losses, _ = _losses(out / "train")
    return f"{len(losses)} optimizer steps, loss {losses[0][1]:.3f} → {losses[-1][1]:.3f}, exported to export/hf"


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
    summary=_train_summary,
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
    summary=lambda out: f"table in {out / 'eval' / 'EVAL_TABLE.md'}",
)


STEPS: list[Step] = [SAMPLE_STATS, DATA, TINY_MODELS, TRAIN, EVAL]  # the report ends with the evaluation table
