"""Batch processed samples: right padding, attention masks, labels, and variable image crops.

Text: `input_ids` padded on the right with the pad id, `attention_mask` 1 on real tokens, `labels`
-100 on padding. Images: every crop of every image in the batch is concatenated into
`pixel_values` [total_crops, 3, H, W]; `crops_per_image` and `image_sizes` say how to split them
back, and `images_per_sample` maps images to samples (text-only samples have 0). The batch also
carries the worker's skipped-sample counts since its previous batch (`skip_counts`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import torch

from culturalpangea.data.processing import ProcessedSample
from culturalpangea.data.skips import take_skip_counts
from culturalpangea.data.tokenize import IGNORE_INDEX


def collate_samples(samples: Sequence[ProcessedSample], pad_token_id: int) -> dict[str, Any]:
    """Collate a list of samples into one right-padded batch (see module docstring)."""
    if not samples:
        raise ValueError("cannot collate an empty batch")
    longest = max(sample.input_ids.numel() for sample in samples)
    batch_size = len(samples)
    input_ids = torch.full((batch_size, longest), pad_token_id, dtype=torch.long)
    labels = torch.full((batch_size, longest), IGNORE_INDEX, dtype=torch.long)
    attention_mask = torch.zeros((batch_size, longest), dtype=torch.long)
    for row, sample in enumerate(samples):
        length = sample.input_ids.numel()
        input_ids[row, :length] = sample.input_ids
        labels[row, :length] = sample.labels
        attention_mask[row, :length] = 1
    images = [image for sample in samples for image in sample.images]
    batch: dict[str, Any] = {
        "input_ids": input_ids,
        "attention_mask": attention_mask,
        "labels": labels,
        "pixel_values": torch.cat([image.pixel_values for image in images]) if images else None,
        "crops_per_image": torch.tensor([image.pixel_values.shape[0] for image in images], dtype=torch.long),
        "image_sizes": torch.tensor([image.image_size for image in images], dtype=torch.long).view(-1, 2),
        "images_per_sample": torch.tensor([len(sample.images) for sample in samples], dtype=torch.long),
        "keys": [sample.key for sample in samples],
        "sources": dict(Counter(sample.source for sample in samples)),
        "skip_counts": take_skip_counts(),
    }
    return batch
