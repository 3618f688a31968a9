"""Atomic writes keep the old content until the new one is complete."""

from __future__ import annotations

import json
import mmap
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from shard_contract import atomic
from shard_contract.atomic import atomic_write_bytes, atomic_write_json, remove_temp_files, temp_files
from tests.helpers.page_cache import resident_pages

REPO = Path(__file__).resolve().parents[3]


def test_write_replace_and_no_temp_left(tmp_path):
    target = tmp_path / "a.json"
    atomic_write_json(target, {"b": 1, "a": "ü"})
    assert target.read_text(encoding="utf-8") == '{\n "a": "ü",\n "b": 1\n}'
    atomic_write_json(target, [1])
    assert json.loads(target.read_text()) == [1]
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_a_failed_rename_leaves_the_old_file_intact(tmp_path, monkeypatch):
    target = tmp_path / "shard.tar"
    atomic_write_bytes(target, b"old")
    real_replace = os.replace

    def crash(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic.os, "replace", crash)
    with pytest.raises(OSError, match="No space left"):
        atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"old"
    assert not temp_files(target)  # atomic_open removes its temp file when the write fails
    monkeypatch.setattr(atomic.os, "replace", real_replace)
    atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"new" and not temp_files(target)


def test_a_failing_streamed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "last.ckpt"
    atomic_write_bytes(target, b"old")
    with pytest.raises(RuntimeError, match="writer died"), atomic.atomic_open(target) as handle:
        handle.write(b"half of the new")
        raise RuntimeError("writer died")
    assert target.read_bytes() == b"old" and not temp_files(target)


def test_atomic_directory_builds_once_and_keeps_the_first_finished_copy(tmp_path):
    calls = []

    def build(folder):
        calls.append(folder)
        folder.mkdir()
        (folder / "config.json").write_text(str(len(calls)))

    target = tmp_path / "models" / "llm"
    assert atomic.atomic_directory(target, build, "config.json") == target
    assert atomic.atomic_directory(target, build, "config.json") == target
    assert len(calls) == 1 and (target / "config.json").read_text() == "1"
    assert sorted(p.name for p in target.parent.iterdir()) == ["llm"]  # no hidden build folder left

    def failing(folder):
        folder.mkdir()
        raise ValueError("broken build")

    with pytest.raises(ValueError, match="broken build"):
        atomic.atomic_directory(tmp_path / "other", failing, "config.json")
    assert not (tmp_path / "other").exists() and not list(tmp_path.glob(".other.build-*"))


def test_two_writers_of_one_file_at_once_both_finish_and_the_last_rename_wins(tmp_path):
    # Array tasks sharing a folder write the same placeholder, cache entry or manifest at the same
    # time; with one shared temp name the second truncated the first's bytes and the first's rename
    # then failed (FileNotFoundError).
    target = tmp_path / "manifest.json"
    with atomic.atomic_open(target) as first:
        first.write(b"first, ")
        with atomic.atomic_open(target) as second:
            second.write(b"second")
            assert len(temp_files(target)) == 2
        first.write(b"finished last")
    assert target.read_bytes() == b"first, finished last"
    assert not temp_files(target)


WRITER = """
import sys
from pathlib import Path
from shard_contract.atomic import atomic_open
with atomic_open(Path(sys.argv[1])) as handle:
    handle.write(b"half ")
    print("writing", flush=True)
    sys.stdin.readline()
    handle.write(b"and the rest")
"""


def test_cleanup_removes_a_dead_writers_temp_file_but_not_a_live_writers(tmp_path):
    stale = tmp_path / "FR" / ".part-00000.jsonl.1234-abcd0123.tmp"  # what a killed task leaves
    stale.parent.mkdir()
    stale.write_bytes(b'{"half": ')
    target = tmp_path / "JP" / "part-00000.jsonl"
    target.parent.mkdir()
    writer = subprocess.Popen([sys.executable, "-c", textwrap.dedent(WRITER), str(target)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(REPO)})  # fmt: skip
    try:
        assert writer.stdout.readline() == b"writing\n"
        assert remove_temp_files(tmp_path) == 1  # the stale one; the sibling's write in progress stays
        assert not stale.exists() and len(temp_files(target)) == 1
    finally:
        writer.communicate(b"go\n", timeout=60)
    assert writer.returncode == 0
    assert target.read_bytes() == b"half and the rest" and not temp_files(target)



@pytest.mark.skipif(not hasattr(os, "posix_fadvise"), reason="posix_fadvise is Linux-only")
def test_a_write_that_is_not_kept_cached_leaves_the_page_cache(tmp_path):
    """`atomic_open(keep_cached=False)` (the shard writer's: 42 GB of tars at 1M entities would push its
    inputs out of 23 GiB): the file is complete on disk and none of its pages stay cached."""
    data = os.urandom(8 << 20)
    kept, dropped = tmp_path / "kept.bin", tmp_path / "dropped.bin"
    atomic_write_bytes(kept, data)
    with atomic.atomic_open(dropped, keep_cached=False) as handle:
        handle.write(data)
    if resident_pages(kept) == 0:
        pytest.skip(f"{tmp_path} does not keep written files in the page cache")
    assert resident_pages(kept) > (8 << 20) // mmap.PAGESIZE // 2
    assert resident_pages(dropped) == 0
    assert dropped.read_bytes() == data and not temp_files(dropped)
