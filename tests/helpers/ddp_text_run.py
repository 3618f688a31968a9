"""A two-process DDP run (CPU, gloo) of the LightningModule on text-only shards, as a script.

Lightning's DDP launcher re-executes the script for rank 1, so this must be a file, not a
function: `python tests/helpers/ddp_text_run.py <stack_dir> <shards_dir> <out_dir>`.
Writes `<out_dir>/rank<r>.json` with the keys each rank trained on, and a checkpoint.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from transformers import AutoModelForCausalLM, AutoTokenizer

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from culturalpangea.data.datamodule import ShardDataModule
from culturalpangea.lit_module import CulturalPangeaModule, OptimConfig
from culturalpangea.optim import StagePlan


class KeyLog(L.Callback):
    def __init__(self, out: Path) -> None:
        self.out, self.keys = out, []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self.keys += batch["keys"]

    def on_train_end(self, trainer, pl_module) -> None:
        (self.out / f"rank{trainer.global_rank}.json").write_text(json.dumps({"keys": self.keys,
                                                                             "world": trainer.world_size}))


def main() -> None:
    stack, shards, out = (Path(arg) for arg in sys.argv[1:4])
    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(stack / "tokenizer")
    model = AutoModelForCausalLM.from_pretrained(stack / "llm")
    module = CulturalPangeaModule(
        model, {"llm": model}, StagePlan({"llm": True}, {"llm": 1.0}), OptimConfig(lr=1e-3),
        lambda batch: {key: batch[key] for key in ("input_ids", "attention_mask", "labels")},
    )
    data = ShardDataModule({"text": {"path": shards, "weight": 1.0}}, tokenizer, None, micro_batch_size=2)
    trainer = L.Trainer(
        accelerator="cpu", devices=2, strategy="ddp", max_steps=4, logger=False, enable_progress_bar=False,
        default_root_dir=out, reload_dataloaders_every_n_epochs=1, enable_model_summary=False,
        callbacks=[KeyLog(out), ModelCheckpoint(dirpath=out / "ckpt", every_n_train_steps=4, save_last=True)],
    )
    trainer.fit(module, datamodule=data)


if __name__ == "__main__":
    main()
