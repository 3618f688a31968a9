"""`python -m data_gen stage=all` on the embedded default: what it produces, and `kill -9` at random moments.

The undisturbed run must give ≥ 1,000 samples in ≥ 6 languages, no open-ended answer inside its
question, and shards that read back with `webdataset` and HF `datasets`. For the kills, each
experiment starts a fresh out_dir, kills the CLI at uniformly random moments of an undisturbed
run's duration, then lets it finish. The result must be the undisturbed run's shards byte for byte
(sha256 of every tar, sizes.json and manifest.json), with no temp file anywhere, no duplicate sample
and `stage=validate` passing. Refinement and filtering run with `backend=none` (their real stage
code, no model) so one run takes seconds; model-backed resume is tested by their own suites.
Fast suite: one run killed 3 times in a row; soak (`-m slow`): 20 runs killed once each.
"""

from __future__ import annotations

import hashlib
import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
OVERRIDES = ("refine.backend=none", "filter.backend=none", "progress=false", "shards.max_samples=300")
MARKERS = ("entities/manifest.json", "images/manifest.json", "qa/manifest.json", "refine/manifest.json",
           "filter/manifest.json", "shards/manifest.json", "shards/stats/stats.json")  # fmt: skip


def _command(out: Path, stage: str = "all") -> list[str]:
    return [sys.executable, "-m", "data_gen", f"stage={stage}", f"out_dir={out}", *OVERRIDES]


def _run(out: Path) -> float:
    start = time.monotonic()
    result = subprocess.run(_command(out), cwd=REPO, capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    return time.monotonic() - start


def shard_hashes(out: Path) -> dict[str, str]:
    files = [p for folder in ("open", "mcq") for p in sorted((out / "shards" / folder).iterdir()) if p.is_file()]
    return {f"{p.parent.name}/{p.name}": hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def _progress(out: Path) -> str:
    """The last stage whose done marker exists when the process was killed ("start" if none)."""
    done = [marker.split("/")[0] if "stats" not in marker else "stats" for marker in MARKERS if (out / marker).exists()]
    return done[-1] if done else "start"


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, float, dict[str, str]]:
    out = tmp_path_factory.mktemp("all-reference") / "out"
    duration = _run(out)
    hashes = shard_hashes(out)
    manifest = json.loads((out / "shards" / "stats" / "stats.json").read_text())
    assert manifest["total_samples"] >= 1000 and len(manifest["counts"]["language"]) >= 6
    return out, duration, hashes


Window = tuple[float, float]


def kill_and_resume(reference: tuple, target: Path, rng: random.Random, windows: list[Window]) -> list[str]:
    """Kill a fresh run once per window (a random moment within that fraction of an undisturbed run's
    duration; later windows are shorter because a resumed run has less left to do), finish it,
    compare with the reference; return the last finished stage at each kill that landed."""
    ref_out, duration, expected = reference
    landed = []
    for low, high in windows:
        process = subprocess.Popen(_command(target), cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(low, high) * duration)
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            landed.append(_progress(target))
        process.wait(timeout=60)
    _run(target)
    assert shard_hashes(target) == expected
    assert not [p for p in target.rglob("*.tmp")], "temp files left behind"
    keys = [entry for folder in ("open", "mcq") for entry in _keys(target / "shards" / folder)]
    assert len(keys) == len(set(keys)) == sum(len(_keys(ref_out / "shards" / f)) for f in ("open", "mcq"))
    result = subprocess.run(_command(target, "validate"), cwd=REPO, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    return landed


def _keys(folder: Path) -> list[str]:
    import tarfile

    keys = []
    for shard in sorted(folder.glob("*.tar")):
        with tarfile.open(shard) as tar:
            keys += [m.name[: -len(".json")] for m in tar if m.name.endswith(".json")]
    return keys


def test_embedded_default_output_reads_back_and_never_leaks_the_answer(reference, tmp_path: Path) -> None:
    import webdataset as wds
    from datasets import load_dataset

    from data_gen.common.text import fold

    out = reference[0]
    languages, total = set(), 0
    for folder in ("open", "mcq"):
        files = sorted(str(p) for p in (out / "shards" / folder).glob("*.tar"))
        manifest = json.loads((out / "shards" / folder / "manifest.json").read_text())
        samples = [json.loads(s["json"]) for s in wds.WebDataset(files, shardshuffle=False)]
        assert len(samples) == manifest["total_samples"] > 0
        cache = str(tmp_path / folder)
        dataset = load_dataset("webdataset", data_files={"train": files}, split="train", cache_dir=cache)
        assert len(dataset) == len(samples) and dataset[0]["json"]["id"] == samples[0]["id"]
        for sample in samples:
            languages.add(sample["language"])
            if folder == "open":
                human = sample["conversations"][0]["value"]
                assert fold(sample["answer"]) not in fold(human), sample["id"]
        total += len(samples)
    assert total >= 1000 and len(languages) >= 6


def test_kill9_during_stage_all_then_rerun_gives_identical_shards(reference, tmp_path: Path) -> None:
    windows = [(0.3, 0.8), (0.2, 0.5), (0.1, 0.3)]
    landed = kill_and_resume(reference, tmp_path / "killed", random.Random(11), windows)
    assert len(landed) >= 2, landed  # most kill moments fall inside the run


@pytest.mark.slow
def test_soak_twenty_random_kills_during_stage_all(reference, tmp_path: Path) -> None:
    rng, landed = random.Random(2024), []
    for experiment in range(20):
        landed += kill_and_resume(reference, tmp_path / f"killed{experiment}", rng, [(0.05, 0.9)])
    assert len(landed) >= 18, landed
    assert len(set(landed)) >= 4, landed  # kills landed in several different stages
    print(f"kill points by last finished stage: {sorted(landed)}")
