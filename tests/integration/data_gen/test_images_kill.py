"""`kill -9` in the middle of `python -m data_gen stage=images`, twice, then a re-run: same files as
an uninterrupted run, no temp files, no journal left."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.helpers.datagen_cli import AGENT, ROOT, cli_env, run_cli
from tests.helpers.image_server import Fault, FaultyImageServer
from tests.integration.data_gen.test_images import make_entities, name


def images_overrides(server: FaultyImageServer, out_dir: Path) -> list[str]:
    return [
        "stage=images", f"out_dir={out_dir}", "countries=FR", "progress=false", AGENT,
        "images.origin=commons", f"images.commons.file_path_url={server.file_path_url}",
        f"images.commons.api_url={server.api_url}", "images.commons.allowed_hosts=[127.0.0.1]",
        "images.commons.allow_http=true", "images.backoff_base_s=0.01",
    ]


def kill_after_journal_lines(overrides: list[str], journal: Path, lines: int, timeout: float = 60) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "data_gen", *overrides], cwd=ROOT, env=cli_env(),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and process.poll() is None:
            if journal.exists() and journal.read_bytes().count(b"\n") >= lines:
                break
            time.sleep(0.005)
        assert process.poll() is None, "the run ended before it could be killed mid-way"
        process.send_signal(signal.SIGKILL)
        assert process.wait(timeout=10) == -signal.SIGKILL
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def snapshot(out_dir: Path) -> dict[str, bytes]:
    """Every file under images/ except the manifest (its `run` block differs by design)."""
    folder = out_dir / "images"
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name != "manifest.json"}


def test_kill_9_mid_run_then_rerun_equals_an_uninterrupted_run(tmp_path):
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    make_entities(whole, 40)
    shutil.copytree(whole / "entities", killed / "entities")
    with FaultyImageServer(delay_s=0.04) as server:
        server.set_fault(name(3), Fault("not_found"))
        server.set_fault(name(11), Fault("corrupt"))
        server.set_fault(name(17), Fault("twin", twin_of=name(29)))
        done = run_cli(*images_overrides(server, whole))
        assert done.returncode == 0, done.stderr
        journal = killed / "images" / ".FR.journal.jsonl"
        kill_after_journal_lines(images_overrides(server, killed), journal, lines=6)
        kill_after_journal_lines(images_overrides(server, killed), journal, lines=20)
        partial = snapshot(killed)
        assert ".FR.journal.jsonl" in partial and "FR.jsonl" not in partial  # really cut mid-way
        resumed = run_cli(*images_overrides(server, killed))
        assert resumed.returncode == 0, resumed.stderr
    expected = snapshot(whole)
    assert snapshot(killed) == expected
    assert sum(1 for key in expected if key.endswith(".jpg")) == 40 - 3  # missing, corrupt, one duplicate
    assert not list(killed.rglob(".*.tmp")) and not list(killed.rglob(".*.journal.jsonl"))
