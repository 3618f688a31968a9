"""JPEG draft decoding for anyres: geometry from the original size, equal to HF's on the full image.

A large JPEG is decoded at a reduced DCT scale, but the grid, the crop count, the padding and the
token count must stay those HF's LlavaNext processor gives for the image at its original size.
"""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import torch
from PIL import Image, ImageOps
from transformers import LlavaNextImageProcessor, LlavaNextProcessor
from transformers.models.llava_next.modeling_llava_next import image_size_to_num_patches

from culturalpangea.data.image_processing import (
    DRAFT_INFO,
    SingleResolutionPreprocessor,
    decode_image,
    normalize_pixels,
    original_size,
)
from culturalpangea.data.processing import SampleProcessor
from culturalpangea.models.anyres import AnyresGeometry, AnyresPreprocessor, fit_within, select_best_resolution

PAPER = AnyresGeometry(336, 14, ((336, 672), (672, 336), (672, 672), (1008, 336), (336, 1008)))
PINPOINTS = [list(p) for p in PAPER.grid_pinpoints]


def _jpeg(width: int, height: int, orientation: int | None = None) -> bytes:
    """A picture with detail (Mandelbrot + noise, never black), stored as JPEG (optionally EXIF-rotated)."""
    image = Image.effect_mandelbrot((width, height), (-2.0, -1.2, 1.0, 1.2), 50).convert("RGB")
    noise = np.random.default_rng(width * height).integers(-8, 9, (height, width, 3))
    pixels = 40 + np.asarray(image, dtype=np.int16) * 0.8 + noise  # black is left to the padding
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    buffer = io.BytesIO()
    if orientation is None:
        image.save(buffer, format="JPEG", quality=92)
    else:
        exif = Image.Exif()
        exif[0x0112] = orientation
        image.save(buffer, format="JPEG", quality=92, exif=exif)
    return buffer.getvalue()


def _full_decode(data: bytes) -> Image.Image:
    return ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB")


@pytest.fixture(scope="module")
def hf_processor(tiny_tokenizer):
    image_processor = LlavaNextImageProcessor(size={"shortest_edge": 336}, crop_size={"height": 336, "width": 336},
                                              image_grid_pinpoints=PINPOINTS)
    return LlavaNextProcessor(image_processor=image_processor, tokenizer=tiny_tokenizer, patch_size=14,
                              vision_feature_select_strategy="default", num_additional_image_tokens=1)


# (stored width, stored height, EXIF orientation): landscape, portrait, panorama, EXIF-rotated, 8x reduction
DRAFTED = [(2048, 1536, None), (1100, 2400, None), (3200, 720, None), (2400, 1100, 6), (4400, 3300, None)]


@pytest.mark.parametrize(("width", "height", "orientation"), DRAFTED)
def test_drafted_anyres_keeps_hf_geometry_of_the_original_size(hf_processor, width, height, orientation):
    data = _jpeg(width, height, orientation)
    full = _full_decode(data)
    size = (full.height, full.width)  # upright original
    preprocessor = AnyresPreprocessor(PAPER)
    drafted = decode_image(data, at_least=preprocessor.decode_at_least)
    # the decoder really reduced, and still covers the chosen resolution and the base crop
    assert drafted.width * 2 <= full.width and drafted.height * 2 <= full.height
    need_h, need_w = PAPER.decode_size(size)
    assert drafted.height >= need_h and drafted.width >= need_w
    assert original_size(drafted) == size
    ours = preprocessor(drafted)
    # token count and crop count: HF's for the original size
    assert ours.image_size == size
    assert ours.num_tokens == hf_processor._get_num_multimodal_tokens(image_sizes=[size]).num_image_tokens[0]
    assert ours.pixel_values.shape[0] == image_size_to_num_patches(list(size), PINPOINTS, 336)
    # crop geometry: HF's crops of the full image, padding exactly where HF pads, pixels within a few levels
    expected = hf_processor.image_processor(images=[full], return_tensors="pt")["pixel_values"][0]
    assert expected.shape == ours.pixel_values.shape
    pad_value = normalize_pixels(torch.zeros(1, 3, 1, 1, dtype=torch.uint8))[0, :, 0, 0].view(3, 1, 1)
    grid_expected, grid_ours = expected[1:], ours.pixel_values[1:]
    hf_pad = (expected[1:] - pad_value).abs().amax(dim=1) < 1e-6
    our_pad = (grid_ours == 0).all(dim=1)
    best = select_best_resolution(size, PAPER.grid_pinpoints)
    fitted = fit_within(size, best)
    assert int(our_pad.sum()) == best[0] * best[1] - fitted[0] * fitted[1]
    assert torch.equal(our_pad, hf_pad)  # padding exactly where HF pads
    difference = (normalize_pixels(ours.pixel_values) - expected).abs()
    assert float(difference.mean()) < 0.03  # ~2 grey levels in CLIP-normalised units
    assert float(difference[0].mean()) < 0.03 and grid_ours.shape == grid_expected.shape


@pytest.mark.parametrize(("width", "height"), [(500, 375), (1280, 960), (700, 700)])
def test_images_without_room_to_reduce_decode_exactly_as_before(width, height):
    data = _jpeg(width, height)
    preprocessor = AnyresPreprocessor(PAPER)
    drafted = decode_image(data, at_least=preprocessor.decode_at_least)
    assert DRAFT_INFO not in drafted.info and drafted.size == (width, height)
    assert torch.equal(preprocessor(drafted).pixel_values, preprocessor(decode_image(data)).pixel_values)


def test_original_size_is_ignored_once_the_image_was_resized():
    drafted = decode_image(_jpeg(2048, 1536), at_least=AnyresPreprocessor(PAPER).decode_at_least)
    assert original_size(drafted) == (1536, 2048)
    assert original_size(drafted.resize((300, 200))) == (200, 300)


def test_single_resolution_draft_keeps_both_sides_at_least_the_crop():
    data = _jpeg(1500, 700)
    image = decode_image(data, at_least=336)
    assert image.size == (750, 350) and original_size(image) == (700, 1500)
    assert SingleResolutionPreprocessor(336, 14)(image).image_size == (700, 1500)
    assert decode_image(_jpeg(640, 500), at_least=336).size == (640, 500)  # 500 // 336 < 2: full decode
    assert decode_image(_jpeg(3000, 640), at_least=PAPER.decode_size).size == (3000, 640)  # base crop needs 336


def test_sample_processor_uses_the_original_size_for_anyres(tiny_tokenizer):
    processor = SampleProcessor(tiny_tokenizer, AnyresPreprocessor(PAPER), max_length=8192)
    record = {"conversations": [{"from": "human", "value": "<image>\nWhere?"}, {"from": "gpt", "value": "Rome."}]}
    sample = processor({"__key__": "k", "jpg": _jpeg(2048, 1536), "json": json.dumps(record).encode()})
    assert sample is not None and sample.images[0].image_size == (1536, 2048)
    image_id = tiny_tokenizer.convert_tokens_to_ids("<image>")
    assert int((sample.input_ids == image_id).sum()) == PAPER.num_tokens((1536, 2048))


@pytest.mark.parametrize("at_least", [None, 336])
def test_exif_orientation_and_mode_are_applied_as_before(at_least):
    data = _jpeg(900, 400, orientation=6)  # stored landscape, shown portrait
    image = decode_image(data, at_least=at_least)
    assert image.mode == "RGB" and image.size == (400, 900)
    assert np.array_equal(np.asarray(image), np.asarray(_full_decode(data)))
    gray = io.BytesIO()
    Image.new("L", (50, 40), 77).save(gray, format="JPEG")
    decoded = decode_image(gray.getvalue(), at_least=at_least)
    assert decoded.mode == "RGB" and decoded.getpixel((3, 3)) == (77, 77, 77)


def test_single_crops_are_channels_last_so_collation_copies_them_once():
    pixels = SingleResolutionPreprocessor(336, 14)(decode_image(_jpeg(448, 336))).pixel_values
    assert pixels.shape == (1, 3, 336, 336) and pixels.is_contiguous(memory_format=torch.channels_last)
    batch = torch.cat([pixels, pixels])
    assert batch.is_contiguous(memory_format=torch.channels_last)  # cat kept the layout: a plain copy
