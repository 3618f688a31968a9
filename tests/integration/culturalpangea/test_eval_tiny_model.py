"""End to end on the tiny random LlavaNext checkpoint: every benchmark fixture through the real CLI,
a `kill -9` mid-run then a resume that generates only what was missing, the demo table, and
slurm/eval.sh requeued by its pre-emption signal on the loopback SLURM cluster.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from culturalpangea.eval.resume import COMMIT_KEY
from tests.helpers.benchmark_fixtures import write_benchmarks, write_training_shards

REPO = Path(__file__).resolve().parents[3]
BENCHMARKS = ("cvqa", "marvl", "maxm", "m3exam", "xm100", "almbench", "merlin", "culturalground", "xgqa", "mmmu",
              "xmmmu")
ERRORS = {"cvqa": 3, "marvl": 2, "maxm": 1, "m3exam": 2, "xm100": 1, "almbench": 2, "merlin": 1, "culturalground": 1,
          "xgqa": 1, "mmmu": 1, "xmmmu": 1}
RECORDS = {"cvqa": 9, "marvl": 8, "maxm": 9, "m3exam": 6, "xm100": 10, "almbench": 10, "merlin": 6,
           "culturalground": 8, "xgqa": 4, "mmmu": 4, "xmmmu": 7}
RUN_LINE = re.compile(r"\[eval\] (\w+): (\d+) generated, (\d+) resumed, (\d+) errors")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("eval_data")
    write_benchmarks(root / "benchmarks", bad=True)
    write_training_shards(root / "train")
    return root


def _args(checkpoint, data, run_dir, *extra):
    return [sys.executable, "-m", "culturalpangea.eval", "benchmark=all", f"checkpoint={checkpoint}",
            f"data_dir={data / 'benchmarks'}", f"training_manifest={data / 'train'}", f"hydra.run.dir={run_dir}",
            "device=cpu", "max_new_tokens_cap=4", *extra]


def _env():
    return {**os.environ, "WANDB_MODE": "offline", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


def _committed_prefix(path: Path) -> bytes:
    data = path.read_bytes()
    lines = data.splitlines(keepends=True)
    end = 0
    for index, line in enumerate(lines):
        if line.endswith(b"\n") and COMMIT_KEY.encode() in line:
            end = sum(len(x) for x in lines[:index + 1])
    return data[:end]


def _ids(path: Path) -> list[str]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return [row["id"] for row in rows if COMMIT_KEY not in row]


def _kill_after_first_commit(args: list[str], predictions: Path) -> None:
    process = subprocess.Popen(args, cwd=REPO, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline and process.poll() is None:
            files = list(predictions.glob("*.jsonl")) if predictions.exists() else []
            if any(_committed_prefix(f) for f in files):
                break
            time.sleep(0.05)
        assert process.poll() is None, "the run ended before it could be killed"
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait(timeout=60)


def test_all_benchmarks_killed_then_resumed_through_the_cli(tiny_llava_next, data, tmp_path):
    """kill -9 after the first committed batch, rerun: only the missing items are generated."""
    run_dir = tmp_path / "run"
    predictions = run_dir / "predictions"
    _kill_after_first_commit(_args(tiny_llava_next, data, run_dir, "batch_size=2", "logger=none"), predictions)
    before = {f.name: _committed_prefix(f) for f in predictions.glob("*.jsonl")}
    committed = sum(len([line for line in prefix.splitlines() if COMMIT_KEY.encode() not in line])
                    for prefix in before.values())
    assert 0 < committed < sum(RECORDS.values())

    # larger batches on the resumed run (batch size is not part of what must match)
    args = _args(tiny_llava_next, data, run_dir, "batch_size=8", "logger=wandb")
    result = subprocess.run(args, cwd=REPO, env=_env(), capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    runs = {m.group(1): tuple(int(x) for x in m.groups()[1:]) for m in RUN_LINE.finditer(result.stdout)}
    assert sum(resumed for _, resumed, _ in runs.values()) == committed  # nothing committed is redone
    for name in BENCHMARKS:
        path = predictions / f"{name}.jsonl"
        assert path.read_bytes().startswith(before.get(path.name, b""))  # first run's records kept as they were
        ids = _ids(path)
        assert len(ids) == len(set(ids)) == RECORDS[name], name
        generated, resumed, errors = runs[name]
        assert generated + resumed + errors == RECORDS[name]

    report = json.loads((run_dir / "report.json").read_text(encoding="utf-8"))
    assert tuple(report["benchmarks"]) == BENCHMARKS
    assert {name: s["errors"] for name, s in report["summary"].items()} == ERRORS
    cvqa = report["benchmarks"]["cvqa"]
    assert cvqa["by_language"]["sw"]["zero_shot"] is True and cvqa["by_language"]["ja"]["zero_shot"] is False
    assert {e["id"] for e in cvqa["errors"]["listed"]} == {"cvqa_bad_label", "cvqa_bad_image",
                                                            "cvqa_missing_question"}
    assert set(report["benchmarks"]["culturalground"]["by_country"]) >= {"Japan", "India", "Kenya"}
    # a random model's answers are almost never parseable options: they are counted, never guessed
    assert report["summary"]["cvqa"]["unparseable"] >= 1
    markdown = (run_dir / "report.md").read_text(encoding="utf-8")
    assert "✗ (zero-shot)" in markdown and "`cvqa_bad_label`" in markdown
    tables = list(run_dir.glob("wandb/offline-run-*/files/media/table/eval/results_*.table.json"))
    assert len(tables) == 1 and json.loads(tables[0].read_text())["columns"][0] == "benchmark"


def test_demo_evaluation_table(tiny_llava_next, data, tmp_path):
    from culturalpangea_demo.evaluation import evaluation_table

    table = evaluation_table(tiny_llava_next, tmp_path, training_manifest=data / "train", benchmarks=("cvqa",),
                             batch_size=8, max_new_tokens_cap=4)
    assert table.startswith("## Evaluation")
    for name in ("| cvqa |", "| culturalground |", "### culturalground (in-domain)"):
        assert name in table
    assert "✗ (zero-shot)" in table  # Swahili is not in the training manifest


@pytest.mark.slurm
def test_sbatch_eval_requeues_on_its_signal_and_resumes(slurm_cluster, tiny_llava_next, data, tmp_path):
    run_dir = tmp_path / "slurm_run"
    env = {"CULTURALPANGEA_RUN_DIR": str(run_dir), "CULTURALPANGEA_PYTHON": sys.executable,
           "WANDB_MODE": "offline", "HF_HUB_OFFLINE": "1"}
    job = slurm_cluster.submit(
        [f"--output={tmp_path}/job.log", str(REPO / "slurm" / "eval.sh"),
         f"checkpoint={tiny_llava_next}", f"data_dir={data / 'benchmarks'}", "device=cpu", "max_new_tokens_cap=4",
         "benchmark=[cvqa,culturalground]",
         "batch_size=2", "logger=none"], cwd=REPO, env=env)
    predictions = run_dir / "predictions"
    slurm_cluster._wait(lambda: predictions.exists() and any(_committed_prefix(f) for f in predictions.glob("*.jsonl")),
                        240, "evaluation did not commit a batch")
    slurm_cluster.signal(job, "USR1", batch_only=True)
    slurm_cluster.release_requeued(job)
    record = slurm_cluster.wait_for(job, timeout=400)
    log = (tmp_path / "job.log").read_text() + "\n".join(p.read_text() for p in run_dir.glob("task-*.log"))
    assert record["JobState"] == "COMPLETED", (record, log[-3000:])
    assert int(record["Restarts"]) == 1 and "caught pre-emption signal" in log
    resumed = [int(m.group(3)) for m in RUN_LINE.finditer(log)]
    assert sum(resumed) > 0, log[-3000:]  # the requeued run picked up what the first one committed
    report = json.loads((run_dir / "report.json").read_text(encoding="utf-8"))
    assert tuple(report["benchmarks"]) == ("cvqa", "culturalground")
    for name in report["benchmarks"]:
        ids = _ids(predictions / f"{name}.jsonl")
        assert len(ids) == len(set(ids)) == RECORDS[name]


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_bf16_evaluation(tiny_llava_next, data, tmp_path):
    """On the lent GPU: `device=auto` picks CUDA in bf16 and the same fixtures score with the same error
    accounting. CPU twin: test_all_benchmarks_killed_then_resumed_through_the_cli (fp32 on CPU)."""
    from culturalpangea.eval.evaluate import EvalSettings, evaluate
    from culturalpangea.eval.generation import ModelGenerator

    generator = ModelGenerator(str(tiny_llava_next), device="auto", dtype="auto")
    assert generator.device == "cuda" and next(generator.loaded.model.parameters()).dtype == torch.bfloat16
    names = ["cvqa", "maxm", "culturalground"]
    settings = EvalSettings(benchmarks=names, data_dir=data / "benchmarks", out_dir=tmp_path, checkpoint="tiny",
                            batch_size=4, max_new_tokens_cap=6, explicit=True,
                            per_benchmark={"culturalground": {"path": "culturalground_heldout"}})
    report = evaluate(settings, generator)
    assert {name: report["summary"][name]["errors"] for name in names} == {name: ERRORS[name] for name in names}
    assert generator.requests == sum(RECORDS[n] - ERRORS[n] for n in names)
