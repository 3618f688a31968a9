"""Batched generation for evaluation: ChatML prompts with images, left padding, KV cache, greedy or sampled.

A request is chat messages (`{"role": "system"|"user"|"assistant", "content": str}`, ending with a
user turn) and its images; each image needs one `<image>` placeholder in the user turns, and
images without one get it at the start of the first user turn (the LLaVA convention, as in
training). The prompt is rendered exactly as training renders a conversation (data/conversation.py:
default system turn "You are a helpful assistant.") followed by `<|im_start|>assistant\\n`.

Decoding is the project's own short loop rather than `transformers.generate`: the prompt is given
as embeddings (image features written in), which `generate` supports only with the KV cache, and
the cache-free path is needed to check the cached one. Position ids follow the attention mask, so a
left-padded row gets the same positions it would get alone. A row stops at `<|im_end|>` or any
end-of-sequence id of the tokenizer and generation config; finished rows are fed padding until
all rows are done or `max_new_tokens` is reached. Only the last position's logits are computed.
Sampling: temperature, then nucleus (top-p) filtering; `seed` makes it reproducible.
Returned text is decoded without special tokens and stripped of surrounding whitespace.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from PIL import Image
from transformers import DynamicCache

from culturalpangea.data.conversation import ROLES, ChatMLBuilder, RenderedConversation
from culturalpangea.data.tokenize import tokenize_with_loss_mask
from culturalpangea.models.chat_format import DEFAULT_SYSTEM_PROMPT, IM_END, IMAGE_TOKEN
from culturalpangea.models.loading import LoadedVLM
from culturalpangea.models.vlm import VisionLanguageModel


@dataclass
class GenerationRequest:
    messages: list[dict[str, Any]]
    images: list[Image.Image] = field(default_factory=list)


def render_prompt(messages: Sequence[dict[str, Any]], num_images: int) -> RenderedConversation:
    """ChatML prompt ending with the assistant header; adds missing `<image>` placeholders."""
    turns = []
    for index, message in enumerate(messages):
        role, content = ROLES.get(message.get("role", "")), message.get("content")
        if role is None or not isinstance(content, str):
            raise ValueError(f"message {index} has role {message.get('role')!r} or non-string content")
        if role != "user" and IMAGE_TOKEN in content:
            raise ValueError(f"message {index}: an image placeholder in a {role} turn")
        turns.append([role, content])
    users = [turn for turn in turns if turn[0] == "user"]
    if not users or turns[-1][0] != "user":
        raise ValueError("messages must contain a user turn and end with one")
    placeholders = sum(content.count(IMAGE_TOKEN) for _, content in users)
    if placeholders > num_images:
        raise ValueError(f"{placeholders} image placeholders for {num_images} images")
    users[0][1] = f"{IMAGE_TOKEN}\n" * (num_images - placeholders) + users[0][1]
    if turns[0][0] != "system":
        turns.insert(0, ["system", DEFAULT_SYSTEM_PROMPT])
    builder = ChatMLBuilder()
    for role, content in turns:
        builder.turn(role, content)
    builder.generation_prompt()
    return builder.build()


def prepare_generation_inputs(loaded: LoadedVLM, requests: Sequence[GenerationRequest]) -> dict[str, Any]:
    """Left-padded token ids with expanded image tokens, and the images' crops (uint8)."""
    model, tokenizer = loaded.model, loaded.tokenizer
    rows, images = [], []
    for index, request in enumerate(requests):
        try:
            prompt = render_prompt(request.messages, len(request.images))
        except ValueError as error:
            raise ValueError(f"request {index}: {error}") from error
        processed = [loaded.image_preprocessor(image.convert("RGB")) for image in request.images]
        tokens = tokenize_with_loss_mask(tokenizer, prompt, [p.num_tokens for p in processed], model.image_token_id)
        rows.append(tokens.input_ids)
        images.append(processed)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    longest = max(row.numel() for row in rows)
    input_ids = torch.full((len(rows), longest), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(rows), longest), dtype=torch.long)
    for index, row in enumerate(rows):
        input_ids[index, longest - row.numel():] = row
        attention_mask[index, longest - row.numel():] = 1
    flat = [image for sample in images for image in sample]
    return {
        "input_ids": input_ids,
        "attention_mask": attention_mask,
        "pixel_values": torch.cat([image.pixel_values for image in flat]) if flat else None,
        "crops_per_image": torch.tensor([image.pixel_values.shape[0] for image in flat], dtype=torch.long),
        "image_sizes": torch.tensor([image.image_size for image in flat], dtype=torch.long).view(-1, 2),
        "images_per_sample": torch.tensor([len(sample) for sample in images], dtype=torch.long),
    }


def stop_token_ids(loaded: LoadedVLM) -> list[int]:
    tokenizer = loaded.tokenizer
    ids = {tokenizer.convert_tokens_to_ids(IM_END)}
    candidates: list[Any] = [tokenizer.eos_token_id, getattr(loaded.model.llm.generation_config, "eos_token_id", None)]
    for candidate in candidates:
        if isinstance(candidate, int):
            ids.add(candidate)
        elif isinstance(candidate, list | tuple):
            ids.update(int(c) for c in candidate)
    return sorted(i for i in ids if i is not None and i >= 0)


def _choose(logits: torch.Tensor, do_sample: bool, temperature: float, top_p: float,
            generator: torch.Generator | None) -> torch.Tensor:
    if not do_sample:
        return logits.argmax(dim=-1)
    scores = logits.float() / temperature
    if top_p < 1.0:
        sorted_scores, order = scores.sort(dim=-1, descending=True)
        probs = sorted_scores.softmax(dim=-1)
        drop = probs.cumsum(dim=-1) - probs > top_p  # keep the smallest prefix reaching top_p
        sorted_scores = sorted_scores.masked_fill(drop, float("-inf"))
        scores = torch.full_like(scores, float("-inf")).scatter(-1, order, sorted_scores)
    return torch.multinomial(scores.softmax(dim=-1), 1, generator=generator).squeeze(-1)


def generate_ids(
    model: VisionLanguageModel,
    inputs: dict[str, Any],
    max_new_tokens: int,
    stop_ids: Sequence[int],
    pad_id: int,
    use_cache: bool = True,
    sampling: tuple[bool, float, float, torch.Generator | None] = (False, 1.0, 1.0, None),
) -> torch.Tensor:
    """New token ids [batch, ≤ max_new_tokens] (pad after a row's stop token)."""
    embeds = model.embed(inputs["input_ids"], inputs.get("pixel_values"), inputs.get("crops_per_image"),
                         inputs.get("image_sizes"), inputs.get("images_per_sample"))
    mask = inputs["attention_mask"]
    positions = (mask.cumsum(dim=-1) - 1).clamp(min=0)
    cache = DynamicCache(config=model.llm.config) if use_cache else None
    out = model.forward_embeds(embeds, mask, position_ids=positions, past_key_values=cache, use_cache=use_cache,
                               logits_to_keep=1)
    if use_cache and out.past_key_values is None:  # e.g. transformers drops the cache under checkpointing
        raise RuntimeError("the LLM returned no KV cache: generate with the model in eval mode")
    stops = torch.tensor(list(stop_ids), device=mask.device)
    finished = torch.zeros(mask.shape[0], dtype=torch.bool, device=mask.device)
    generated: list[torch.Tensor] = []
    embed_tokens = model.llm.get_input_embeddings()
    for step in range(max_new_tokens):
        chosen = _choose(out.logits[:, -1], *sampling)
        chosen = torch.where(finished, torch.full_like(chosen, pad_id), chosen)
        generated.append(chosen)
        finished |= torch.isin(chosen, stops)
        if bool(finished.all()) or step == max_new_tokens - 1:
            break
        mask = torch.cat([mask, torch.ones_like(mask[:, :1])], dim=1)
        positions = torch.cat([positions, positions[:, -1:] + 1], dim=1)
        new_embeds = embed_tokens(chosen[:, None]).to(embeds.dtype)
        if use_cache:
            out = model.forward_embeds(new_embeds, mask, position_ids=positions[:, -1:],
                                       past_key_values=out.past_key_values, use_cache=True, logits_to_keep=1)
        else:
            embeds = torch.cat([embeds, new_embeds], dim=1)
            out = model.forward_embeds(embeds, mask, position_ids=positions, logits_to_keep=1)
    if not generated:
        return torch.empty((mask.shape[0], 0), dtype=torch.long, device=mask.device)
    return torch.stack(generated, dim=1)


def generate_batch(
    loaded: LoadedVLM,
    requests: Sequence[GenerationRequest],
    max_new_tokens: int = 32,
    do_sample: bool = False,
    temperature: float = 1.0,
    top_p: float = 1.0,
    seed: int | None = None,
    use_cache: bool = True,
) -> list[str]:
    """Answers to `requests`, in order (see the module docstring)."""
    if not requests:
        return []
    if do_sample and (temperature <= 0 or not 0 < top_p <= 1):
        raise ValueError(f"sampling needs temperature > 0 and 0 < top_p <= 1 (got {temperature}, {top_p})")
    model, tokenizer = loaded.model, loaded.tokenizer
    device = next(model.parameters()).device
    inputs = {k: v.to(device) if isinstance(v, torch.Tensor) else v
              for k, v in prepare_generation_inputs(loaded, requests).items()}
    generator = torch.Generator(device=device).manual_seed(seed) if (do_sample and seed is not None) else None
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    was_training = model.training
    model.eval()  # no dropout; transformers keeps the KV cache only outside training with checkpointing
    try:
        with torch.inference_mode():
            tokens = generate_ids(model, inputs, max_new_tokens, stop_token_ids(loaded), pad_id, use_cache,
                                  (do_sample, temperature, top_p, generator))
    finally:
        model.train(was_training)  # a frozen tower stays in eval mode (see vision.py)
    return [tokenizer.decode(row.tolist(), skip_special_tokens=True).strip() for row in tokens.cpu()]
