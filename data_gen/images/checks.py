"""Stage 2, `images`: checking and storing pictures, near-duplicates, per-file records (driver: images_stage.py).

Every downloaded (or placeholder) file goes through `normalize_image`, which decides its status:
- `too_large`: body over `max_bytes`, more than `max_pixels` pixels or a side over `max_side`
  (decided from the header, before any pixel is decoded: decompression bombs never decode);
- `corrupt`: empty, not an image, an unsupported format, or it fails to decode completely;
- `refused`: so elongated (long/short side above `max_aspect`) that no crop would show the entity;
otherwise it is stored as a baseline RGB JPEG (EXIF orientation applied, transparency flattened on
white, no metadata kept, `jpeg_quality`), scaled up when its short side is under `min_short_side`.
Its SHA-256 and 64-bit DCT perceptual hash (imagehash.phash) are recorded.

Near-duplicates (pHash Hamming distance ≤ `phash_max_distance`, same file named twice included)
are decided per country, in entity rank order, after every file is in: the first copy stays `ok`,
later ones become `duplicate` with `duplicate_of` naming it, and their JPEGs are removed. Decided
at the end, on the full list, the result does not depend on download order or on interruptions.

Record per (entity, image), all keys always present (None where they do not apply): qid, country,
index, file, status, path (only for ok, relative to out_dir), width, height, sha256, phash, url,
author, license, license_url, placeholder, detail (why it failed), duplicate_of.
While a country runs, records go to an append-only journal (one fsynced line each, a torn last
line from a crash is dropped on load), so a killed run resumes without redoing finished files.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, ImageOps, UnidentifiedImageError

from data_gen.common.jsonl import read_jsonl
from data_gen.common.layout import Layout

STATUSES = ("ok", "missing", "rate_limited", "corrupt", "too_large", "duplicate", "unavailable", "refused")
FORMATS = ("JPEG", "PNG", "WEBP", "GIF")
RECORD_KEYS = (
    "qid", "country", "index", "file", "status", "path", "width", "height", "sha256", "phash",
    "url", "author", "license", "license_url", "placeholder", "detail", "duplicate_of",
)


class ImageRejected(Exception):
    """The bytes are not a usable picture; `status` is too_large, corrupt or refused."""

    def __init__(self, status: str, detail: str) -> None:
        super().__init__(f"{status}: {detail}")
        self.status = status
        self.detail = detail


@dataclass(frozen=True)
class ImageLimits:
    max_bytes: int = 25_000_000
    max_pixels: int = 60_000_000
    max_side: int = 12_000
    max_aspect: float = 6.0
    min_short_side: int = 336
    jpeg_quality: int = 90


@dataclass(frozen=True)
class StoredImage:
    data: bytes
    width: int
    height: int
    sha256: str
    phash: str


def _open(raw: bytes, limits: ImageLimits) -> Image.Image:
    if not raw:
        raise ImageRejected("corrupt", "empty body")
    if len(raw) > limits.max_bytes:
        raise ImageRejected("too_large", f"{len(raw)} bytes > max_bytes={limits.max_bytes}")
    try:
        image = Image.open(io.BytesIO(raw))
    except Image.DecompressionBombError as error:
        raise ImageRejected("too_large", f"decompression bomb refused ({error})") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise ImageRejected("corrupt", f"not a readable image ({type(error).__name__})") from None
    width, height = image.size
    if width * height > limits.max_pixels or max(width, height) > limits.max_side:
        raise ImageRejected("too_large", f"{width}x{height} px exceeds max_pixels/max_side")
    if image.format not in FORMATS:
        raise ImageRejected("corrupt", f"unsupported format {image.format}")
    if min(width, height) < 1 or max(width, height) / min(width, height) > limits.max_aspect:
        raise ImageRejected("refused", f"{width}x{height} px: aspect beyond max_aspect={limits.max_aspect:g}")
    return image


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def normalize_image(raw: bytes, limits: ImageLimits) -> StoredImage:
    """Check, decode, orient, convert and re-encode one picture; ImageRejected says why not."""
    import imagehash

    image = _open(raw, limits)
    try:
        image.load()
        image = ImageOps.exif_transpose(image)
        rgb = _to_rgb(image)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        raise ImageRejected("corrupt", f"does not decode ({type(error).__name__}: {str(error)[:80]})") from None
    short = min(rgb.size)
    if short < limits.min_short_side:
        scale = limits.min_short_side / short
        low = limits.min_short_side
        size = (max(low, round(rgb.width * scale)), max(low, round(rgb.height * scale)))
        rgb = rgb.resize(size, Image.Resampling.BICUBIC)
    buffer = io.BytesIO()
    rgb.save(buffer, format="JPEG", quality=limits.jpeg_quality)
    data = buffer.getvalue()
    return StoredImage(data, rgb.width, rgb.height, hashlib.sha256(data).hexdigest(), str(imagehash.phash(rgb)))


HASH_BITS = 64  # imagehash.phash's default 8×8 hash


def near_duplicates(hashes: list[str | None], max_distance: int) -> list[int | None]:
    """For each hash, the position of an earlier kept hash within `max_distance` bits, else None.

    The nearest kept hash wins (ties: the earliest kept). Multi-index hashing keeps this linear in
    the country's images: the 64 bits are cut into `max_distance + 1` bands, and two hashes within
    `max_distance` bits agree exactly on at least one band (pigeonhole), so only kept hashes sharing
    a band value are compared — the same answer as comparing with every kept hash, which cost ∝ n²
    per country (20,000 images: 9 s; issue 17's scale run).
    """
    bands = _bands(max_distance)
    index: list[dict[int, list[int]]] = [{} for _ in bands]  # per band: band value → kept ordinals
    kept_values: list[int] = []
    kept_positions: list[int] = []
    result: list[int | None] = []
    for position, value in enumerate(hashes):
        if value is None:
            result.append(None)
            continue
        number = int(value, 16)
        if bands and len(value) * 4 == HASH_BITS:
            keys = [(number >> shift) & mask for shift, mask in bands]
            candidates = sorted({k for band, key in enumerate(keys) for k in index[band].get(key, ())})
        else:  # max_distance ≥ 64 (every kept hash in range) or a hash of another size: compare with all
            candidates = list(range(len(kept_values)))
        best: tuple[int, int] | None = None  # (distance, kept ordinal); ordinals ascend, so ties keep the earliest
        for ordinal in candidates:
            distance = (kept_values[ordinal] ^ number).bit_count()
            if distance <= max_distance and (best is None or distance < best[0]):
                best = (distance, ordinal)
        if best is not None:
            result.append(kept_positions[best[1]])
            continue
        ordinal = len(kept_values)
        kept_values.append(number)
        kept_positions.append(position)
        for band, (shift, mask) in enumerate(bands):
            index[band].setdefault((number >> shift) & mask, []).append(ordinal)
        result.append(None)
    return result


def _bands(max_distance: int) -> list[tuple[int, int]]:
    """(shift, mask) of `max_distance + 1` bands covering the hash bits as evenly as possible; [] past 63."""
    count = max_distance + 1
    if max_distance < 0 or count > HASH_BITS:
        return []
    bands, shift = [], 0
    for band in range(count):
        width = HASH_BITS // count + (1 if band < HASH_BITS % count else 0)
        bands.append((shift, (1 << width) - 1))
        shift += width
    return bands


def image_record(qid: str, country: str, index: int, file: str, status: str, **fields: Any) -> dict[str, Any]:
    """A record with every key of the output contract (None where it does not apply)."""
    if status not in STATUSES:
        raise ValueError(f"unknown image status {status!r}")
    unknown = set(fields) - set(RECORD_KEYS)
    if unknown:
        raise ValueError(f"unknown image record fields {sorted(unknown)}")
    record: dict[str, Any] = dict.fromkeys(RECORD_KEYS)
    record.update(fields, qid=qid, country=country, index=index, file=file, status=status)
    record["placeholder"] = bool(record["placeholder"])
    return record


def record_key(record: dict[str, Any]) -> tuple[str, int, str]:
    return (record["qid"], int(record["index"]), record["file"])


class Journal:
    """Append-only JSON lines, each flushed and fsynced; a torn tail (crash) is cut off on load."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def load(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        data = self.path.read_bytes()
        good_end = data.rfind(b"\n") + 1
        records = []
        for line in data[:good_end].splitlines():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                break  # never written completely: everything after is dropped too
        if good_end < len(data):
            with open(self.path, "r+b") as handle:
                handle.truncate(good_end)
        return records

    def start(self, records: list[dict[str, Any]]) -> None:
        """A fresh journal holding `records` (written atomically)."""
        from shard_contract.atomic import atomic_write_jsonl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_jsonl(self.path, records)

    def append(self, record: dict[str, Any]) -> None:
        line = (json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8")
        with self._lock, open(self.path, "ab") as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


def read_image_records(out_dir: Path, country_code: str) -> list[dict[str, Any]]:
    """The image records of one country (entity rank order), as written by the images stage."""
    return read_jsonl(Layout(Path(out_dir)).image_records(country_code))
