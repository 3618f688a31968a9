"""The LightningModule trains the real tiny VLM from image + text shards through the anyres path."""

from __future__ import annotations

import io
from dataclasses import replace

import lightning as L
import torch
from PIL import Image

from culturalpangea.data.datamodule import ShardDataModule
from culturalpangea.lit_module import CulturalPangeaModule, OptimConfig
from culturalpangea.models.builder import build_vlm
from culturalpangea.optim import StagePlan
from data_gen.shards.writer import ShardSpec, write_shards
from tests.helpers.shard_samples import make_sample

FINETUNE = StagePlan({"vision": False, "connector": True, "llm": True}, {"vision": 0.0, "connector": 1.0, "llm": 1.0})
# (height, width) per sample: wide, tall, square and 3:1 images pick different anyres grids
IMAGE_SIZES = [(30, 90), (90, 30), (70, 70), (25, 150), (150, 40), (56, 56)]


def _jpeg(index: int, height: int, width: int) -> bytes:
    image = Image.new("RGB", (width, height), ((index * 53) % 256, (index * 29) % 256, (index * 71) % 256))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def _samples(count: int):
    samples = []
    for index in range(count):
        sample = make_sample(index, with_image=index % 4 != 3)  # every fourth sample is text-only
        if sample.image is not None:
            sample = replace(sample, image=_jpeg(index, *IMAGE_SIZES[index % len(IMAGE_SIZES)]))
        samples.append(sample)
    return samples


class _Record(L.Callback):
    def __init__(self):
        self.losses, self.crops, self.text_only = [], set(), 0

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.losses.append(float(outputs["loss"]))
        self.crops.update(batch["crops_per_image"].tolist())
        self.text_only += int((batch["images_per_sample"] == 0).sum())


def test_lightning_module_trains_the_tiny_vlm_through_anyres(tmp_path, tiny_model_cfg):
    write_shards(_samples(24), tmp_path / "shards", ShardSpec(max_samples=8))
    torch.manual_seed(0)
    model = build_vlm(tiny_model_cfg)
    frozen_before = {n: p.detach().clone() for n, p in model.vision.named_parameters()}
    newline_before = model.connector.image_newline.detach().clone()
    module = CulturalPangeaModule(model, model.components(), FINETUNE, OptimConfig(lr=1e-2, warmup_ratio=0.0),
                                  model.batch_to_model_inputs)
    datamodule = ShardDataModule({"mix": {"path": tmp_path / "shards", "weight": 1.0}}, model.tokenizer,
                                 model.image_preprocessor, micro_batch_size=4, seed=1, shuffle_buffer=8)
    datamodule.setup()
    fixed = next(iter(datamodule.build_dataset()))  # one real collated batch, trained on repeatedly
    record = _Record()
    trainer = L.Trainer(accelerator="cpu", devices=1, max_steps=20, logger=False, enable_progress_bar=False,
                        enable_model_summary=False, default_root_dir=tmp_path, callbacks=[record],
                        gradient_clip_val=1.0, num_sanity_val_steps=0)
    trainer.fit(module, train_dataloaders=torch.utils.data.DataLoader([fixed] * 20, batch_size=None))
    assert len(record.losses) == 20
    assert record.losses[-1] < 0.5 * record.losses[0]
    assert len(record.crops) >= 2 and max(record.crops) >= 3  # several anyres grids in the batch
    assert all(torch.equal(p, frozen_before[n]) for n, p in model.vision.named_parameters())
    assert not torch.equal(model.connector.image_newline, newline_before)  # anyres newline learned


def test_lightning_module_runs_on_the_shard_stream(tmp_path, tiny_model_cfg):
    write_shards(_samples(24), tmp_path / "shards", ShardSpec(max_samples=8))
    model = build_vlm(tiny_model_cfg)
    module = CulturalPangeaModule(model, model.components(), FINETUNE, OptimConfig(lr=1e-3, warmup_ratio=0.1),
                                  model.batch_to_model_inputs)
    datamodule = ShardDataModule({"mix": {"path": tmp_path / "shards", "weight": 1.0}}, model.tokenizer,
                                 model.image_preprocessor, micro_batch_size=4, seed=1, shuffle_buffer=8)
    record = _Record()
    trainer = L.Trainer(accelerator="cpu", devices=1, max_steps=6, logger=False, enable_progress_bar=False,
                        enable_model_summary=False, default_root_dir=tmp_path, callbacks=[record],
                        reload_dataloaders_every_n_epochs=1, num_sanity_val_steps=0)
    trainer.fit(module, datamodule=datamodule)
    assert trainer.global_step == 6 and all(torch.isfinite(torch.tensor(record.losses)))
    assert record.text_only > 0 and len(record.crops) >= 2
