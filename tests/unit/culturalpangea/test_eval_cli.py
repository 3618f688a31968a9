"""The Hydra entry point: the real config composed and run (generator injected), and its error exits."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

from culturalpangea.config import config_dir, register_resolvers
from culturalpangea.eval.__main__ import run
from tests.helpers.benchmark_fixtures import ScriptedGenerator, write_benchmarks, write_training_shards


def _compose(overrides):
    register_resolvers()
    GlobalHydra.instance().clear()
    out = next(o.split("=", 1)[1] for o in overrides if o.startswith("out_dir="))
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        return compose(config_name="eval", overrides=[*overrides, f"paths.output_dir={out}"])


def test_run_all_benchmarks_from_the_composed_config(tmp_path, capsys):
    data = tmp_path / "data"
    write_benchmarks(data, bad=True)
    train = write_training_shards(tmp_path / "train")
    out = tmp_path / "run"
    cfg = _compose([f"checkpoint={tmp_path}/ckpt", f"data_dir={data}", f"out_dir={out}", "logger=none",
                    f"training_manifest={train}", "batch_size=3", f"paths.root_dir={tmp_path}"])
    generator = ScriptedGenerator()
    assert run(cfg, generator=generator) == 0
    report = json.loads((out / "report.json").read_text())
    assert set(report["benchmarks"]) == {"cvqa", "marvl", "maxm", "m3exam", "xm100", "almbench", "merlin",
                                         "culturalground", "xgqa", "mmmu", "xmmmu"}
    assert report["training_languages"] == ["en", "fr", "hi", "iw", "ja"]
    assert report["benchmarks"]["cvqa"]["by_language"]["sw"]["zero_shot"] is True
    assert {name: s["errors"] for name, s in report["summary"].items()} == {
        "cvqa": 3, "marvl": 2, "maxm": 1, "m3exam": 2, "xm100": 1, "almbench": 2, "merlin": 1, "culturalground": 1,
        "xgqa": 1, "mmmu": 1, "xmmmu": 1}
    assert (out / "report.md").read_text().startswith("## Evaluation")
    assert sorted(p.name for p in (out / "predictions").glob("*.jsonl")) == sorted(
        f"{name}.jsonl" for name in report["benchmarks"])
    assert "cvqa" in capsys.readouterr().out
    # compare_to: a second run (other checkpoint, own folder) against the first report
    cfg2 = _compose([f"checkpoint={tmp_path}/other", f"data_dir={data}", f"out_dir={tmp_path}/run2", "logger=none",
                     "benchmark=[cvqa,maxm]", f"compare_to={out}/report.json", f"paths.root_dir={tmp_path}"])
    assert run(cfg2, generator=ScriptedGenerator()) == 0
    comparison = json.loads((tmp_path / "run2" / "comparison.json").read_text())
    assert set(comparison["benchmarks"]) == {"cvqa", "maxm"}
    assert comparison["benchmarks"]["cvqa"]["macro"]["delta"] == 0.0  # same scripted answers


def test_missing_benchmark_folders(tmp_path, capsys):
    data = tmp_path / "data"
    write_benchmarks(data, benchmarks=["maxm"])
    common = [f"checkpoint={tmp_path}/ckpt", f"data_dir={data}", "logger=none", f"paths.root_dir={tmp_path}"]
    assert run(_compose([*common, f"out_dir={tmp_path}/a"]), generator=ScriptedGenerator()) == 0
    assert "cvqa: skipped, no data" in capsys.readouterr().out
    assert list(json.loads((tmp_path / "a" / "report.json").read_text())["benchmarks"]) == ["maxm"]
    assert run(_compose([*common, f"out_dir={tmp_path}/b", "benchmark=cvqa"]), generator=ScriptedGenerator()) == 2
    assert "benchmark 'cvqa': folder" in capsys.readouterr().err


def _cli(args, tmp_path):
    env = {**os.environ, "WANDB_MODE": "offline", "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "culturalpangea.eval", *args, f"hydra.run.dir={tmp_path}/h"],
                          capture_output=True, text=True, env=env, cwd=Path(__file__).resolve().parents[3],
                          timeout=120, check=False)


def test_cli_errors_are_one_line_and_exit_2(tmp_path):
    missing = _cli(["logger=none"], tmp_path)
    assert missing.returncode == 2 and missing.stderr.strip().splitlines()[-1].startswith("error: checkpoint=<path>")
    unknown = _cli([f"checkpoint={tmp_path}", "benchmark=[cvqa,nope]", "logger=none"], tmp_path)
    assert unknown.returncode == 2 and "unknown benchmark(s) ['nope']" in unknown.stderr


def test_a_wrong_data_dir_fails_before_the_model_loads(tmp_path):
    """The issue's command: `benchmark=all data_dir=<wrong>` used to skip all 8 benchmarks and exit 0."""
    wrong = tmp_path / "not_the_benchmarks"
    wrong.mkdir()
    result = _cli([f"checkpoint={tmp_path}/no_model_here", "benchmark=all", f"data_dir={wrong}", "logger=none",
                   f"out_dir={tmp_path}/out"], tmp_path)
    assert result.returncode == 2, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: no benchmark data found under data_dir={wrong}")
    assert str(wrong / "cvqa") in last and str(wrong / "merlin") in last
    assert not (tmp_path / "out" / "report.json").exists()  # no empty table written


def test_the_demo_ends_with_the_evaluation_step(tmp_path):
    from culturalpangea_demo.steps import STEPS

    last = STEPS[-1]
    assert last.name == "eval"
    command = last.command(tmp_path)
    assert command[1:3] == ["-m", "culturalpangea_demo.evaluation"]
    assert command[3] == str(tmp_path / "train" / "export" / "project")  # the checkpoint the demo trained
    assert command[command.index("--manifest") + 1].endswith("manifest.json")
    (tmp_path / "eval").mkdir()
    (tmp_path / "eval" / "EVAL_TABLE.md").write_text("## Evaluation\n\n| benchmark |\n")
    assert last.done(tmp_path) and last.report(tmp_path).startswith("## Evaluation")


def test_help_lists_the_benchmarks_and_settings_not_trainings_groups(tmp_path):
    from culturalpangea.eval.adapters import ADAPTERS

    result = _cli(["--help"], tmp_path)
    assert result.returncode == 0, result.stderr
    listed = {word for line in result.stdout.splitlines()[2:5] for word in line.split()}
    assert set(ADAPTERS) <= listed
    assert "checkpoint=<path>" in result.stdout and "data_dir=<dir>" in result.stdout
    assert "experiment:" not in result.stdout and "model/llm" not in result.stdout


def test_cvqa_as_published_with_withheld_labels_is_generated_and_written_for_the_leaderboard(tmp_path, capsys):
    """Issue 16: the published CVQA test split has Label = -1 in every row; each row became the error
    "answer key Label=-1 is outside the 4 choices": 0 items, nothing generated, no submission file."""
    import csv

    from datasets import load_from_disk

    from culturalpangea_demo.benchmark_fixtures import CVQA_ROWS, write_cvqa

    write_cvqa(tmp_path / "labelled")
    published = load_from_disk(str(tmp_path / "labelled")).map(lambda row: {"Label": -1})
    data = tmp_path / "data"
    published.save_to_disk(str(data / "cvqa"))
    answers = {0: "B", 1: "C", 2: "no idea"}  # → 1, 2 and, by PangeaBench's parse_multi_choice_response, the "d"

    def rule(prompt: str) -> str:
        index = next(i for i, row in enumerate(CVQA_ROWS) if row[2] in prompt)
        return answers.get(index, "A")

    out = tmp_path / "run"
    cfg = _compose([f"checkpoint={tmp_path}/ckpt", f"data_dir={data}", f"out_dir={out}", "logger=none",
                    "benchmark=cvqa", f"paths.root_dir={tmp_path}"])
    assert run(cfg, generator=ScriptedGenerator(rule)) == 0
    report = json.loads((out / "report.json").read_text())
    overall = report["benchmarks"]["cvqa"]["overall"]
    assert overall["items"] == len(CVQA_ROWS) and overall["errors"] == 0
    assert overall["unlabelled"] == len(CVQA_ROWS) and "accuracy" not in overall  # nothing scored
    # the file PangeaBench's cvqa_test_aggregation_result writes for the leaderboard: "<ID>,<0-3>", no header
    with open(out / "submissions" / "cvqa.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert [row[0] for row in rows] == [f"cvqa_{i:03d}" for i in range(len(CVQA_ROWS))]
    assert [int(row[1]) for row in rows[:4]] == [1, 2, 3, 0]  # "no idea" → its first a–d letter, "d"
    assert "Labels withheld for 6 items" in (out / "report.md").read_text()
    assert "items without published labels" in capsys.readouterr().out


def test_rescore_rebuilds_the_report_from_stored_predictions_without_a_model(tmp_path, capsys):
    """Issue 16 §2: existing predictions scored again (e.g. a run made before PangeaBench's rules existed)."""
    from culturalpangea.eval.rescore import main as rescore_main

    data = tmp_path / "data"
    write_benchmarks(data, benchmarks=["cvqa", "maxm", "marvl"])
    out = tmp_path / "run"
    cfg = _compose([f"checkpoint={tmp_path}/ckpt", f"data_dir={data}", f"out_dir={out}", "logger=none",
                    "benchmark=[cvqa,maxm,marvl]", f"paths.root_dir={tmp_path}"])
    assert run(cfg, generator=ScriptedGenerator()) == 0
    original = json.loads((out / "report.json").read_text())
    stale = dict(original, summary={k: {**v, "pangeabench": None} for k, v in original["summary"].items()})
    (out / "report.json").write_text(json.dumps(stale))  # as a run scored before the PangeaBench column
    (out / "report.md").unlink()
    assert rescore_main([str(out)]) == 0
    again = json.loads((out / "report.json").read_text())
    assert again["summary"] == original["summary"] and list(again["benchmarks"]) == list(original["benchmarks"])
    assert again["checkpoint"] == original["checkpoint"] and (out / "report.md").is_file()
    assert rescore_main([str(tmp_path / "empty")]) == 2
    assert "no predictions in" in capsys.readouterr().err
