"""Atomic writes keep the old content until the new one is complete."""

from __future__ import annotations

import json
import os

import pytest

from data_gen import atomic
from data_gen.atomic import atomic_write_bytes, atomic_write_json, temp_path


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
    assert temp_path(target).exists()  # the next run of a writer removes it
    monkeypatch.setattr(atomic.os, "replace", real_replace)
    atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"new" and not temp_path(target).exists()
