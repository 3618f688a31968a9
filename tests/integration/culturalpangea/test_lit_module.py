"""The LightningModule with a real tiny Qwen2 on text-only shards: learning, guard, exact resume.

The VLM composition arrives with the model issue; these tests drive the same module with the
LLM alone (a real model, real backward passes) so the recipe around the step is proven now.
"""

from __future__ import annotations

import math

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from transformers import AutoModelForCausalLM

from culturalpangea.data.datamodule import ShardDataModule
from culturalpangea.lit_module import CulturalPangeaModule, NonFiniteLossError, OptimConfig
from culturalpangea.optim import StagePlan
from data_gen.shards.writer import ShardSpec, write_shards
from tests.helpers.shard_samples import make_sample

PLAN = StagePlan({"llm": True}, {"llm": 1.0})


def _text_inputs(batch):
    return {key: batch[key] for key in ("input_ids", "attention_mask", "labels")}


def _module(tiny_stack, lr=3e-3, max_nonfinite=10, model=None):
    torch.manual_seed(0)
    model = model or AutoModelForCausalLM.from_pretrained(tiny_stack.llm_dir)
    return CulturalPangeaModule(model, {"llm": model}, PLAN, OptimConfig(lr=lr, warmup_ratio=0.1),
                                _text_inputs, max_nonfinite_steps=max_nonfinite)


def _datamodule(tmp_path, tokenizer, count=48):
    folder = tmp_path / "shards"
    if not folder.exists():
        write_shards([make_sample(i, with_image=False) for i in range(count)], folder, ShardSpec(max_samples=8))
    return ShardDataModule({"text": {"path": folder, "weight": 1.0}}, tokenizer, None, micro_batch_size=4, seed=5,
                           shuffle_buffer=8)


def _trainer(tmp_path, max_steps, callbacks=()):
    return L.Trainer(accelerator="cpu", devices=1, max_steps=max_steps, logger=False, enable_progress_bar=False,
                     enable_model_summary=False, default_root_dir=tmp_path, callbacks=list(callbacks),
                     reload_dataloaders_every_n_epochs=1, gradient_clip_val=1.0, num_sanity_val_steps=0)


class _StopAt(L.Callback):
    """Ends a run after `step` optimizer steps, like a crash would (the schedule still spans max_steps)."""

    def __init__(self, step):
        self.step = step

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if trainer.global_step >= self.step:
            trainer.should_stop = True


class _LossLog(L.Callback):
    def __init__(self):
        self.losses = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if outputs is not None:
            self.losses.append(float(outputs["loss"]))


def test_overfitting_one_batch_halves_the_loss_in_30_steps(tmp_path, tiny_stack, tiny_tokenizer):
    datamodule = _datamodule(tmp_path, tiny_tokenizer, count=4)
    datamodule.setup()
    batch = next(iter(datamodule.build_dataset()))
    loader = torch.utils.data.DataLoader([batch] * 30, batch_size=None)
    log = _LossLog()
    _trainer(tmp_path, 30, [log]).fit(_module(tiny_stack, lr=1e-2), train_dataloaders=loader)
    assert len(log.losses) == 30
    assert log.losses[-1] < 0.5 * log.losses[0]


class _PoisonedModel(torch.nn.Module):
    """Fault injection: the real model, with the loss replaced by NaN on chosen calls."""

    def __init__(self, model, poisoned_calls):
        super().__init__()
        self.model, self.poisoned_calls, self.calls = model, set(poisoned_calls), 0

    def forward(self, **inputs):
        outputs = self.model(**inputs)
        self.calls += 1
        if self.calls in self.poisoned_calls:
            outputs.loss = outputs.loss * float("nan")
        return outputs


def test_nonfinite_loss_steps_are_skipped_and_counted(tmp_path, tiny_stack, tiny_tokenizer):
    base = AutoModelForCausalLM.from_pretrained(tiny_stack.llm_dir)
    module = _module(tiny_stack, model=_PoisonedModel(base, {2, 3}))
    module._components = {"llm": base}
    before = {n: p.detach().clone() for n, p in base.named_parameters()}
    _trainer(tmp_path, 5).fit(module, datamodule=_datamodule(tmp_path, tiny_tokenizer))
    assert module.nonfinite_steps == 2
    assert all(torch.isfinite(p).all() for p in base.parameters())
    assert any(not torch.equal(before[n], p) for n, p in base.named_parameters())


def test_too_many_nonfinite_steps_stop_training(tmp_path, tiny_stack, tiny_tokenizer):
    base = AutoModelForCausalLM.from_pretrained(tiny_stack.llm_dir)
    module = _module(tiny_stack, max_nonfinite=2, model=_PoisonedModel(base, range(1, 100)))
    module._components = {"llm": base}
    with pytest.raises(NonFiniteLossError, match="3 steps with a non-finite loss"):
        _trainer(tmp_path, 10).fit(module, datamodule=_datamodule(tmp_path, tiny_tokenizer))


def test_resume_from_last_checkpoint_matches_an_uninterrupted_run(tmp_path, tiny_stack, tiny_tokenizer):
    full = _module(tiny_stack)
    _trainer(tmp_path / "full", 10).fit(full, datamodule=_datamodule(tmp_path, tiny_tokenizer))
    full_lr = full.trainer.optimizers[0].param_groups[0]["lr"]

    checkpoint = ModelCheckpoint(dirpath=tmp_path / "ckpt", every_n_train_steps=3, save_last=True)
    first = _module(tiny_stack)
    _trainer(tmp_path / "a", 10, [checkpoint, _StopAt(6)]).fit(first, datamodule=_datamodule(tmp_path, tiny_tokenizer))
    saved = torch.load(tmp_path / "ckpt" / "last.ckpt", weights_only=False, map_location="cpu")
    assert saved["global_step"] == 6 and saved["culturalpangea"]["data_position"]["0"]["batches_done"] == 6

    resumed = _module(tiny_stack)
    trainer = _trainer(tmp_path / "b", 10)
    trainer.fit(resumed, datamodule=_datamodule(tmp_path, tiny_tokenizer), ckpt_path=tmp_path / "ckpt" / "last.ckpt")
    assert trainer.global_step == 10
    assert math.isclose(trainer.optimizers[0].param_groups[0]["lr"], full_lr, rel_tol=1e-9)
    for (name, a), (_, b) in zip(full.model.named_parameters(), resumed.model.named_parameters(), strict=True):
        assert torch.allclose(a, b, atol=1e-6), name
