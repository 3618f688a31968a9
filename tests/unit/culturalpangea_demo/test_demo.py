"""`make demo`'s driver: real steps as subprocesses, a report, reuse on a second run, clear failures."""

from __future__ import annotations

import pytest

from culturalpangea_demo import run as demo
from culturalpangea_demo.steps import Step


def test_demo_runs_its_steps_and_writes_the_report(tmp_path):
    assert demo.main([f"out_dir={tmp_path}", "size=small"]) == 0
    report = (tmp_path / "REPORT.md").read_text()
    assert "# CulturalPangea demo report" in report
    assert "qwen2, 2 layers, hidden 64" in report
    sections = [line for line in report.splitlines() if line.startswith("## ")]
    names = " | ".join(sections)
    for expected in ("Embedded Wikidata sample", "Dataset", "Training", "Step timings"):
        assert expected in names, names
    assert "Evaluation" in names or "evaluation" in names.lower(), names
    assert (tmp_path / "train" / "export" / "hf" / "config.json").exists()
    assert "6 optimizer steps" in report
    assert (tmp_path / "logs" / "tiny_models.log").exists()
    assert (tmp_path / "tiny_models" / "llm" / "model.safetensors").exists()
    first = (tmp_path / "tiny_models" / "llm" / "model.safetensors").stat().st_mtime_ns
    assert demo.main([f"out_dir={tmp_path}", "size=small"]) == 0  # every step already complete: reused
    assert (tmp_path / "tiny_models" / "llm" / "model.safetensors").stat().st_mtime_ns == first


def test_a_failing_step_stops_the_demo_with_its_log_tail(tmp_path, monkeypatch):
    failing = Step(
        name="broken",
        command=lambda out: ["python3", "-c", "import sys; print('boom happened'); sys.exit(3)"],
        done=lambda out: False,
        report=lambda out: "",
    )
    monkeypatch.setattr(demo, "STEPS", [failing])
    with pytest.raises(SystemExit, match=r"(?s)'broken' failed \(exit 3\).*boom happened"):
        demo.main([f"out_dir={tmp_path}"])
    assert not (tmp_path / "REPORT.md").exists()


def test_unknown_arguments_are_refused():
    with pytest.raises(SystemExit, match="unknown argument"):
        demo.main(["outdir=x"])
