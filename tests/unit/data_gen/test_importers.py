"""LLaVA-format importers: released-data quirks, bad records counted, archives checked, valid shards."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile

import pytest
import webdataset as wds
from PIL import Image

from data_gen.shards.importers import ImportConfig, ImportError_, import_llava
from data_gen.shards.validate import validate_shard_folder
from tests.helpers.shard_samples import tiny_jpeg

CONFIG = ImportConfig(name="culturalground", prefix="cg-jp", default_country="Japan")


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (20, 10), (200, 10, 10)).save(buffer, format="PNG")
    return buffer.getvalue()


def _turns(*values: str) -> list[dict[str, str]]:
    return [{"from": "human" if i % 2 == 0 else "gpt", "value": v} for i, v in enumerate(values)]


RECORDS = [
    {"id": "jp_001", "image": "imgs/fuji.jpg", "language": "ja", "qid": "Q39231", "property": "None",
     "conversations": _turns("<image>\nこれは何ですか？", "富士山")},
    {"id": "jp_002", "image": "imgs/flag.png", "language": "en", "qid": "None",
     "conversations": _turns("What flag is this?", "Japan", "Which colour is the disc?", "Red")},
    {"id": "jp_003", "language": "en", "conversations": _turns("Name a Japanese poet.", "Bashō")},
    {"id": "jp_004", "image": ["imgs/a.jpg", "imgs/b.jpg"], "conversations": _turns("<image><image>", "x")},
    {"id": "jp_005", "image": "imgs/missing.jpg", "conversations": _turns("<image>\n?", "x")},
    {"id": "jp_006", "image": "imgs/broken.jpg", "conversations": _turns("<image>\n?", "x")},
    {"id": "jp_007", "image": "../../etc/passwd", "conversations": _turns("<image>\n?", "x")},
    {"id": "jp_001", "image": "imgs/fuji.jpg", "conversations": _turns("<image>\n?", "dup")},
    {"id": "jp_008", "conversations": []},
    {"id": "jp_009", "conversations": _turns("?", "")},
    {"id": "jp_010", "image": "imgs/fuji.jpg", "choices": ["Fuji", "Aso"], "language": "en",
     "conversations": _turns("<image>\nWhich mountain?", "Fuji")},
]


def _write_inputs(tmp_path, extra_lines: list[bytes] = ()):
    images = tmp_path / "images" / "imgs"
    images.mkdir(parents=True)
    (images / "fuji.jpg").write_bytes(tiny_jpeg(1))
    (images / "flag.png").write_bytes(_png())
    (images / "broken.jpg").write_bytes(b"\xff\xd8 not really")
    annotation = tmp_path / "cg_japan.jsonl"
    lines = [json.dumps(r, ensure_ascii=False).encode() for r in RECORDS] + list(extra_lines)
    annotation.write_bytes(b"\n".join(lines) + b"\n")
    return annotation, tmp_path / "images"


def test_import_keeps_good_records_and_counts_every_skip(tmp_path):
    annotation, images = _write_inputs(tmp_path, [b"{broken json", b"\xff\xfe\x00bad utf8"])
    report = import_llava(annotation, images, tmp_path / "out", CONFIG)
    assert report.imported == 4
    assert dict(report.skipped) == {
        "multi_image": 1, "image_missing": 1, "image_corrupt": 1, "unsafe_image_path": 1, "duplicate_id": 1,
        "no_conversations": 1, "contract": 1, "bad_json": 2,
    }
    assert "jp_009" in report.examples["contract"]
    saved = json.loads((tmp_path / "out" / "import_report.json").read_text())
    assert saved["imported"] == 4 and saved["skipped"]["bad_json"] == 2
    assert validate_shard_folder(tmp_path / "out").samples == 4


def test_imported_samples_follow_the_contract_and_keep_provenance(tmp_path):
    annotation, images = _write_inputs(tmp_path)
    import_llava(annotation, images, tmp_path / "out", CONFIG)
    rows = {r["json"]["provenance"]["original_id"]: r for r in
            wds.WebDataset(str(tmp_path / "out" / "shard-000000.tar"), shardshuffle=False).decode("pil")}
    fuji = rows["jp_001"]["json"]
    assert fuji["qid"] == "Q39231" and fuji["property"] is None and fuji["language"] == "ja"
    assert fuji["country"] == "Japan" and fuji["answer"] == "富士山"
    assert rows["jp_001"]["__key__"].startswith("cg-jp-jp_001-")
    flag = rows["jp_002"]
    assert flag["json"]["qid"] is None and flag["jpg"].size == (20, 10)
    assert flag["json"]["conversations"][0]["value"].startswith("<image>\n")
    assert len(flag["json"]["conversations"]) == 4 and flag["json"]["answer"] == "Red"
    assert "jpg" not in rows["jp_003"] and rows["jp_003"]["json"]["language"] == "en"
    assert rows["jp_010"]["json"]["question_type"] == "mcq" and rows["jp_010"]["json"]["choices"] == ["Fuji", "Aso"]


def test_jpeg_bytes_are_kept_unchanged(tmp_path):
    annotation, images = _write_inputs(tmp_path)
    import_llava(annotation, images, tmp_path / "out", CONFIG)
    rows = list(wds.WebDataset(str(tmp_path / "out" / "shard-000000.tar"), shardshuffle=False))
    fuji = next(r for r in rows if b"jp_001" in r["json"])
    assert fuji["jpg"] == tiny_jpeg(1)


def test_reimport_is_byte_identical(tmp_path):
    annotation, images = _write_inputs(tmp_path)
    digests = []
    for out in ("a", "b"):
        import_llava(annotation, images, tmp_path / out, CONFIG)
        digests.append(hashlib.sha256((tmp_path / out / "shard-000000.tar").read_bytes()).hexdigest())
    assert digests[0] == digests[1]


def test_json_list_and_tar_image_source(tmp_path):
    annotation = tmp_path / "pangea.json"
    annotation.write_text(json.dumps([RECORDS[0], RECORDS[2]]), encoding="utf-8")
    archive = tmp_path / "images.tar"
    with tarfile.open(archive, "w") as tar:
        info = tarfile.TarInfo("imgs/fuji.jpg")
        data = tiny_jpeg(1)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    report = import_llava(annotation, archive, tmp_path / "out", ImportConfig("pangea_instruct", "pi"))
    assert report.imported == 2 and not report.skipped


@pytest.mark.parametrize("member", ["../escape.jpg", "/etc/evil.jpg", "imgs/../../x.jpg"])
def test_archive_with_unsafe_member_is_rejected(tmp_path, member):
    annotation = tmp_path / "a.json"
    annotation.write_text(json.dumps([RECORDS[0]]))
    archive = tmp_path / "images.tar"
    with tarfile.open(archive, "w") as tar:
        info = tarfile.TarInfo(member)
        info.size = 3
        tar.addfile(info, io.BytesIO(b"abc"))
    with pytest.raises(ImportError_, match=r"absolute path or '\.\.'"):
        import_llava(annotation, archive, tmp_path / "out", CONFIG)
    assert not (tmp_path / "escape.jpg").exists()


def test_unreadable_annotation_files_are_clear_errors(tmp_path):
    with pytest.raises(ImportError_, match="does not exist"):
        import_llava(tmp_path / "nope.jsonl", None, tmp_path / "out", CONFIG)
    (tmp_path / "obj.json").write_text('{"not": "a list"}')
    with pytest.raises(ImportError_, match="not a list"):
        import_llava(tmp_path / "obj.json", None, tmp_path / "out", CONFIG)
