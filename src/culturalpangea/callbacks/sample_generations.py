"""Every N optimizer steps, let the model answer a few fixed training prompts and log what it says.

Loss curves say little about whether a VLM reads images; a table of generations does. The prompts
are the first `num_samples` samples of the first training source (read once, at the start: the
first user turn and its image, the reference answer), so successive tables are comparable. Each
table goes to W&B (`samples/generations`) when a W&B logger is present, and always to
`<run_dir>/generations.jsonl` on rank 0. Every rank generates (cheap, a handful of prompts) so that
sharded strategies, where all ranks must take part in a forward pass, work too.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.loggers import WandbLogger

from culturalpangea.data.conversation import normalise_turns
from culturalpangea.data.image_processing import decode_image
from culturalpangea.data.tar_reader import tar_samples

log = logging.getLogger(__name__)


def first_prompts(shards: list[tuple[str, int | None]], count: int) -> list[dict[str, Any]]:
    """Up to `count` prompts `{key, question, reference, image}` from the start of a source's shards."""
    prompts: list[dict[str, Any]] = []
    for raw in tar_samples(shards):
        if len(prompts) >= count:
            break
        try:
            record = json.loads(raw["json"].decode("utf-8"))
            turns = normalise_turns(record["conversations"])
            image = decode_image(raw["jpg"]) if raw.get("jpg") else None
        except (KeyError, ValueError, TypeError, UnicodeDecodeError, AttributeError):
            continue  # a broken sample is the data pipeline's business; pick the next one
        if len(turns) >= 2 and turns[0][0] == "user" and turns[1][0] == "assistant":
            prompts.append({"key": raw.get("__key__", ""), "question": turns[0][1], "reference": turns[1][1],
                            "image": image})
    return prompts


class SampleGenerations(L.Callback):
    def __init__(self, every_n_steps: int = 500, num_samples: int = 4, max_new_tokens: int = 32,
                 run_dir: Path | None = None) -> None:
        if every_n_steps < 1 or num_samples < 1:
            raise ValueError("sample_generations: every_n_steps and num_samples must be positive")
        self.every_n_steps = every_n_steps
        self.num_samples = num_samples
        self.max_new_tokens = max_new_tokens
        self.run_dir = Path(run_dir) if run_dir else None
        self.prompts: list[dict[str, Any]] = []
        self._last_step = -1

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        datamodule = trainer.datamodule
        sources = getattr(datamodule, "sources", None) or []
        if sources:
            self.prompts = first_prompts(sources[0].shards_with_counts(), self.num_samples)
        if not self.prompts:
            log.warning("sample_generations: no usable prompt in the first source; the table stays empty")

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any,
                           batch: Any, batch_idx: int) -> None:
        step = trainer.global_step
        if not self.prompts or step in (self._last_step, 0) or step % self.every_n_steps:
            return
        self._last_step = step
        rows = self.generate(pl_module)
        if trainer.is_global_zero:
            self._publish(trainer, step, rows)

    def generate(self, pl_module: L.LightningModule) -> list[dict[str, Any]]:
        from culturalpangea.models.generation import GenerationRequest, generate_batch
        from culturalpangea.models.loading import LoadedVLM

        model = pl_module.model
        loaded = LoadedVLM(model, model.tokenizer, model.image_preprocessor)
        requests = [
            GenerationRequest(messages=[{"role": "user", "content": prompt["question"]}],
                              images=[prompt["image"]] if prompt["image"] is not None else [])
            for prompt in self.prompts
        ]
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad():
                answers = generate_batch(loaded, requests, max_new_tokens=self.max_new_tokens)
        finally:
            model.train(was_training)
            if was_training:  # frozen parts stay in eval mode, as the LightningModule keeps them
                for component in model.components().values():
                    if not any(p.requires_grad for p in component.parameters()):
                        component.eval()
        return [{"key": p["key"], "question": p["question"], "reference": p["reference"], "generation": answer}
                for p, answer in zip(self.prompts, answers, strict=True)]

    def _publish(self, trainer: L.Trainer, step: int, rows: list[dict[str, Any]]) -> None:
        run_dir = self.run_dir or Path(trainer.default_root_dir)
        with open(run_dir / "generations.jsonl", "a", encoding="utf-8") as handle:
            for row in rows:
                handle.write(json.dumps({"step": step, **row}, ensure_ascii=False) + "\n")
        for logger in trainer.loggers:
            if isinstance(logger, WandbLogger):
                columns = ["step", "key", "question", "reference", "generation"]
                logger.log_table("samples/generations", columns=columns,
                                 data=[[step, r["key"], r["question"], r["reference"], r["generation"]] for r in rows])
