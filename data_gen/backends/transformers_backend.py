"""Local transformers backend: refinement with a causal LM, relevance with an image-text-to-text model.

For a single machine, a debug run or the demo (tiny random models); a cluster serves Qwen2.5-72B
with vLLM/SGLang and uses the HTTP backend instead. Both models load from a local folder through
the `Auto*` classes, so any HF checkpoint with a chat template works.

- Refinement: the tokenizer's chat template renders each conversation, prompts are sorted by
  length and batched with left padding (so generation continues right after each prompt), decoded
  greedily; `finish_reason` is "length" when no end-of-sequence token came within the budget.
- Relevance: the processor's chat template puts the image where the prompt says; one forward pass
  per batch, no generation. P(yes) = softmax mass of the single-token yes variants over that of
  yes + no variants at the last position ("logits" in the record). A tokenizer without a
  single-token "Yes" and "No" is refused: scoring the first piece of a split word would be a guess.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from data_gen.backends.base import BackendError, BackendSettings, Generation, Message, Score, VisionRequest
from data_gen.backends.prompts import NO_VARIANTS, YES_VARIANTS, filter_messages


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def resolve_dtype(name: str, device: torch.device) -> torch.dtype:
    if name == "auto":
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    try:
        return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[name]
    except KeyError:
        raise BackendError(f"dtype {name!r} is not one of auto, float32, bfloat16, float16") from None


def _check_model_dir(model: str | None) -> Path:
    path = Path(str(model)).expanduser()
    if not (path / "config.json").exists():
        raise BackendError(f"model folder {str(path)!r} has no config.json (transformers loads local paths only)")
    return path


def _batches(order: list[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(order), size):
        yield order[start : start + size]


class TransformersTextGenerator:
    """Greedy batched generation with `AutoModelForCausalLM` and the tokenizer's chat template."""

    def __init__(self, settings: BackendSettings) -> None:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        path = _check_model_dir(settings.model)
        self.settings = settings
        self.device = resolve_device(settings.device)
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.model = AutoModelForCausalLM.from_pretrained(path, dtype=resolve_dtype(settings.dtype, self.device))
        self.model.to(self.device).eval()
        eos = self.model.generation_config.eos_token_id or self.tokenizer.eos_token_id
        self.eos_ids = set(eos if isinstance(eos, list) else [eos])

    @torch.inference_mode()
    def generate(self, conversations: list[list[Message]], max_new_tokens: int) -> list[Generation]:
        prompts = [
            self.tokenizer.apply_chat_template(c, tokenize=False, add_generation_prompt=True) for c in conversations
        ]
        lengths = [len(p) for p in prompts]
        order = sorted(range(len(prompts)), key=lambda i: (lengths[i], i))
        results: list[Generation | None] = [None] * len(prompts)
        for batch in _batches(order, self.settings.batch_size):
            encoded = self.tokenizer(
                [prompts[i] for i in batch], return_tensors="pt", padding=True, add_special_tokens=False
            ).to(self.device)
            output = self.model.generate(
                **encoded,
                max_new_tokens=max_new_tokens,
                do_sample=False,
                pad_token_id=self.tokenizer.pad_token_id,
            )
            new_tokens = output[:, encoded["input_ids"].shape[1] :].tolist()
            for index, tokens in zip(batch, new_tokens, strict=True):
                stopped = any(token in self.eos_ids for token in tokens)
                text = self.tokenizer.decode(tokens, skip_special_tokens=True)
                results[index] = Generation(text, "stop" if stopped else "length")
        return [r for r in results if r is not None]

    def close(self) -> None:
        del self.model


def single_token_ids(tokenizer: Any, variants: tuple[str, ...]) -> list[int]:
    """Vocabulary ids of the variants that are one token each (duplicates removed)."""
    ids = []
    for variant in variants:
        encoded = tokenizer.encode(variant, add_special_tokens=False)
        if len(encoded) == 1 and encoded[0] not in ids:
            ids.append(encoded[0])
    return ids


class TransformersYesNoScorer:
    """P(yes) from the next-token distribution of `AutoModelForImageTextToText` after the prompt."""

    def __init__(self, settings: BackendSettings) -> None:
        from transformers import AutoModelForImageTextToText, AutoProcessor

        path = _check_model_dir(settings.model)
        self.settings = settings
        self.device = resolve_device(settings.device)
        self.processor = AutoProcessor.from_pretrained(path)
        tokenizer = self.processor.tokenizer
        tokenizer.padding_side = "left"
        self.yes_ids = single_token_ids(tokenizer, YES_VARIANTS)
        self.no_ids = single_token_ids(tokenizer, NO_VARIANTS)
        if not self.yes_ids or not self.no_ids:
            raise BackendError(f"tokenizer of {str(path)!r} has no single-token 'Yes'/'No'; cannot score relevance")
        self.dtype = resolve_dtype(settings.dtype, self.device)
        self.model = AutoModelForImageTextToText.from_pretrained(path, dtype=self.dtype)
        self.model.to(self.device).eval()

    @torch.inference_mode()
    def score(self, requests: list[VisionRequest]) -> list[Score]:
        from PIL import Image

        scores: list[Score] = []
        for batch in _batches(list(range(len(requests))), self.settings.batch_size):
            texts = [
                self.processor.apply_chat_template(
                    filter_messages(requests[i].question, requests[i].answer, {"type": "image"}, requests[i].entity),
                    tokenize=False,
                    add_generation_prompt=True,
                )
                for i in batch
            ]
            images = [Image.open(io.BytesIO(requests[i].jpeg)).convert("RGB") for i in batch]
            encoded = self.processor(text=texts, images=images, padding=True, return_tensors="pt")
            encoded = encoded.to(self.device, dtype=self.dtype)  # casts floating tensors only
            logits = self.model(**encoded, logits_to_keep=1).logits[:, -1, :].float()
            # p_yes / (p_yes + p_no) in log space: the softmax normaliser cancels, nothing underflows.
            margin = torch.logsumexp(logits[:, self.yes_ids], -1) - torch.logsumexp(logits[:, self.no_ids], -1)
            scores += [Score(float(p), "logits") for p in torch.sigmoid(margin)]
        return scores

    def close(self) -> None:
        del self.model
