"""The defensive tar reader counts every kind of damage instead of silently shortening a shard."""

from __future__ import annotations

import io
import tarfile

from culturalpangea.data.skips import take_skip_counts
from culturalpangea.data.tar_reader import tar_samples


def _tar(members: list[tuple[str, bytes]], symlink: str | None = None) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        if symlink:
            info = tarfile.TarInfo(symlink)
            info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
            tar.addfile(info)
    return buffer.getvalue()


MEMBERS = [(f"k{i}.json", b"{}" * 300) for i in range(4)]


def test_intact_shard_yields_all_samples(tmp_path):
    take_skip_counts()
    (tmp_path / "a.tar").write_bytes(_tar(MEMBERS))
    assert [s["__key__"] for s in tar_samples([(str(tmp_path / "a.tar"), 4)])] == ["k0", "k1", "k2", "k3"]
    assert take_skip_counts() == {}


def test_cut_inside_a_member_is_truncated(tmp_path):
    take_skip_counts()
    data = _tar(MEMBERS)
    (tmp_path / "a.tar").write_bytes(data[: 512 * 4 + 100])  # member 1 (header + 2 blocks), header 2, part of its data
    keys = [s["__key__"] for s in tar_samples([(str(tmp_path / "a.tar"), 4)])]
    counts = take_skip_counts()
    assert keys == ["k0"] and counts["tar:truncated"] == 1 and counts["tar:missing_samples"] == 3


def test_cut_at_a_member_boundary_is_caught_by_the_manifest_count(tmp_path):
    take_skip_counts()
    data = _tar(MEMBERS)
    (tmp_path / "a.tar").write_bytes(data[: 512 * 6])  # two whole members, no end-of-archive blocks
    keys = [s["__key__"] for s in tar_samples([(str(tmp_path / "a.tar"), 4)])]
    assert keys == ["k0", "k1"] and take_skip_counts() == {"tar:missing_samples": 2}


def test_symlinks_and_unsafe_names_are_refused(tmp_path):
    take_skip_counts()
    (tmp_path / "a.tar").write_bytes(_tar([*MEMBERS[:1], ("../evil.json", b"{}")], symlink="k9.json"))
    keys = [s["__key__"] for s in tar_samples([(str(tmp_path / "a.tar"), None)])]
    counts = take_skip_counts()
    assert keys == ["k0"]
    assert counts == {"tar:unsafe_member_name": 1, "tar:not_regular_member": 1}


def test_missing_or_garbage_file_is_counted_and_the_next_shard_read(tmp_path):
    take_skip_counts()
    (tmp_path / "junk.tar").write_bytes(b"not a tar at all" * 100)
    (tmp_path / "ok.tar").write_bytes(_tar(MEMBERS[:2]))
    shards = [(str(tmp_path / "gone.tar"), 3), (str(tmp_path / "junk.tar"), 1), (str(tmp_path / "ok.tar"), 2)]
    keys = [s["__key__"] for s in tar_samples(shards)]
    counts = take_skip_counts()
    assert keys == ["k0", "k1"]
    assert counts["tar:missing_samples"] == 4 and counts["tar:FileNotFoundError"] == 1
