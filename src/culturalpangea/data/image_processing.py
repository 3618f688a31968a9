"""Image side of a sample: safe decoding, and the interface to the model's image preprocessing.

Decoding is defensive because shards come from many places: PIL's decompression-bomb limit is
enforced, the image is fully decoded here (not lazily in the model), EXIF orientation is applied,
and everything is converted to RGB. JPEGs much larger than needed are decoded at a reduced DCT
scale (`draft`), which is exact for the sizes asked and several times cheaper.

Fast path: workers hand **uint8** pixels to the model ([crops, 3, H, W], resized with torch's
antialiased bicubic, which follows PIL's), and `normalize_pixels` runs on the device. A batch
then moves a quarter of the bytes through collation, pinned memory and the host-to-device copy.
The pixel preprocessing itself (single resolution or LLaVA-NeXT anyres) belongs to the model and
is passed in as an `ImagePreprocessor`.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Protocol

import torch
from PIL import Image, ImageOps

OPENAI_CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
MAX_IMAGE_PIXELS = 64_000_000


@dataclass(frozen=True)
class PreprocessedImage:
    """Crops of one image for the vision tower and what the model needs to place its features."""

    pixel_values: torch.Tensor  # [num_crops, 3, H, W], uint8 (normalise on device) or normalised float
    image_size: tuple[int, int]  # original (height, width)
    num_tokens: int  # image tokens this image becomes in the sequence


class ImagePreprocessor(Protocol):
    def __call__(self, image: Image.Image) -> PreprocessedImage: ...


def decode_image(data: bytes, max_pixels: int = MAX_IMAGE_PIXELS, at_least: int | None = None) -> Image.Image:
    """Decode image bytes to RGB with the bomb limit; raises ValueError on any problem.

    `at_least`: a JPEG may be decoded at 1/2, 1/4 or 1/8 scale as long as both sides stay ≥ it.
    """
    if not data:
        raise ValueError("empty image")
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.width * image.height > max_pixels:
                raise ValueError(f"image of {image.width}x{image.height} pixels exceeds {max_pixels}")
            if at_least and image.format == "JPEG":
                short = min(image.size)
                scale = max(1, min(8, short // at_least))
                if scale > 1:
                    image.draft("RGB", (image.width // scale, image.height // scale))
            image.load()
            return ImageOps.exif_transpose(image).convert("RGB")
    except (OSError, Image.DecompressionBombError, SyntaxError) as error:
        raise ValueError(f"image does not decode: {error}") from error


def resize_uint8(image: Image.Image, height: int, width: int) -> torch.Tensor:
    """RGB PIL image → uint8 [3, height, width], antialiased bicubic (torch's PIL-like kernel).

    The result may be a channels-last view; collation copies it into the batch once.
    """
    pixels = torch.frombuffer(bytearray(image.tobytes()), dtype=torch.uint8)
    channels_last = pixels.view(1, image.height, image.width, 3).permute(0, 3, 1, 2)
    if (image.height, image.width) == (height, width):
        return channels_last[0]
    resized = torch.nn.functional.interpolate(
        channels_last, size=(height, width), mode="bicubic", antialias=True, align_corners=False
    )
    return resized[0]


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
        pixels = resize_uint8(image, self.image_size, self.image_size).unsqueeze(0)
        return PreprocessedImage(pixels, (image.height, image.width), tokens)
