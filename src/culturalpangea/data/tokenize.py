"""Token ids and labels from rendered ChatML: a token is learned only inside a loss span.

Tokenizing the whole text once (rather than turn by turn, as LLaVA does) keeps the token
boundaries identical to generation time; the offset mapping of the fast tokenizer says which
characters each token covers, and a token is labelled when its characters lie inside a span.
Each `<image>` token is then repeated to the image's feature count (never labelled): the same ids
as tokenizing the repeated placeholders, at a fraction of the cost.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from culturalpangea.data.conversation import RenderedConversation

IGNORE_INDEX = -100


@dataclass(frozen=True)
class TokenizedSample:
    input_ids: torch.Tensor  # [T] int64
    labels: torch.Tensor  # [T] int64, IGNORE_INDEX where no loss
    num_loss_tokens: int


def tokenize_with_loss_mask(
    tokenizer,  # noqa: ANN001 - an HF fast tokenizer
    rendered: RenderedConversation,
    image_token_counts: Sequence[int] = (),
    image_token_id: int | None = None,
) -> TokenizedSample:
    """Tokenize `rendered.text`; labels copy the ids inside `rendered.loss_spans`, else IGNORE_INDEX.

    The i-th image token becomes `image_token_counts[i]` image tokens.
    """
    input_ids, offsets = _encode_with_offsets(tokenizer, rendered.text)
    labels = [IGNORE_INDEX] * len(input_ids)
    spans = rendered.loss_spans
    span_index = learned = 0
    for position, (start, end) in enumerate(offsets):
        while span_index < len(spans) and start >= spans[span_index][1]:
            span_index += 1
        if span_index == len(spans):
            break
        span_start, span_end = spans[span_index]
        if end > start >= span_start and end <= span_end:
            labels[position] = input_ids[position]
            learned += 1
    ids, targets = torch.tensor(input_ids, dtype=torch.long), torch.tensor(labels, dtype=torch.long)
    if image_token_counts or image_token_id is not None:
        ids, targets = _expand_image_tokens(ids, targets, image_token_counts, image_token_id)
    return TokenizedSample(ids, targets, learned)


def _encode_with_offsets(tokenizer, text: str) -> tuple[list[int], list[tuple[int, int]]]:  # noqa: ANN001
    """Ids and character offsets; straight from the Rust tokenizer when there is one (a third faster)."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        encoding = backend.encode(text, add_special_tokens=False)
        return encoding.ids, encoding.offsets
    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    return encoded["input_ids"], encoded["offset_mapping"]


def _expand_image_tokens(
    input_ids: torch.Tensor, labels: torch.Tensor, counts: Sequence[int], image_token_id: int | None
) -> tuple[torch.Tensor, torch.Tensor]:
    if image_token_id is None:
        raise ValueError("image_token_id is needed to expand image placeholders")
    is_image = input_ids == image_token_id
    found = int(is_image.sum())
    if found != len(counts):
        raise ValueError(f"{found} image tokens in the text for {len(counts)} images")
    if not counts:
        return input_ids, labels
    repeats = torch.ones_like(input_ids)
    repeats[is_image] = torch.tensor(list(counts), dtype=torch.long)
    return input_ids.repeat_interleave(repeats), labels.repeat_interleave(repeats)
