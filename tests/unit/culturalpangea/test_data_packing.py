"""Packing: first-fit-decreasing rows, restarting positions, images in placeholder order, and a loss
equal to the unpacked batch's on the real tiny VLM (attention does not cross sample boundaries)."""

from __future__ import annotations

import io

import pytest
import torch
from PIL import Image

from culturalpangea.data.collate import collate_packed, collate_samples, first_fit_decreasing
from culturalpangea.data.processing import SampleProcessor
from culturalpangea.models.builder import build_vlm
from tests.helpers.shard_samples import make_sample


def test_first_fit_decreasing_fills_bins_deterministically():
    bins = first_fit_decreasing([5, 3, 8, 2, 4], capacity=10)
    assert bins == [[2, 3], [0, 4], [1]]
    assert first_fit_decreasing([12, 1], capacity=10) == [[0], [1]]  # too long: its own bin
    assert all(sum([5, 3, 8, 2, 4][i] for i in b) <= 10 for b in bins)


def _jpeg(width: int, height: int, seed: int) -> bytes:
    torch.manual_seed(seed)
    pixels = (torch.rand(height, width, 3) * 255).to(torch.uint8).numpy()
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG")
    return buffer.getvalue()


@pytest.fixture
def processed(tiny_model_cfg):
    model = build_vlm(tiny_model_cfg)
    processor = SampleProcessor(model.tokenizer, model.image_preprocessor, max_length=4096)
    samples = []
    for index, size in enumerate([(60, 40), None, (130, 50), (40, 90), None]):
        shard = make_sample(index, with_image=size is not None)
        raw = {"__key__": shard.key, "json": shard.members()[-1][1]}
        if size is not None:
            raw["jpg"] = _jpeg(*size, seed=index)
        samples.append(processor(raw))
    assert all(sample is not None for sample in samples)
    return model, samples


def test_packed_rows_keep_every_sample_and_restart_positions(processed):
    model, samples = processed
    lengths = [s.input_ids.numel() for s in samples]
    capacity = max(lengths) + min(lengths)
    batch = collate_packed(samples, model.tokenizer.pad_token_id, capacity)
    assert batch["input_ids"].shape[0] < len(samples)
    assert batch["input_ids"].shape[1] <= capacity
    assert sorted(batch["sequence_lengths"]) == sorted(lengths)
    real = batch["attention_mask"].bool()
    assert int(real.sum()) == sum(lengths)
    starts = int(((batch["position_ids"] == 0) & real).sum())
    assert starts == len(samples)  # one position-0 token per sample
    assert int(batch["images_per_sample"].sum()) == 3 and batch["pixel_values"].dtype == torch.uint8


def test_packed_loss_equals_the_unpacked_loss(processed):
    model, samples = processed
    model.eval()
    pad = model.tokenizer.pad_token_id
    capacity = sum(s.input_ids.numel() for s in samples)
    with torch.no_grad():
        plain = model(**model.batch_to_model_inputs(collate_samples(samples, pad))).loss
        packed_batch = collate_packed(samples, pad, capacity)
        assert packed_batch["input_ids"].shape[0] == 1  # everything in one row
        packed = model(**model.batch_to_model_inputs(packed_batch)).loss
        leaky = dict(model.batch_to_model_inputs(packed_batch))
        leaky["position_ids"] = None  # without the restarts, samples would see each other
        crossed = model(**leaky).loss
    assert torch.allclose(plain, packed, atol=1e-5, rtol=1e-5), (plain, packed)
    assert not torch.allclose(plain, crossed, atol=1e-4)
