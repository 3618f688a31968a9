"""out_dir is data_gen's alone: no system folder, no one else's files, never two runs at once (issue 15 §4–5).

Before: `out_dir=/etc` wrote 84 MB under /etc; a user's photo in `images/FR/` and an extra tar in
`shards/open/` were deleted without a word; two `stage=all` on one folder raced on the same temp
files (one died in 4 of 7 runs).
"""

from __future__ import annotations

import json

import pytest

from data_gen.images.stage import OWN_IMAGE_NAME
from data_gen.pipeline.out_dir import LOCK, MARKER, OutDirError, claim, locked
from data_gen.shards.writer import ShardSpec, write_shards
from tests.helpers.datagen_cli import run_cli
from tests.helpers.shard_samples import make_samples


@pytest.mark.parametrize("folder", ["/", "/etc", "/etc/culturalground", "/usr/local/data", "/proc/self", "/home"])
def test_system_folders_are_refused_before_anything_is_written(folder):
    with pytest.raises(OutDirError, match="system"):
        claim(folder)


def test_the_cli_refuses_etc_with_one_line(tmp_path):
    result = run_cli("stage=entities", "out_dir=/etc/data_gen_test", "countries=FR")
    assert result.returncode == 2 and result.stderr.startswith("error: out_dir '/etc/data_gen_test' is inside /etc")


def test_a_folder_with_someone_elses_files_is_refused_naming_them(tmp_path):
    (tmp_path / "thesis.tex").write_text("mine")
    (tmp_path / "entities").mkdir()  # data_gen's own layout is fine
    with pytest.raises(OutDirError, match=r"holds files data_gen did not write \(thesis\.tex\)"):
        claim(tmp_path)
    assert (tmp_path / "thesis.tex").read_text() == "mine" and not (tmp_path / MARKER).exists()


def test_an_empty_or_own_folder_is_claimed_and_marked(tmp_path):
    (tmp_path / "old" / "qa").mkdir(parents=True)  # an output folder from before the marker
    for folder in (tmp_path / "new", tmp_path / "old"):
        assert claim(folder) == folder
        assert json.loads((folder / MARKER).read_text())["written_by"] == "data_gen"
    (tmp_path / "new" / "later-notes.txt").write_text("added after the claim")
    claim(tmp_path / "new")  # a marked folder stays data_gen's


def test_a_second_run_on_the_same_folder_fails_at_once(tmp_path):
    claim(tmp_path)
    with locked(tmp_path):
        result = run_cli("stage=entities", f"out_dir={tmp_path}", "countries=FR")
        assert result.returncode == 2
        assert result.stderr.startswith(f"error: out_dir '{tmp_path}' is in use by another data_gen run")
        with pytest.raises(OutDirError, match="in use"), locked(tmp_path, shared=True):
            pass


def test_array_tasks_share_the_lock(tmp_path):
    claim(tmp_path)
    with (locked(tmp_path, shared=True), locked(tmp_path, shared=True),  # two `parts=` slices side by side
          pytest.raises(OutDirError, match="in use"), locked(tmp_path)):
        pytest.fail("a whole-folder run got the lock while array tasks held it")
    with locked(tmp_path):  # once they are done the folder is free again
        assert (tmp_path / LOCK).is_file()


def test_the_shard_writer_removes_only_shards_it_wrote(tmp_path):
    write_shards(make_samples(12), tmp_path, ShardSpec(max_samples=4))  # 3 shards
    foreign = tmp_path / "shard-000007.tar"
    foreign.write_bytes(b"a user's own tar")
    write_shards(make_samples(6), tmp_path, ShardSpec(max_samples=4))  # 2 shards: shard-000002 is stale
    assert not (tmp_path / "shard-000002.tar").exists()  # written here, so removed
    assert foreign.read_bytes() == b"a user's own tar"  # never written here, so kept


def test_only_the_images_stage_own_file_names_are_ever_cleaned():
    assert OWN_IMAGE_NAME.match("Q42-0.jpg") and OWN_IMAGE_NAME.match("Q123456-12.jpg")
    for name in ("my holiday photo.jpg", "Q42.jpg", "q42-0.jpg", "Q42-0.jpg.bak", "Q0-1.jpg"):
        assert not OWN_IMAGE_NAME.match(name)
