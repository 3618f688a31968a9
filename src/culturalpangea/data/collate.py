"""Batch processed samples: right padding, attention masks, labels, and variable image crops.

Text: `input_ids` padded on the right with the pad id, `attention_mask` 1 on real tokens, `labels`
-100 on padding. Images: every crop of every image in the batch is concatenated into
`pixel_values` [total_crops, 3, H, W]; `crops_per_image` and `image_sizes` say how to split them
back, and `images_per_sample` maps images to samples (text-only samples have 0). The batch also
carries the worker's skipped-sample counts since its previous batch (`skip_counts`).

Packing (`collate_packed`): the micro-batch's samples are placed into as few rows of at most
`max_length` tokens as first-fit-decreasing finds (deterministic), so a batch of very unequal
lengths wastes little on padding while keeping its number of *samples* — the recipe's global batch
stays a count of samples. `position_ids` restart at 0 for every sample, which is what keeps the
samples apart: given position ids and no 2-D mask, transformers builds a block-diagonal causal mask
(SDPA, eager, FlexAttention) or runs varlen kernels (flash-attention 2). No label crosses a sample
boundary, because every sample starts with unlabelled system tokens. `images_per_sample` then
counts images per *row*, in the order their placeholders appear, and `sequence_lengths` keeps the
per-sample lengths for throughput figures.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import torch

from culturalpangea.data.processing import ProcessedSample
from culturalpangea.data.skips import take_skip_counts
from culturalpangea.data.tokenize import IGNORE_INDEX


def _rows_to_batch(rows: list[list[ProcessedSample]], pad_token_id: int, packed: bool) -> dict[str, Any]:
    """Right-padded tensors from rows of samples (one sample per row unless packed)."""
    if not rows:
        raise ValueError("cannot collate an empty batch")
    lengths = [sum(sample.input_ids.numel() for sample in row) for row in rows]
    shape = (len(rows), max(lengths))
    input_ids = torch.full(shape, pad_token_id, dtype=torch.long)
    labels = torch.full(shape, IGNORE_INDEX, dtype=torch.long)
    attention_mask = torch.zeros(shape, dtype=torch.long)
    position_ids = torch.zeros(shape, dtype=torch.long)
    for index, row in enumerate(rows):
        input_ids[index, : lengths[index]] = torch.cat([sample.input_ids for sample in row])
        labels[index, : lengths[index]] = torch.cat([sample.labels for sample in row])
        attention_mask[index, : lengths[index]] = 1
        position_ids[index, : lengths[index]] = torch.cat([torch.arange(s.input_ids.numel()) for s in row])
        position_ids[index, lengths[index]:] = torch.arange(shape[1] - lengths[index])  # padding: its own block
    samples = [sample for row in rows for sample in row]
    images = [image for sample in samples for image in sample.images]
    batch: dict[str, Any] = {
        "input_ids": input_ids,
        "attention_mask": attention_mask,
        "labels": labels,
        "pixel_values": torch.cat([image.pixel_values for image in images]) if images else None,
        "crops_per_image": torch.tensor([image.pixel_values.shape[0] for image in images], dtype=torch.long),
        "image_sizes": torch.tensor([image.image_size for image in images], dtype=torch.long).view(-1, 2),
        "images_per_sample": torch.tensor([sum(len(s.images) for s in row) for row in rows], dtype=torch.long),
        "keys": ["+".join(sample.key for sample in row) for row in rows],
        "sequence_lengths": [sample.input_ids.numel() for sample in samples],
        "sources": dict(Counter(sample.source for sample in samples)),
        "skip_counts": take_skip_counts(),
    }
    if packed:
        batch["position_ids"] = position_ids
    return batch


def collate_samples(samples: Sequence[ProcessedSample], pad_token_id: int) -> dict[str, Any]:
    """Collate a list of samples into one right-padded batch, one sample per row."""
    return _rows_to_batch([[sample] for sample in samples], pad_token_id, packed=False)


def first_fit_decreasing(lengths: Sequence[int], capacity: int) -> list[list[int]]:
    """Indexes of items per bin (longest first, ties by index); an item longer than `capacity` gets its own bin."""
    bins: list[list[int]] = []
    free: list[int] = []
    for index in sorted(range(len(lengths)), key=lambda i: (-lengths[i], i)):
        target = next((b for b, room in enumerate(free) if lengths[index] <= room), None)
        if target is None:
            bins.append([index])
            free.append(capacity - lengths[index])
        else:
            bins[target].append(index)
            free[target] -= lengths[index]
    return bins


def collate_packed(samples: Sequence[ProcessedSample], pad_token_id: int, max_length: int) -> dict[str, Any]:
    """Pack the samples into rows of at most `max_length` tokens (see module docstring)."""
    bins = first_fit_decreasing([sample.input_ids.numel() for sample in samples], max_length)
    return _rows_to_batch([[samples[i] for i in sorted(b)] for b in bins], pad_token_id, packed=True)
