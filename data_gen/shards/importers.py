"""Import LLaVA-format conversation data (JSON or JSONL + an image folder or tar) into our shards.

    python -m data_gen stage=import_llava out_dir=D import.annotations=cg_jp.json import.images=cg_jp.tar \\
        import.name=culturalground import.prefix=cg-jp          # → D/imported/<name>, import_report.json beside it

This is how data that already exists joins the mixture without loss: the released CulturalGround
files (per-country archives, multi-turn conversations, missing values written as the string
"None"), PangeaInstruct and M3LS. Each record becomes one contract sample (shard_contract.sample):

- the key is `<prefix>-<sanitised original id>-<8 hex of its hash>`, stable and unique;
- "None"/"null"/"" strings become null; `qid` is kept only when it is a real item ID;
- a record with an image but no `<image>` placeholder gets one in its first human turn; records
  with several images or placeholders are skipped (the contract holds one image per sample);
- images that are not JPEG are re-encoded as JPEG (quality 95), JPEGs are kept byte for byte;
- text-only records are kept as text-only samples.

Archive members with absolute paths or `..` are rejected, never opened. Every skipped record is
counted by reason in `import_report.json` beside the manifest.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import tarfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from omegaconf import DictConfig
from PIL import Image

from data_gen.common.errors import DataGenError
from data_gen.common.jsonl import parse_jsonl
from data_gen.common.layout import Layout
from data_gen.common.progress import format_table
from data_gen.common.stage_result import StageResult
from data_gen.shards.writer import ShardSample, ShardSpec, write_shards
from shard_contract.atomic import atomic_write_json
from shard_contract.sample import QID_PATTERN, check_sample
from shard_contract.tokens import IMAGE_TOKEN

NONE_STRINGS = {"none", "null", "nan", ""}
MAX_IMAGE_PIXELS = 64_000_000


class ImportError_(DataGenError, ValueError):
    """A problem with the import as a whole (unreadable annotation file, unsafe archive)."""


@dataclass
class ImportReport:
    imported: int = 0
    skipped: Counter = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)  # first record seen per skip reason

    def skip(self, reason: str, example: str) -> None:
        self.skipped[reason] += 1
        self.examples.setdefault(reason, example)

    def as_dict(self) -> dict[str, Any]:
        return {
            "imported": self.imported,
            "skipped": dict(sorted(self.skipped.items())),
            "examples": dict(sorted(self.examples.items())),
        }


def _none(value: Any) -> Any:
    if isinstance(value, str) and value.strip().lower() in NONE_STRINGS:
        return None
    return value


def read_records(path: Path) -> Iterator[tuple[int, dict[str, Any] | None]]:
    """Yield (line or index, record) from JSON (a list) or JSONL; a bad line yields (n, None)."""
    path = Path(path)
    if not path.exists():
        raise ImportError_(f"annotation file {path} does not exist")
    raw = path.read_bytes()
    if path.suffix == ".json":
        try:
            records = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ImportError_(f"{path} is not a JSON list: {error}") from error
        if not isinstance(records, list):
            raise ImportError_(f"{path} holds a {type(records).__name__}, not a list of records")
        yield from ((index, r if isinstance(r, dict) else None) for index, r in enumerate(records))
        return
    for line in parse_jsonl(io.BytesIO(raw), str(path), strict=False):  # data_gen's one JSONL reader
        yield line.number, line.record


class ImageSource:
    """Images by relative path from a folder or a tar archive, with path safety checks."""

    def __init__(self, root: Path | None) -> None:
        self.root = Path(root) if root else None
        self._members: dict[str, bytes] | None = None
        if self.root and self.root.is_file():
            self._members = self._read_tar(self.root)

    @staticmethod
    def is_safe(name: str) -> bool:
        """A relative path that stays inside its root (no absolute path, no '..')."""
        parts = PurePosixPath(name.replace("\\", "/")).parts
        return bool(parts) and not name.startswith(("/", "\\")) and ".." not in parts

    def _read_tar(self, archive: Path) -> dict[str, bytes]:
        members = {}
        with tarfile.open(archive) as tar:
            for member in tar:
                if not self.is_safe(member.name):
                    raise ImportError_(f"{archive}: member {member.name!r} has an absolute path or '..'")
                if member.isreg():
                    handle = tar.extractfile(member)
                    members[member.name.removeprefix("./")] = handle.read() if handle else b""
        return members

    def get(self, relative: str) -> bytes | None:
        if not self.is_safe(relative):
            raise ValueError(f"unsafe image path {relative!r}")
        if self._members is not None:
            return self._members.get(relative.removeprefix("./"))
        if self.root is None:
            return None
        path = (self.root / relative).resolve()
        if not path.is_relative_to(self.root.resolve()) or not path.is_file():
            return None
        return path.read_bytes()


def as_jpeg(data: bytes) -> bytes:
    """JPEG bytes unchanged; other formats decoded (bomb-guarded) and re-encoded as JPEG."""
    with Image.open(io.BytesIO(data)) as image:
        if image.width * image.height > MAX_IMAGE_PIXELS:
            raise ValueError("image too large")
        if image.format == "JPEG":
            image.load()
            return data
        buffer = io.BytesIO()
        image.convert("RGB").save(buffer, format="JPEG", quality=95)
        return buffer.getvalue()


def make_key(prefix: str, original_id: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9_\-]", "_", original_id)[:80]
    return f"{prefix}-{safe}-{hashlib.sha256(original_id.encode()).hexdigest()[:8]}"


@dataclass(frozen=True)
class ImportConfig:
    """How one collection maps into the contract."""

    name: str  # e.g. culturalground, pangea_instruct, m3ls
    prefix: str  # key prefix, e.g. "cg-jp"
    default_language: str | None = None
    default_country: str | None = None


class _Skip(Exception):
    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.detail = detail


ROLE_NAMES = {"human": "human", "user": "human", "gpt": "gpt", "assistant": "gpt"}


def _conversations(record: dict[str, Any], has_image: bool) -> list[dict[str, str]]:
    turns = record.get("conversations")
    if not isinstance(turns, list) or not turns:
        raise _Skip("no_conversations")
    out = []
    for turn in turns:
        role = ROLE_NAMES.get(str(turn.get("from", turn.get("role", ""))).lower()) if isinstance(turn, dict) else None
        value = turn.get("value", turn.get("content")) if isinstance(turn, dict) else None
        if role is None or not isinstance(value, str):
            raise _Skip("bad_turn")
        out.append({"from": role, "value": value})
    placeholders = sum(turn["value"].count(IMAGE_TOKEN) for turn in out)
    if has_image and placeholders == 0:
        out[0] = {"from": out[0]["from"], "value": f"{IMAGE_TOKEN}\n{out[0]['value']}"}
    elif placeholders > int(has_image):
        raise _Skip("image_placeholders")
    return out


def _image_path(record: dict[str, Any]) -> str | None:
    image = _none(record.get("image"))
    if isinstance(image, list):
        image = [item for item in image if _none(item) is not None]
        if len(image) > 1:
            raise _Skip("multi_image")
        image = image[0] if image else None
    if image is not None and not isinstance(image, str):
        raise _Skip("bad_image_field")
    return image


def record_to_sample(
    record: dict[str, Any], index: int, config: ImportConfig
) -> tuple[str, dict[str, Any], str | None]:
    """One LLaVA record → (key, contract sample, relative image path or None); raises _Skip."""
    original_id = str(_none(record.get("id")) or f"{config.name}-{index}")
    image = _image_path(record)
    conversations = _conversations(record, has_image=image is not None)
    key = make_key(config.prefix, original_id)
    qid = _none(record.get("qid"))
    choices = _none(record.get("choices") or record.get("options"))
    answer = conversations[-1]["value"] if conversations[-1]["from"] == "gpt" else ""
    is_mcq = isinstance(choices, list) and answer in choices
    sample = {
        "id": key,
        "qid": qid if isinstance(qid, str) and QID_PATTERN.match(qid) else None,
        "country": _none(record.get("country")) or config.default_country,
        "language": _none(record.get("language") or record.get("lang")) or config.default_language or "und",
        "property": _none(record.get("property")),
        "question_type": "mcq" if is_mcq else "open",
        "answer": answer,
        "conversations": conversations,
        "provenance": {
            "source": f"import:{config.name}",
            "original_id": original_id,
            "template": None,
            "refined": None,
            "filter_score": None,
            "image": {"file": image} if image else None,
        },
    }
    if is_mcq:
        sample["choices"] = choices
    problem = check_sample(sample, has_image=image is not None)
    if problem:
        raise _Skip("contract", f"{original_id}: {problem}")
    return key, sample, image


def _collect(annotation: Path, config: ImportConfig, report: ImportReport) -> list[tuple[str, dict, str | None]]:
    rows: dict[str, tuple[str, dict, str | None]] = {}
    for index, record in read_records(annotation):
        if record is None:
            report.skip("bad_json", f"record {index} of {annotation.name}")
            continue
        try:
            key, sample, image = record_to_sample(record, index, config)
        except _Skip as skip:
            report.skip(skip.reason, skip.detail or f"record {index} of {annotation.name}")
            continue
        if key in rows:
            report.skip("duplicate_id", f"record {index}: {sample['provenance']['original_id']}")
            continue
        rows[key] = (key, sample, image)
    return [rows[key] for key in sorted(rows)]


def import_llava(
    annotation: Path, images: Path | None, out_dir: Path, config: ImportConfig, spec: ShardSpec | None = None
) -> ImportReport:
    """Import one annotation file (+ images) into a shard folder; returns what was kept and skipped."""
    report = ImportReport()
    rows = _collect(Path(annotation), config, report)
    source = ImageSource(images)

    def stream() -> Iterator[ShardSample]:
        for key, sample, relative in rows:
            data = None
            if relative is not None and not ImageSource.is_safe(relative):
                report.skip("unsafe_image_path", f"{key}: {relative}")
                continue
            if relative is not None:
                try:
                    raw = source.get(relative)
                    if raw is None:
                        report.skip("image_missing", f"{key}: {relative}")
                        continue
                    data = as_jpeg(raw)
                except (OSError, ValueError, Image.DecompressionBombError, SyntaxError) as error:
                    report.skip("image_corrupt", f"{key}: {relative}: {error}")
                    continue
            report.imported += 1
            yield ShardSample(key, sample, data)

    out_dir = Path(out_dir)
    write_shards(stream(), out_dir, spec)
    atomic_write_json(out_dir / "import_report.json", report.as_dict())
    return report


def run_import_llava(cfg: DictConfig) -> StageResult:
    """`stage=import_llava` (registered in data_gen.pipeline.registry)."""
    block = cfg.get("import") or {}
    if not block.get("annotations"):
        raise DataGenError("stage=import_llava needs import.annotations=<LLaVA JSON or JSONL file>")
    name = str(block.get("name") or "llava")
    config = ImportConfig(
        name=name,
        prefix=str(block.get("prefix") or name),
        default_language=block.get("language"),
        default_country=block.get("country"),
    )
    output = Path(str(block.get("output") or Layout.of(cfg).imported(name)))
    images = Path(str(block.images)) if block.get("images") else None
    spec = ShardSpec(max_samples=int(block.get("max_samples") or 10_000), prefix=name.replace(".", "-"))
    report = import_llava(Path(str(block.annotations)), images, output, config, spec)
    rows = [["imported", report.imported], *[[f"skipped:{k}", v] for k, v in sorted(report.skipped.items())]]
    return StageResult(manifest=report.as_dict(), summary=format_table(["outcome", "records"], rows, title=str(output)))
