"""LLaVA-NeXT "anyres": grid choice, crops, token count and `spatial_unpad` packing, as HF's LlavaNext.

One image becomes a base crop (the whole image squashed to the tower's square input) plus a grid of
tower-sized crops cut from the image resized, aspect kept, into the best of the configured grid
resolutions ("pinpoints") and padded black around the centre. After the tower and the connector,
the grid's patch features are stitched back into one feature map, the rows and columns that only
saw padding are cut away (`spatial_unpad`), a learned `image_newline` vector ends every row, and
the base crop's features go first. The rules below are the ones transformers' LlavaNext model,
image processor and processor apply (checked against them in tests/unit/culturalpangea/test_model_anyres.py):

- best resolution: the pinpoint that keeps the most original pixels after an aspect-preserving
  downscale (truncating to ints), ties broken by the least wasted area, first in list order wins;
- resize for patching: the limiting side becomes the target side and the other side
  `ceil(side * scale)`, capped at the target; padding is centred with the odd pixel on the
  right/bottom; crops are cut row by row;
- unpad: in feature units, with `int(round(x, 7))` for the kept extent and the same amount cut
  from both ends.

Pixels stay uint8 here (resized with torch's antialiased bicubic, the same kernel torchvision
uses in HF's fast processor); `normalize_pixels` runs on the device inside the model.

JPEG draft: the grid, the resized extent, the padding and the token count are always computed from
the *original* size (read from the JPEG header, `original_size`), so they equal HF's on the full
image. The decoder only gets the smallest size that still covers the chosen resolution and the base
crop (`AnyresGeometry.decode_size`), so every resize stays a downscale; a large photo is decoded at
1/2–1/8 scale. What changes is the resampling source of the pixels (DCT-domain reduction, then the
antialiased bicubic), a difference of a few grey levels, the trade-off LLaVA-1.5 loaders make too.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from PIL import Image

from culturalpangea.data.image_processing import (
    PreprocessedImage,
    Size,
    original_size,
    resize_uint8,
    resize_uint8_nchw,
)


def select_best_resolution(image_size: Size, pinpoints: Sequence[Sequence[int]]) -> Size:
    """The (height, width) pinpoint that keeps most of the image's pixels, then wastes least."""
    height, width = image_size
    best: Size | None = None
    best_effective, best_wasted = 0, math.inf
    for target_h, target_w in pinpoints:
        scale = min(target_w / width, target_h / height)
        effective = min(int(width * scale) * int(height * scale), width * height)
        wasted = target_w * target_h - effective
        if effective > best_effective or (effective == best_effective and wasted < best_wasted):
            best, best_effective, best_wasted = (int(target_h), int(target_w)), effective, wasted
    if best is None:
        raise ValueError(f"no grid resolution fits an image of {height}x{width} (pinpoints {list(pinpoints)})")
    return best


def fit_within(image_size: Size, target: Size) -> Size:
    """Aspect-preserving resize of `image_size` into `target`: the limiting side fills its target."""
    height, width = image_size
    target_h, target_w = target
    scale_w, scale_h = target_w / width, target_h / height
    if scale_w < scale_h:
        return min(math.ceil(height * scale_w), target_h), target_w
    return target_h, min(math.ceil(width * scale_h), target_w)


def grid_shape(image_size: Size, pinpoints: Sequence[Sequence[int]], crop_size: int) -> Size:
    """(rows, columns) of tower crops the image is cut into."""
    best_h, best_w = select_best_resolution(image_size, pinpoints)
    return best_h // crop_size, best_w // crop_size


def num_crops(image_size: Size, pinpoints: Sequence[Sequence[int]], crop_size: int) -> int:
    """Crops the tower sees for one image: the grid plus the base crop."""
    rows, cols = grid_shape(image_size, pinpoints, crop_size)
    return rows * cols + 1


def unpadded_extent(image_size: Size, feature_size: Size) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) of the stitched feature map that covers the image, not the padding."""
    height, width = image_size
    current_h, current_w = feature_size
    if width / height > current_w / current_h:
        kept = int(round(height * (current_w / width), 7))
        pad = (current_h - kept) // 2
        return pad, current_h - pad, 0, current_w
    kept = int(round(width * (current_h / height), 7))
    pad = (current_w - kept) // 2
    return 0, current_h, pad, current_w - pad


@dataclass(frozen=True)
class AnyresGeometry:
    """What the model needs to know about anyres: crop size, patch size, pinpoints, newline."""

    crop_size: int
    patch_size: int
    grid_pinpoints: tuple[tuple[int, int], ...]
    image_newline: bool = True

    def __post_init__(self) -> None:
        if self.crop_size % self.patch_size:
            raise ValueError(f"crop size {self.crop_size} is not a multiple of the patch size {self.patch_size}")
        if not self.grid_pinpoints:
            raise ValueError("anyres needs at least one grid pinpoint")
        for pinpoint in self.grid_pinpoints:
            if len(pinpoint) != 2 or any(side <= 0 or side % self.crop_size for side in pinpoint):
                raise ValueError(f"grid pinpoint {list(pinpoint)} is not a multiple of the crop size {self.crop_size}")

    @property
    def patches_per_side(self) -> int:
        return self.crop_size // self.patch_size

    def num_crops(self, image_size: Size) -> int:
        return num_crops(image_size, self.grid_pinpoints, self.crop_size)

    def decode_size(self, image_size: Size) -> Size:
        """Smallest decoded (height, width) of an image of `image_size` that gives its crops by downscaling."""
        fitted_h, fitted_w = fit_within(image_size, select_best_resolution(image_size, self.grid_pinpoints))
        return max(fitted_h, self.crop_size), max(fitted_w, self.crop_size)

    def num_tokens(self, image_size: Size) -> int:
        """Image tokens in the sequence for an image of `image_size` (HF LlavaNextProcessor's count)."""
        side = self.patches_per_side
        rows, cols = grid_shape(image_size, self.grid_pinpoints, self.crop_size)
        top, bottom, left, right = unpadded_extent(image_size, (rows * side, cols * side))
        kept_rows, kept_cols = bottom - top, right - left
        return side * side + kept_rows * (kept_cols + int(self.image_newline))


def anyres_crops(image: Image.Image, geometry: AnyresGeometry, image_size: Size | None = None) -> torch.Tensor:
    """uint8 [1 + rows*cols, 3, crop, crop]: the base crop, then the grid crops row by row.

    `image_size`: the original (height, width) when `image` was decoded at a reduced scale.
    """
    crop = geometry.crop_size
    size = image_size or (image.height, image.width)
    best_h, best_w = select_best_resolution(size, geometry.grid_pinpoints)
    new_h, new_w = fit_within(size, (best_h, best_w))
    resized = resize_uint8(image, new_h, new_w)
    canvas = torch.zeros((3, best_h, best_w), dtype=torch.uint8)
    top, left = (best_h - new_h) // 2, (best_w - new_w) // 2
    canvas[:, top : top + new_h, left : left + new_w] = resized
    rows, cols = best_h // crop, best_w // crop
    grid = canvas.view(3, rows, crop, cols, crop).permute(1, 3, 0, 2, 4).reshape(rows * cols, 3, crop, crop)
    base = resize_uint8_nchw(image, crop, crop)
    return torch.cat([base, grid])


@dataclass(frozen=True)
class AnyresPreprocessor:
    """`ImagePreprocessor` for data workers and generation: uint8 crops and HF's token count."""

    geometry: AnyresGeometry

    @property
    def decode_at_least(self) -> Callable[[Size], Size]:
        return self.geometry.decode_size  # see the module docstring

    def __call__(self, image: Image.Image) -> PreprocessedImage:
        size = original_size(image)
        return PreprocessedImage(anyres_crops(image, self.geometry, size), size, self.geometry.num_tokens(size))


def pack_anyres_features(
    features: torch.Tensor, image_size: Size, geometry: AnyresGeometry, image_newline: torch.Tensor | None
) -> torch.Tensor:
    """Features of one image's crops [1 + rows*cols, side*side, D] → its token sequence [N, D].

    Base crop first, then the unpadded grid row by row, each row ended by `image_newline`.
    """
    side = geometry.patches_per_side
    rows, cols = grid_shape(image_size, geometry.grid_pinpoints, geometry.crop_size)
    if features.shape[0] != rows * cols + 1 or features.shape[1] != side * side:
        raise ValueError(
            f"image of {image_size[0]}x{image_size[1]}: features of shape {tuple(features.shape)} do not match "
            f"its {rows}x{cols} grid + base crop of {side}x{side} patches"
        )
    dim = features.shape[-1]
    base, grid = features[0], features[1:]
    stitched = grid.view(rows, cols, side, side, dim).permute(0, 2, 1, 3, 4).reshape(rows * side, cols * side, dim)
    top, bottom, left, right = unpadded_extent(image_size, (rows * side, cols * side))
    stitched = stitched[top:bottom, left:right]
    if image_newline is not None:
        newline = image_newline.to(stitched.dtype).view(1, 1, dim).expand(stitched.shape[0], 1, dim)
        stitched = torch.cat([stitched, newline], dim=1)
    return torch.cat([base, stitched.reshape(-1, dim)])
