"""`kill -9` while shards are being written, then a re-run: same bytes as an undisturbed run."""

from __future__ import annotations

import hashlib
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

WRITER = """
import sys
from data_gen.shards.writer import ShardSpec, write_shards
from tests.helpers.shard_samples import make_samples
write_shards(make_samples(int(sys.argv[2])), sys.argv[1], ShardSpec(max_samples=5))
"""
REPO = Path(__file__).resolve().parents[3]


def _run(out: Path, count: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", WRITER, str(out), str(count)], cwd=REPO)


def _hashes(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_kill9_at_random_moments_then_rerun_is_byte_identical(tmp_path):
    count = 3000
    reference = tmp_path / "reference"
    start = time.monotonic()
    assert _run(reference, count).wait(timeout=120) == 0
    duration = time.monotonic() - start
    expected = _hashes(reference)
    rng = random.Random(7)
    killed = 0
    for attempt in range(3):
        target = tmp_path / f"killed{attempt}"
        process = _run(target, count)
        time.sleep(rng.uniform(0.4, 0.95) * duration)
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            killed += 1
        process.wait(timeout=60)
        assert _run(target, count).wait(timeout=120) == 0
        assert _hashes(target) == expected
        assert not [p for p in target.iterdir() if p.name.endswith(".tmp")]
    assert killed >= 2
