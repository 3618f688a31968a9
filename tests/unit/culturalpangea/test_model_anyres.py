"""Anyres equals HF's LlavaNext: grid choice, crop count, crops' pixels, token count, feature packing."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from transformers import LlavaNextForConditionalGeneration, LlavaNextImageProcessor, LlavaNextProcessor
from transformers.image_processing_utils import select_best_resolution as hf_select_best_resolution
from transformers.models.llava_next.modeling_llava_next import image_size_to_num_patches

from culturalpangea.data.image_processing import normalize_pixels
from culturalpangea.models.anyres import (
    AnyresGeometry,
    AnyresPreprocessor,
    pack_anyres_features,
    select_best_resolution,
)
from tiny_models.llava_next import TINY_GRID_PINPOINTS

PAPER_PINPOINTS = ((336, 672), (672, 336), (672, 672), (1008, 336), (336, 1008))
PAPER = AnyresGeometry(336, 14, PAPER_PINPOINTS)
TINY = AnyresGeometry(56, 14, TINY_GRID_PINPOINTS)


def _sizes(count: int, low: int, high: int, seed: int = 0) -> list[tuple[int, int]]:
    rng = np.random.default_rng(seed)
    extremes = [(low, high), (high, low), (low, low), (high, high), (1, high), (high, 1)]
    return extremes + [tuple(int(v) for v in rng.integers(low, high, 2)) for _ in range(count)]


def _random_image(height: int, width: int, seed: int = 0) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8))


@pytest.mark.parametrize("geometry", [PAPER, TINY], ids=["paper", "tiny"])
def test_grid_choice_and_crop_count_match_hf(geometry):
    pinpoints = [list(p) for p in geometry.grid_pinpoints]
    for size in _sizes(300, 8, geometry.crop_size * 5):
        expected = tuple(hf_select_best_resolution(size, pinpoints))
        assert select_best_resolution(size, geometry.grid_pinpoints) == expected
        assert geometry.num_crops(size) == image_size_to_num_patches(list(size), pinpoints, geometry.crop_size)


@pytest.mark.parametrize("geometry", [PAPER, TINY], ids=["paper", "tiny"])
def test_token_count_matches_hf_processor(tiny_tokenizer, geometry):
    size = geometry.crop_size
    image_processor = LlavaNextImageProcessor(size={"shortest_edge": size}, crop_size={"height": size, "width": size},
                                              image_grid_pinpoints=[list(p) for p in geometry.grid_pinpoints])
    processor = LlavaNextProcessor(image_processor=image_processor, tokenizer=tiny_tokenizer, patch_size=14,
                                   vision_feature_select_strategy="default", num_additional_image_tokens=1)
    sizes = _sizes(300, 4, size * 5, seed=1)
    expected = processor._get_num_multimodal_tokens(image_sizes=sizes).num_image_tokens
    assert [geometry.num_tokens(s) for s in sizes] == expected
    # and through the processor's public path, on real images
    image_id = tiny_tokenizer.convert_tokens_to_ids("<image>")
    for height, width in [(size, size), (size // 2, 3 * size), (2 * size + 7, size - 5)]:
        encoded = processor(images=[_random_image(height, width)], text="<image> what", return_tensors="pt")
        assert int((encoded["input_ids"] == image_id).sum()) == geometry.num_tokens((height, width))


def test_paper_geometry_gives_the_familiar_counts():
    assert PAPER.num_tokens((336, 336)) == 576 + 24 * (24 + 1)  # a 336x672 grid, its right half padding
    assert PAPER.num_tokens((672, 672)) == 576 + 48 * 49
    assert PAPER.num_crops((1000, 300)) == 4  # 1008x336 grid: 3 crops + base


@pytest.mark.parametrize("size", [(56, 56), (37, 101), (101, 37), (80, 90), (30, 160), (170, 50), (13, 200)])
def test_crops_equal_hf_image_processor_pixels(size):
    image = _random_image(*size, seed=sum(size))
    hf = LlavaNextImageProcessor(size={"shortest_edge": 56}, crop_size={"height": 56, "width": 56},
                                 image_grid_pinpoints=[list(p) for p in TINY_GRID_PINPOINTS])
    expected = hf(images=[image], return_tensors="pt")
    ours = AnyresPreprocessor(TINY)(image)
    assert ours.pixel_values.dtype == torch.uint8 and ours.image_size == size
    assert ours.pixel_values.shape[0] == TINY.num_crops(size) == expected["pixel_values"].shape[1]
    assert torch.allclose(normalize_pixels(ours.pixel_values), expected["pixel_values"][0], atol=1e-5)
    assert ours.num_tokens == TINY.num_tokens(size)


def test_packing_matches_hf_pack_image_features(tiny_llava_next):
    hf = LlavaNextForConditionalGeneration.from_pretrained(tiny_llava_next).eval()
    newline = hf.model.image_newline.detach()
    generator = torch.Generator().manual_seed(0)
    sizes = [(37, 101), (101, 37), (80, 90), (30, 160), (170, 50), (3, 150)]
    features = [torch.randn(TINY.num_crops(s), 16, newline.shape[0], generator=generator) for s in sizes]
    expected, lengths = hf.model.pack_image_features(features, torch.tensor(sizes), "default", newline)
    for feature, size, wanted, length in zip(features, sizes, expected, lengths.tolist(), strict=True):
        packed = pack_anyres_features(feature, size, TINY, newline)
        assert packed.shape[0] == length == TINY.num_tokens(size)
        assert torch.equal(packed, wanted)


def test_packing_rejects_features_that_do_not_fit_the_grid():
    with pytest.raises(ValueError, match="image of 37x101"):
        pack_anyres_features(torch.zeros(5, 16, 8), (37, 101), TINY, None)


@pytest.mark.parametrize(
    ("args", "message"),
    [((56, 14, ((56, 100),)), "not a multiple of the crop size"), ((50, 14, ((50, 100),)), "multiple of the patch"),
     ((56, 14, ()), "at least one")],
)
def test_geometry_rejects_inconsistent_settings(args, message):
    with pytest.raises(ValueError, match=message):
        AnyresGeometry(*args)
