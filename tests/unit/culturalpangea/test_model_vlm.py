"""The composed VLM against HF's LlavaNext (fp32 logit parity), its loss, and its input checks."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from transformers import LlavaNextForConditionalGeneration

from culturalpangea.data.collate import collate_samples
from culturalpangea.data.image_processing import normalize_pixels
from culturalpangea.data.processing import ProcessedSample
from culturalpangea.models.anyres import AnyresPreprocessor
from culturalpangea.models.loading import load_pretrained_vlm
from culturalpangea.models.parity import PARITY_CASES, build_case_inputs, check_parity

FP32_TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def loaded(tiny_llava_next):
    return load_pretrained_vlm(tiny_llava_next)


@pytest.fixture(scope="module")
def hf_model(tiny_llava_next):
    return LlavaNextForConditionalGeneration.from_pretrained(tiny_llava_next).eval()


def test_fp32_logits_match_hf_llava_next_in_every_case(tiny_llava_next):
    results = check_parity(tiny_llava_next)
    assert [case.name for case in results] == list(PARITY_CASES)
    anyres_ratios = {name for name in PARITY_CASES if name.startswith("anyres_")}
    assert len(anyres_ratios) >= 4
    for case in results:
        assert case.max_abs_diff <= FP32_TOLERANCE, case
        assert case.max_abs_logit > 1.0, case  # logits of order one: the tolerance means something
    assert len({case.image_tokens for case in results if case.name in anyres_ratios}) >= 4


def test_images_change_the_logits_after_them(loaded):
    inputs, _ = build_case_inputs(loaded, PARITY_CASES["anyres_wide_1x2"], np.random.default_rng(0))
    with torch.no_grad():
        base = loaded.model(**inputs).logits
        inputs["pixel_values"] = 255 - inputs["pixel_values"]
        flipped = loaded.model(**inputs).logits
    assert (base[0, -1] - flipped[0, -1]).abs().max() > 1e-2
    assert torch.equal(base[0, 0], flipped[0, 0])  # causal: the text before the image does not see it


def test_hf_padded_five_dimensional_pixels_are_accepted(loaded):
    inputs, images = build_case_inputs(loaded, PARITY_CASES["several_images_one_sample"], np.random.default_rng(1))
    most = max(image.pixel_values.shape[0] for image in images)
    padded = torch.zeros(len(images), most, 3, 56, 56, dtype=torch.uint8)
    for index, image in enumerate(images):
        padded[index, : image.pixel_values.shape[0]] = image.pixel_values
    with torch.no_grad():
        flat = loaded.model(**inputs).logits
        inputs["pixel_values"] = padded
        stacked = loaded.model(**inputs).logits
    assert torch.equal(flat, stacked)


def _labelled(inputs, image_token_id):
    labels = inputs["input_ids"].clone()
    labels[inputs["input_ids"] == image_token_id] = -100
    labels[inputs["attention_mask"] == 0] = -100
    labels[:, :3] = -100
    return labels


def test_loss_on_labelled_positions_equals_hf_and_the_full_logits_path(loaded, hf_model):
    inputs, _ = build_case_inputs(loaded, PARITY_CASES["padded_batch"], np.random.default_rng(2))
    labels = _labelled(inputs, loaded.model.image_token_id)
    with torch.no_grad():
        full = loaded.model(**inputs, labels=labels)
        lean = loaded.model(**inputs, labels=labels, return_logits=False)
        reference = hf_model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"], labels=labels,
                             pixel_values=normalize_pixels(inputs["pixel_values"]), image_sizes=inputs["image_sizes"])
    assert lean.logits is None
    assert torch.allclose(full.loss, lean.loss, atol=1e-6)
    assert torch.allclose(full.loss, reference.loss, atol=1e-5)


def test_text_only_batch_needs_no_pixels(loaded):
    ids = torch.tensor([[10, 11, 12, 13], [14, 15, 0, 0]])
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0]])
    with torch.no_grad():
        out = loaded.model(input_ids=ids, attention_mask=mask, labels=ids.masked_fill(mask == 0, -100))
        alone = loaded.model.llm(input_ids=ids, attention_mask=mask).logits
    assert torch.isfinite(out.loss) and torch.allclose(out.logits, alone, atol=1e-6)


def _image_batch(loaded, token_counts, keys=("JP-Q1-a", "JP-Q2-b")):
    preprocess = loaded.image_preprocessor
    image = preprocess(Image.new("RGB", (90, 40), (10, 200, 30)))
    samples = []
    for key, count in zip(keys, token_counts, strict=True):
        ids = torch.tensor([20, 21] + [loaded.model.image_token_id] * count + [22, 23])
        samples.append(ProcessedSample(key, ids, ids.clone(), [image]))
    return collate_samples(samples, pad_token_id=0), image


def test_collated_batch_runs_through_batch_to_model_inputs(loaded):
    tokens = loaded.model.num_image_tokens((40, 90))
    batch, _ = _image_batch(loaded, [tokens, tokens])
    inputs = loaded.model.batch_to_model_inputs(batch)
    assert inputs["return_logits"] is False and inputs["sample_keys"] == ["JP-Q1-a", "JP-Q2-b"]
    out = loaded.model(**inputs)
    assert out.logits is None and torch.isfinite(out.loss)


def test_image_token_count_mismatch_names_the_sample(loaded):
    image = loaded.image_preprocessor(Image.new("RGB", (90, 40)))
    batch, _ = _image_batch(loaded, [image.num_tokens, image.num_tokens - 1])
    with pytest.raises(ValueError, match=rf"sample JP-Q2-b: {image.num_tokens - 1} image tokens .* 1 image\(s\) with "
                                         rf"{image.num_tokens} features"):
        loaded.model(**loaded.model.batch_to_model_inputs(batch))


def test_image_tokens_without_pixels_and_wrong_crop_counts_are_errors(loaded):
    batch, image = _image_batch(loaded, [5, 5])
    inputs = loaded.model.batch_to_model_inputs(batch)
    with pytest.raises(ValueError, match=r"samples \['JP-Q1-a', 'JP-Q2-b'\] have image tokens but"):
        loaded.model(**{**inputs, "pixel_values": None})
    with pytest.raises(ValueError, match="image 0 of 40x90: 2 crops given, the model expects 3"):
        loaded.model(**{**inputs, "crops_per_image": torch.tensor([2, 3])})
    with pytest.raises(ValueError, match="need image_sizes"):
        loaded.model.encode_images(image.pixel_values)


def test_components_and_preprocessor(loaded):
    model = loaded.model
    assert set(model.components()) == {"vision", "connector", "llm"}
    assert isinstance(loaded.image_preprocessor, AnyresPreprocessor)
    assert model.num_image_tokens((40, 90)) == loaded.image_preprocessor(Image.new("RGB", (90, 40))).num_tokens
    assert not any(p.requires_grad for p in model.parameters()) and not model.training
