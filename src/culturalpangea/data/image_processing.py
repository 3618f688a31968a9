"""Image side of a sample: safe decoding, and the interface to the model's image preprocessing.

Decoding is defensive because shards come from many places: PIL's decompression-bomb limit is
enforced, the image is fully decoded here (not lazily in the model), EXIF orientation is applied,
and everything is converted to RGB. JPEGs much larger than needed are decoded at a reduced DCT
scale (`draft`: 1/2, 1/4 or 1/8), several times cheaper. The preprocessor says what it needs
(`decode_at_least`): a side length, or a function from the upright original (height, width), read
from the JPEG header before any pixel is decoded, to the smallest decoded (height, width) that still
gives its crops by downscaling only. Geometry that depends on the original size (anyres' grid and
token count) is then computed from that original size, which the decoded image carries
(`original_size`), not from the reduced one; only the resampling source of the pixels changes.

Fast path: workers hand **uint8** pixels to the model ([crops, 3, H, W], resized with torch's
antialiased bicubic, which follows PIL's), and `normalize_pixels` runs on the device. A batch
then moves a quarter of the bytes through collation, pinned memory and the host-to-device copy.
The pixel preprocessing itself (single resolution or LLaVA-NeXT anyres) belongs to the model and
is passed in as an `ImagePreprocessor`.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import torch
from PIL import Image, ImageOps

OPENAI_CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
MAX_IMAGE_PIXELS = 64_000_000
# PIL `info` key of a drafted image: (original height, original width, decoded height, decoded width), upright.
DRAFT_INFO = "culturalpangea.draft"
# EXIF orientations that swap width and height (transpose, 270°, transverse, 90°).
_SWAPPING_ORIENTATIONS = (5, 6, 7, 8)

Size = tuple[int, int]  # (height, width)
DecodeTarget = int | Callable[[Size], Size] | None


@dataclass(frozen=True)
class PreprocessedImage:
    """Crops of one image for the vision tower and what the model needs to place its features."""

    pixel_values: torch.Tensor  # [num_crops, 3, H, W], uint8 (normalise on device) or normalised float
    image_size: tuple[int, int]  # original (height, width)
    num_tokens: int  # image tokens this image becomes in the sequence


class ImagePreprocessor(Protocol):
    def __call__(self, image: Image.Image) -> PreprocessedImage: ...


def decode_image(data: bytes, max_pixels: int = MAX_IMAGE_PIXELS, at_least: DecodeTarget = None) -> Image.Image:
    """Decode image bytes to upright RGB with the bomb limit; raises ValueError on any problem.

    `at_least`: a side length both decoded sides must keep, or a function of the upright original
    (height, width) giving the smallest decoded (height, width) allowed. A JPEG is then decoded at the
    largest DCT scale that keeps that size; a drafted image records its original size (`original_size`).
    """
    if not data:
        raise ValueError("empty image")
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.width * image.height > max_pixels:
                raise ValueError(f"image of {image.width}x{image.height} pixels exceeds {max_pixels}")
            original = _draft(image, at_least)
            image.load()
            ImageOps.exif_transpose(image, in_place=True)  # no copy of an image that is already upright
            upright = image if image.mode == "RGB" else image.convert("RGB")
    except (OSError, Image.DecompressionBombError, SyntaxError) as error:
        raise ValueError(f"image does not decode: {error}") from error
    if original is not None and original != (upright.height, upright.width):
        upright.info[DRAFT_INFO] = (*original, upright.height, upright.width)
    return upright


def _draft(image: Image.Image, at_least: DecodeTarget) -> Size | None:
    """Ask the JPEG decoder for a reduced scale; returns the upright original size when it may reduce."""
    if not at_least or image.format != "JPEG" or min(image.size) < 2 * (1 if callable(at_least) else at_least):
        return None
    swapped = callable(at_least) and image.getexif().get(0x0112) in _SWAPPING_ORIENTATIONS
    upright = (image.width, image.height) if swapped else (image.height, image.width)
    need_h, need_w = at_least(upright) if callable(at_least) else (at_least, at_least)
    if swapped:
        need_h, need_w = need_w, need_h
    need_h, need_w = max(1, int(need_h)), max(1, int(need_w))
    if min(image.height // need_h, image.width // need_w) < 2:
        return None
    image.draft("RGB", (need_w, need_h))  # PIL keeps both sides >= the size asked
    return upright


def original_size(image: Image.Image) -> Size:
    """(height, width) of the image as stored, before a reduced-scale decode (else its own size)."""
    draft = image.info.get(DRAFT_INFO)
    if draft is not None and tuple(draft[2:]) == (image.height, image.width):
        return int(draft[0]), int(draft[1])
    return image.height, image.width


def resize_uint8_nchw(image: Image.Image, height: int, width: int) -> torch.Tensor:
    """RGB PIL image → uint8 [1, 3, height, width] in channels-last memory, antialiased bicubic.

    torch's antialiased bicubic follows PIL's. Channels-last with a proper batch stride matters:
    `torch.cat` of such tensors (collation) keeps channels-last and copies at memcpy speed, where
    a permuted [3, H, W] view would force a transposing copy ~20x slower.
    """
    pixels = torch.frombuffer(bytearray(image.tobytes()), dtype=torch.uint8)
    channels_last = pixels.view(1, image.height, image.width, 3).permute(0, 3, 1, 2)
    if (image.height, image.width) == (height, width):
        return channels_last
    return torch.nn.functional.interpolate(
        channels_last, size=(height, width), mode="bicubic", antialias=True, align_corners=False
    )


def resize_uint8(image: Image.Image, height: int, width: int) -> torch.Tensor:
    """RGB PIL image → uint8 [3, height, width] (a channels-last view), antialiased bicubic."""
    return resize_uint8_nchw(image, height, width)[0]


def normalize_pixels(pixels: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """uint8 pixels → CLIP-normalised `dtype` (float input is taken as already normalised)."""
    if pixels.dtype != torch.uint8:
        return pixels.to(dtype)
    mean = torch.tensor(OPENAI_CLIP_MEAN, device=pixels.device).view(3, 1, 1) * 255.0
    std = torch.tensor(OPENAI_CLIP_STD, device=pixels.device).view(3, 1, 1) * 255.0
    return ((pixels.float() - mean) / std).to(dtype)


@dataclass(frozen=True)
class SingleResolutionPreprocessor:
    """LLaVA-1.5 style: one square crop per image, (size / patch)² tokens."""

    image_size: int
    patch_size: int

    @property
    def decode_at_least(self) -> int:
        return self.image_size

    def __call__(self, image: Image.Image) -> PreprocessedImage:
        tokens = (self.image_size // self.patch_size) ** 2
        pixels = resize_uint8_nchw(image, self.image_size, self.image_size)
        return PreprocessedImage(pixels, original_size(image), tokens)
