"""Decode benchmark images from the forms the published files use, with errors that name the item.

Sources: raw bytes (HF `Image` columns store `{"bytes", "path"}`; Parquet keeps the same struct),
a path on disk (JSON/TSV releases point at files), or base64 text (the M3Exam Parquet keeps images
as base64 strings). Decoding is training's own (`data/image_processing.decode_image`): upright by
its EXIF orientation, RGB, refused above the pixel cap — so a photo is evaluated exactly as it
would be trained on. A file that does not decode, or one that is truncated, raises
`ImageDecodeError`, which the runner records as that item's error.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError

from culturalpangea.data.image_processing import decode_image as decode_upright_rgb
from culturalpangea.eval.items import ImageSource, ItemProblem


class ImageDecodeError(ValueError):
    """An image that does not decode."""


def decode_image(source: ImageSource) -> Image.Image:
    """Decode `source` (bytes or a path) as training does: upright RGB within the pixel cap."""
    where = source.name if isinstance(source, Path) else f"{len(source)} bytes"
    try:
        data = source.read_bytes() if isinstance(source, Path) else source
        return decode_upright_rgb(data)
    except (OSError, ValueError) as error:
        cause = error.__cause__ if isinstance(error.__cause__, UnidentifiedImageError) else None
        detail = "cannot identify the image file" if cause else str(error).removeprefix("image does not decode: ")
        raise ImageDecodeError(f"image does not decode ({where}: {detail})") from error


def image_source(value: Any, field_name: str, root: Path | None = None) -> ImageSource:
    """An image cell of a published file → bytes or a path; `ItemProblem` when there is none."""
    if isinstance(value, Mapping):
        data = value.get("bytes")
        if data:
            return bytes(data)
        value = value.get("path")
    if isinstance(value, bytes | bytearray) and value:
        return bytes(value)
    if isinstance(value, str) and value.strip():
        path = Path(value)
        if not path.is_absolute() and root is not None:
            path = root / path
        return path
    raise ItemProblem(f"field {field_name!r} holds no image")


def base64_image(value: Any, field_name: str) -> bytes:
    """Bytes of a base64-encoded image cell; `ItemProblem` when it is not valid base64."""
    if not isinstance(value, str) or not value.strip():
        raise ItemProblem(f"field {field_name!r} holds no base64 image")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as error:
        raise ItemProblem(f"field {field_name!r} is not valid base64: {error}") from error
