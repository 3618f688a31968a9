"""`python -m culturalpangea.train`: a real run end to end, a crash and its resume, and a Hydra sweep.

Everything goes through the command line a user types, in a subprocess, on the tiny VLM (real
backward passes through the anyres path), with shards written on the fly.
"""

from __future__ import annotations

import csv
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch
from transformers import LlavaNextForConditionalGeneration

from tests.helpers.train_workspace import REPO, demo_overrides, write_training_shards

TRAIN = [sys.executable, "-m", "culturalpangea.train"]


def _env() -> dict[str, str]:
    return {**os.environ, "WANDB_MODE": "offline", "HYDRA_FULL_ERROR": "1", "PYTHONUNBUFFERED": "1"}


def _train(args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run([*TRAIN, *args], cwd=REPO, env=_env(), capture_output=True, text=True, timeout=600,
                          check=False)


def _metrics(run_dir: Path) -> list[dict[str, str]]:
    with open(run_dir / "csv" / "metrics.csv", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _step_of(checkpoint: Path) -> int:
    return int(torch.load(checkpoint, map_location="cpu", weights_only=False)["global_step"])


def test_a_run_trains_checkpoints_generates_and_exports(tmp_path, tiny_stack):
    shards = write_training_shards(tmp_path / "shards")
    run_dir = tmp_path / "run"
    args = [*demo_overrides(tmp_path, tiny_stack.llm_dir.parent, shards, max_steps=4), f"hydra.run.dir={run_dir}"]
    result = _train(args)
    assert result.returncode == 0, result.stderr[-3000:]
    assert _step_of(run_dir / "checkpoints" / "last.ckpt") == 4
    output = result.stdout + result.stderr
    for noise in ("litlogger", "`srun` command", "past_key_values", "in eval mode at the start", "LeafSpec"):
        assert noise not in output, noise  # issue 19 §7: messages a user cannot act on
    assert sorted(p.name for p in (run_dir / "checkpoints").glob("step*.ckpt")) == ["step0000002.ckpt",
                                                                                    "step0000004.ckpt"]
    assert (run_dir / "run_id.txt").read_text().startswith("demo-")
    assert "lr: 0.001" in (run_dir / "config.yaml").read_text()
    rows = [json.loads(line) for line in (run_dir / "generations.jsonl").read_text().splitlines()]
    assert [row["step"] for row in rows] == [2, 2, 4, 4] and all(isinstance(r["generation"], str) for r in rows)
    losses = [float(r["train/loss"]) for r in _metrics(run_dir) if r.get("train/loss")]
    assert len(losses) == 4 and all(math.isfinite(loss) for loss in losses)
    hf = LlavaNextForConditionalGeneration.from_pretrained(run_dir / "export" / "hf")
    assert hf.config.image_token_id == tiny_stack_image_token(tiny_stack)
    assert (run_dir / "export" / "project" / "config.json").exists()
    _convert_what_a_user_has(run_dir, tmp_path)


def _hf_weights(folder: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return {name: tensor for path in sorted(folder.glob("*.safetensors")) for name, tensor in load_file(path).items()}


def _convert_what_a_user_has(run_dir: Path, tmp_path: Path) -> None:
    """Issue 19 §3: `convert --to-hf` on the run folder and on its `last.ckpt` (was: "not a project checkpoint").

    The run ended at step 4 with `last.ckpt` at step 4, so all three ways give the weights of `export/hf`."""
    convert = [sys.executable, "-m", "culturalpangea.convert", "--to-hf"]
    expected = _hf_weights(run_dir / "export" / "hf")
    for name, source in (("from_run", run_dir), ("from_ckpt", run_dir / "checkpoints" / "last.ckpt")):
        out = tmp_path / name
        result = subprocess.run([*convert, str(source), "--out", str(out)], cwd=REPO, env=_env(),
                                capture_output=True, text=True, timeout=300, check=False)
        assert result.returncode == 0, result.stderr[-3000:]
        assert f"wrote {out}" in result.stdout
        converted = _hf_weights(out)
        assert converted.keys() == expected.keys()
        assert all(torch.equal(converted[key], expected[key]) for key in expected), name
        assert LlavaNextForConditionalGeneration.from_pretrained(out).config.image_token_id == \
            LlavaNextForConditionalGeneration.from_pretrained(run_dir / "export" / "hf").config.image_token_id
    assert not list(tmp_path.glob(".from_ckpt*"))  # the staging project checkpoint is removed
    stray = tmp_path / "stray.ckpt"
    stray.write_bytes(b"")
    refused = subprocess.run([*convert, str(stray), "--out", str(tmp_path / "x")], cwd=REPO, env=_env(),
                             capture_output=True, text=True, timeout=300, check=False)
    assert refused.returncode == 2 and "no config.yaml beside it" in refused.stderr.strip().splitlines()[-1]
    (tmp_path / "empty").mkdir()
    refused = subprocess.run([*convert, str(tmp_path / "empty"), "--out", str(tmp_path / "y")], cwd=REPO,
                             env=_env(), capture_output=True, text=True, timeout=300, check=False)
    last = refused.stderr.strip().splitlines()[-1]
    assert refused.returncode == 2 and "a training run folder" in last and "last.ckpt" in last


def tiny_stack_image_token(stack) -> int:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(stack.tokenizer_dir).convert_tokens_to_ids("<image>")


def test_killed_run_resumes_at_its_checkpoint_with_the_same_schedule(tmp_path, tiny_stack):
    shards = write_training_shards(tmp_path / "shards")
    run_dir = tmp_path / "run"
    max_steps = 16  # = one epoch of the 64 samples at global batch 4 (max_epochs=1)
    args = [*demo_overrides(tmp_path, tiny_stack.llm_dir.parent, shards, max_steps=max_steps), "ckpt_path=last",
            f"hydra.run.dir={run_dir}", "callbacks.sample_generations=null", "export_hf=false"]
    process = subprocess.Popen([*TRAIN, *args], cwd=REPO, env=_env(), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not (run_dir / "checkpoints" / "step0000004.ckpt").exists() and time.monotonic() < deadline:
        assert process.poll() is None, "training ended before it could be killed"
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    killed_at = _step_of(run_dir / "checkpoints" / "last.ckpt")
    assert 2 <= killed_at < max_steps
    logged_before = {int(r["step"]) for r in _metrics(run_dir) if r.get("train/loss")}
    assert logged_before  # the killed attempt logged steps (some after its last checkpoint)
    result = _train(args)
    assert result.returncode == 0, result.stderr[-3000:]
    assert _step_of(run_dir / "checkpoints" / "last.ckpt") == max_steps
    assert not list(run_dir.rglob(".*.tmp"))  # a checkpoint half-written at the kill is cleaned up
    # Issue 19 §2: the CSV history survives the resume, each step once (was: only the steps after it)
    loss_steps = [int(r["step"]) for r in _metrics(run_dir) if r.get("train/loss")]
    assert loss_steps == list(range(max_steps))
    output = result.stdout + result.stderr
    assert "dataloader is not resumable" not in output and "Previous log files" not in output
    assert "data position restored from the checkpoint" in (run_dir / "train.log").read_text()
    log = (run_dir / "train.log").read_text()
    assert "resuming from" in log and "last.ckpt" in log
    # The learning rate after the resume follows the uninterrupted warm-up + cosine schedule.
    warmup = math.ceil(0.1 * max_steps)
    rows = [(int(r["step"]), float(r["train/lr"])) for r in _metrics(run_dir) if r.get("train/lr")]
    for step, lr in rows:
        expected = (step + 1) / warmup if step < warmup else 0.5 * (1 + math.cos(math.pi * (step - warmup)
                                                                                  / (max_steps - warmup)))
        assert math.isclose(lr, 1e-3 * expected, rel_tol=1e-5), (step, lr)
    assert max(step for step, _ in rows) == max_steps - 1


def test_multirun_sweep_runs_one_job_per_learning_rate(tmp_path, tiny_stack):
    """The README's sweep, with the default sweep folder (no `hydra.sweep.dir` override: issue 19 §1)."""
    shards = write_training_shards(tmp_path / "shards")
    args = ["-m", *demo_overrides(tmp_path, tiny_stack.llm_dir.parent, shards, max_steps=2),
            "optim.lr=1e-4,1e-5", "callbacks.sample_generations=null", "export_hf=false"]
    result = _train(args)
    assert result.returncode == 0, result.stderr[-3000:]
    [sweep_dir] = list((tmp_path / "outputs" / "demo" / "multiruns").iterdir())  # paths.log_dir/<task>/multiruns
    jobs = sorted(p for p in sweep_dir.iterdir() if p.is_dir() and p.name.isdigit())
    assert [p.name for p in jobs] == ["0", "1"]
    lrs = sorted(float(next(r["train/lr"] for r in _metrics(job) if r.get("train/lr")) ) for job in jobs)
    assert lrs[0] < lrs[1]
    run_ids = {(job / "run_id.txt").read_text() for job in jobs}
    assert len(run_ids) == 2  # the learning rate is part of the recipe, so each job has its own ID
    assert all(_step_of(job / "checkpoints" / "last.ckpt") == 2 for job in jobs)


def test_sigterm_writes_a_checkpoint_at_the_next_step_and_exits_non_zero(tmp_path, tiny_stack):
    """Issue 15 §6: before, SIGTERM ended the run with exit 0 and the steps since the last periodic
    checkpoint were lost; a scheduler saw success."""
    shards = write_training_shards(tmp_path / "shards")
    run_dir = tmp_path / "run"
    max_steps = 16
    args = [*demo_overrides(tmp_path, tiny_stack.llm_dir.parent, shards, max_steps=max_steps, every=100),
            "ckpt_path=last", f"hydra.run.dir={run_dir}", "callbacks.sample_generations=null", "export_hf=false"]
    process = subprocess.Popen([*TRAIN, *args], cwd=REPO, env=_env(), stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and not any(
            r.get("train/loss") for r in (_metrics(run_dir) if (run_dir / "csv" / "metrics.csv").exists() else [])):
        assert process.poll() is None, "training ended before the signal"
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == 128 + signal.SIGTERM, stderr[-3000:]
    stopped_at = _step_of(run_dir / "checkpoints" / "last.ckpt")  # no periodic checkpoint (every 100 steps)
    assert 1 <= stopped_at < max_steps
    assert "pre-emption signal (SIGTERM)" in (run_dir / "train.log").read_text()
    result = _train(args)
    assert result.returncode == 0, result.stderr[-3000:]
    assert _step_of(run_dir / "checkpoints" / "last.ckpt") == max_steps


def test_the_last_step_is_saved_when_it_is_not_a_multiple_of_the_interval(tmp_path, tiny_stack):
    shards = write_training_shards(tmp_path / "shards")
    run_dir = tmp_path / "run"
    args = [*demo_overrides(tmp_path, tiny_stack.llm_dir.parent, shards, max_steps=5, every=2),
            f"hydra.run.dir={run_dir}", "callbacks.sample_generations=null", "export_hf=false"]
    result = _train(args)
    assert result.returncode == 0, result.stderr[-3000:]
    assert _step_of(run_dir / "checkpoints" / "last.ckpt") == 5  # was 4: the periodic checkpoint's step


def test_resume_refuses_other_data_or_settings_and_applies_a_longer_run(tmp_path, tiny_stack):
    """Issue 15 §3: other shards, another lr or micro batch used to resume silently (the lr ignored)."""
    shards = write_training_shards(tmp_path / "shards")
    run_dir = tmp_path / "run"
    base = [*demo_overrides(tmp_path, tiny_stack.llm_dir.parent, shards, max_steps=4), "ckpt_path=last",
            f"hydra.run.dir={run_dir}", "callbacks.sample_generations=null", "export_hf=false"]
    assert _train(base).returncode == 0
    run_id = (run_dir / "run_id.txt").read_text()
    for override, named in (("optim.lr=0.05", "optim.lr (0.001 → 0.05)"),
                            ("micro_batch_size=1", "micro_batch_size (2 → 1)")):
        refused = _train([*base, override])
        assert refused.returncode == 2, refused.stderr[-2000:]
        last_line = refused.stderr.strip().splitlines()[-1]
        assert last_line.startswith("error: cannot resume from") and named in last_line
    other = write_training_shards(tmp_path / "other", count=48)
    moved = [arg.replace(str(shards), str(other)) for arg in base]
    refused = _train(moved)
    assert refused.returncode == 2 and "data.sources.cg.manifest_sha256" in refused.stderr
    longer = _train([*base, "trainer.max_steps=6"])
    assert longer.returncode == 0, longer.stderr[-3000:]
    assert _step_of(run_dir / "checkpoints" / "last.ckpt") == 6
    assert "trainer.max_steps: 4 → 6" in (run_dir / "train.log").read_text()
    assert [int(r["step"]) for r in _metrics(run_dir) if r.get("train/loss")] == list(range(6))
    assert (run_dir / "run_id.txt").read_text() == run_id  # the same run, extended: same ID, same W&B run
