"""LightningDataModule over weighted shard sources (see wds_pipeline.py for the stream itself).

The dataloader is rebuilt every epoch (the trainer is configured with
`reload_dataloaders_every_n_epochs=1`), so each epoch gets its own deterministic shard and
sample order, and the resume position saved in a checkpoint is applied to the epoch it belongs to.
Batches are made in the workers (`batch_size=None` on the DataLoader) so that decoding,
anyres preprocessing, tokenization and collation all run there.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

import lightning as L
import torch
from torch.utils.data import DataLoader

from culturalpangea.data.collate import collate_packed, collate_samples
from culturalpangea.data.image_processing import ImagePreprocessor
from culturalpangea.data.processing import SampleProcessor
from culturalpangea.data.sources import Source, load_sources
from culturalpangea.data.wds_pipeline import WeightedShardMixture, seed_everything_for_workers


class ShardDataModule(L.LightningDataModule):
    def __init__(
        self,
        sources: Mapping[str, Mapping[str, Any]],
        tokenizer,  # noqa: ANN001 - an HF fast tokenizer
        image_preprocessor: ImagePreprocessor | None,
        micro_batch_size: int,
        num_workers: int = 0,
        max_length: int = 4096,
        seed: int = 0,
        shuffle_buffer: int = 1000,
        packing: bool = False,
        max_consecutive_skips: int = 1000,
    ) -> None:
        super().__init__()
        self.source_config = sources
        self.tokenizer = tokenizer
        self.image_preprocessor = image_preprocessor
        self.micro_batch_size = micro_batch_size
        self.num_workers = num_workers
        self.max_length = max_length
        self.seed = seed
        self.shuffle_buffer = shuffle_buffer
        self.packing = packing
        self.max_consecutive_skips = max_consecutive_skips
        self.sources: list[Source] = []
        self.train_dataset: WeightedShardMixture | None = None

    def setup(self, stage: str | None = None) -> None:
        if not self.sources:
            self.sources = load_sources(self.source_config)

    def build_dataset(self, epoch: int = 0, resume: Mapping[int, Mapping[str, int]] | None = None
                      ) -> WeightedShardMixture:
        """The stream for `epoch`, continued from `resume` positions that belong to that epoch."""
        self.setup()
        processor = SampleProcessor(self.tokenizer, self.image_preprocessor, self.max_length)
        collate = (partial(collate_packed, pad_token_id=self.tokenizer.pad_token_id, max_length=self.max_length)
                   if self.packing else partial(collate_samples, pad_token_id=self.tokenizer.pad_token_id))
        dataset = WeightedShardMixture(
            self.sources, processor.pieces, collate, self.micro_batch_size, self.num_workers,
            seed=self.seed, shuffle_buffer=self.shuffle_buffer, max_consecutive_skips=self.max_consecutive_skips,
        )
        positions = {
            worker: (pos["batches_done"], pos["consumed"], pos.get("pieces_done", 0))
            for worker, pos in (resume or {}).items()
            if pos.get("epoch") == epoch
        }
        if positions:
            dataset.set_resume_position(epoch, positions)
        else:
            dataset.set_epoch(epoch)
        return dataset

    def train_dataloader(self) -> DataLoader:
        epoch, resume = 0, None
        if self.trainer is not None:
            epoch = self.trainer.current_epoch
            module = self.trainer.lightning_module
            resume = getattr(module, "resume_data_position", None)
            if resume:
                module.resume_data_position = None  # applies once, to the epoch it was saved in
        self.train_dataset = self.build_dataset(epoch, resume)
        return DataLoader(
            self.train_dataset,
            batch_size=None,
            num_workers=self.num_workers,
            pin_memory=torch.cuda.is_available(),
            persistent_workers=False,
            worker_init_fn=seed_everything_for_workers,
        )
