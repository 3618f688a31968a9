"""Logit parity between the project's model and transformers' `LlavaNextForConditionalGeneration`.

Both models get the same random inputs: random-noise images of sizes chosen relative to the tower's
crop size so that every case exercises a different part of anyres (a crop-sized image; wide,
tall, large-square, 3:1 and 1:3 images that pick different grid pinpoints and unpad on either
axis), several images in one sample, and a right-padded batch mixing one-image, two-image and
text-only samples. Token ids are random non-special ids around the expanded image tokens. The
project's model takes the uint8 crops (normalised inside), HF takes the same crops normalised in
fp32, so only the models are compared. The difference is taken over attended positions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from transformers import LlavaNextForConditionalGeneration

from culturalpangea.data.image_processing import PreprocessedImage, normalize_pixels
from culturalpangea.models.loading import LoadedVLM, load_pretrained_vlm

# Image (height, width) as multiples of the crop size; one list of images per sample.
PARITY_CASES: dict[str, list[list[tuple[float, float]]]] = {
    "single_crop_size": [[(1.0, 1.0)]],
    "anyres_wide_1x2": [[(0.62, 1.9)]],
    "anyres_tall_2x1": [[(1.9, 0.62)]],
    "anyres_square_2x2": [[(1.7, 1.55)]],
    "anyres_wide_1x3": [[(0.45, 2.9)]],
    "anyres_tall_3x1": [[(2.8, 0.7)]],
    "several_images_one_sample": [[(0.8, 1.6), (1.3, 1.3), (2.2, 0.5)]],
    "padded_batch": [[(0.9, 1.7)], [(1.5, 0.8), (1.0, 1.0)], []],
}


@dataclass(frozen=True)
class ParityCase:
    name: str
    max_abs_diff: float
    max_abs_logit: float
    image_tokens: int


def _random_image(rng: np.random.Generator, height: int, width: int) -> Image.Image:
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))


def _text_ids(rng: np.random.Generator, allowed: np.ndarray, low: int, high: int) -> list[int]:
    return rng.choice(allowed, size=int(rng.integers(low, high + 1))).tolist()


def build_case_inputs(
    loaded: LoadedVLM, samples: Sequence[Sequence[tuple[float, float]]], rng: np.random.Generator
) -> tuple[dict[str, torch.Tensor], list[PreprocessedImage]]:
    """Right-padded ids with expanded image tokens, and the preprocessed images, for one case."""
    model, tokenizer = loaded.model, loaded.tokenizer
    crop = model.config.vision.image_size
    vocab = model.llm.get_input_embeddings().weight.shape[0]
    special = set(tokenizer.all_special_ids) | {model.image_token_id}
    allowed = np.array([i for i in range(min(vocab, len(tokenizer))) if i not in special])
    rows, images = [], []
    for sample in samples:
        ids = _text_ids(rng, allowed, 4, 9)
        for rel_h, rel_w in sample:
            image = loaded.image_preprocessor(_random_image(rng, round(rel_h * crop), round(rel_w * crop)))
            images.append(image)
            ids += [model.image_token_id] * image.num_tokens + _text_ids(rng, allowed, 2, 5)
        rows.append(ids)
    longest = max(len(row) for row in rows)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    input_ids = torch.full((len(rows), longest), pad, dtype=torch.long)
    attention_mask = torch.zeros_like(input_ids)
    for index, row in enumerate(rows):
        input_ids[index, : len(row)] = torch.tensor(row)
        attention_mask[index, : len(row)] = 1
    inputs = {"input_ids": input_ids, "attention_mask": attention_mask,
              "images_per_sample": torch.tensor([len(s) for s in samples])}
    if images:
        inputs["pixel_values"] = torch.cat([image.pixel_values for image in images])
        inputs["image_sizes"] = torch.tensor([image.image_size for image in images])
    return inputs, images


@torch.inference_mode()
def compare_case(loaded: LoadedVLM, hf_model: LlavaNextForConditionalGeneration, inputs: dict[str, torch.Tensor],
                 device: torch.device | str) -> tuple[float, float]:
    """(max |ours - HF| over attended positions, max |HF logit|)."""
    inputs = {key: value.to(device) for key, value in inputs.items()}
    ours = loaded.model(**inputs).logits.float()
    hf_inputs = {"input_ids": inputs["input_ids"], "attention_mask": inputs["attention_mask"]}
    if "pixel_values" in inputs:
        hf_inputs["pixel_values"] = normalize_pixels(inputs["pixel_values"], torch.float32)
        hf_inputs["image_sizes"] = inputs["image_sizes"]
    theirs = hf_model(**hf_inputs).logits.float()
    attended = inputs["attention_mask"].bool()
    return float((ours - theirs).abs()[attended].max()), float(theirs.abs()[attended].max())


def check_parity(
    hf_dir: str | Path,
    dtype: torch.dtype = torch.float32,
    device: str | torch.device = "cpu",
    seed: int = 0,
    project_dir: str | Path | None = None,
    cases: dict[str, list[list[tuple[float, float]]]] | None = None,
) -> list[ParityCase]:
    """Run every case through the project's model (from `project_dir`, else `hf_dir`) and HF's."""
    loaded = load_pretrained_vlm(project_dir or hf_dir, dtype=dtype, device=device)
    hf_model = LlavaNextForConditionalGeneration.from_pretrained(hf_dir, dtype=dtype, attn_implementation="sdpa")
    hf_model = hf_model.to(device).eval()
    rng = np.random.default_rng(seed)
    results = []
    for name, samples in (cases or PARITY_CASES).items():
        inputs, images = build_case_inputs(loaded, samples, rng)
        diff, scale = compare_case(loaded, hf_model, inputs, device)
        results.append(ParityCase(name, diff, scale, sum(image.num_tokens for image in images)))
    return results
