"""Image side of a sample: safe decoding, and the interface to the model's image preprocessing.

Decoding is defensive because shards come from many places: PIL's decompression-bomb limit is
enforced, the image is fully decoded here (not lazily in the model), EXIF orientation is applied,
and everything is converted to RGB. The pixel preprocessing itself (single resolution or
LLaVA-NeXT anyres) belongs to the model and is passed in as an `ImagePreprocessor`.
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

    pixel_values: torch.Tensor  # [num_crops, 3, H, W]
    image_size: tuple[int, int]  # original (height, width)
    num_tokens: int  # image tokens this image becomes in the sequence


class ImagePreprocessor(Protocol):
    def __call__(self, image: Image.Image) -> PreprocessedImage: ...


def decode_image(data: bytes, max_pixels: int = MAX_IMAGE_PIXELS) -> Image.Image:
    """Decode image bytes to RGB with the bomb limit; raises ValueError on any problem."""
    if not data:
        raise ValueError("empty image")
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.width * image.height > max_pixels:
                raise ValueError(f"image of {image.width}x{image.height} pixels exceeds {max_pixels}")
            image.load()
            return ImageOps.exif_transpose(image).convert("RGB")
    except (OSError, Image.DecompressionBombError, SyntaxError) as error:
        raise ValueError(f"image does not decode: {error}") from error


def to_normalized_tensor(image: Image.Image, size: int) -> torch.Tensor:
    """Resize to size x size (bicubic) and normalise with OpenAI CLIP statistics → [3, size, size]."""
    resized = image.resize((size, size), Image.Resampling.BICUBIC)
    pixels = torch.frombuffer(bytearray(resized.tobytes()), dtype=torch.uint8).view(size, size, 3)
    tensor = pixels.permute(2, 0, 1).float().div_(255.0)
    mean = torch.tensor(OPENAI_CLIP_MEAN).view(3, 1, 1)
    std = torch.tensor(OPENAI_CLIP_STD).view(3, 1, 1)
    return (tensor - mean) / std


@dataclass(frozen=True)
class SingleResolutionPreprocessor:
    """LLaVA-1.5 style: one square crop per image, (size / patch)² tokens."""

    image_size: int
    patch_size: int

    def __call__(self, image: Image.Image) -> PreprocessedImage:
        tokens = (self.image_size // self.patch_size) ** 2
        pixels = to_normalized_tensor(image, self.image_size).unsqueeze(0)
        return PreprocessedImage(pixels, (image.height, image.width), tokens)
