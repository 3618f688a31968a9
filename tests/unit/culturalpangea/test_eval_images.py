"""Evaluation decodes benchmark images with training's decoder: upright by EXIF, RGB, capped in pixels."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from culturalpangea.data.image_processing import MAX_IMAGE_PIXELS
from culturalpangea.eval.images import ImageDecodeError, decode_image


def _jpeg(width: int, height: int, orientation: int | None = None, mode: str = "RGB") -> bytes:
    image = Image.new(mode, (width, height), 128 if mode == "L" else (200, 30, 30))
    exif = Image.Exif()
    if orientation is not None:
        exif[0x0112] = orientation  # Orientation tag
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif.tobytes())
    return buffer.getvalue()


def test_a_phone_photo_is_turned_upright_as_in_training(tmp_path):
    rotated = _jpeg(40, 20, orientation=6)  # stored landscape, shown portrait
    assert decode_image(rotated).size == (20, 40)
    path = tmp_path / "photo.jpg"
    path.write_bytes(rotated)
    assert decode_image(path).size == (20, 40) and decode_image(path).mode == "RGB"
    assert decode_image(_jpeg(8, 8, mode="L")).mode == "RGB"


def test_bad_images_are_named_errors_without_memory_addresses(tmp_path):
    with pytest.raises(ImageDecodeError, match=r"^image does not decode \(9 bytes: cannot identify the image file\)$"):
        decode_image(b"not a jpg")
    with pytest.raises(ImageDecodeError, match=r"\(0 bytes: empty image\)"):
        decode_image(b"")
    side = int(MAX_IMAGE_PIXELS**0.5) + 16
    buffer = io.BytesIO()
    Image.new("L", (side, side)).save(buffer, format="PNG")
    with pytest.raises(ImageDecodeError, match="exceeds"):
        decode_image(buffer.getvalue())  # the decompression-bomb cap applies to benchmarks too
