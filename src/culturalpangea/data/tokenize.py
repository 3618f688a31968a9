"""Token ids and labels from rendered ChatML: a token is learned only inside a loss span.

The control spans of the rendering (ChatML markers, image placeholders) become their special token
ids; the data text between them is tokenized with special-token parsing off (a copy of the Rust
tokenizer with `encode_special_tokens`, or `split_special_tokens` on the transformers path), so text
inside a record can never become a control token. A tokenizer splits at its special tokens before
anything else, so segment by segment gives exactly the ids of tokenizing the whole text at once when
the data holds no special strings — which is also the fast path: when the text holds no more
special-token strings than the template placed, it is tokenized in one call. The offset mapping
says which characters each token covers, and a token is labelled when its characters lie inside a
loss span.
Each `<image>` token is then repeated to the image's feature count (never labelled): the same ids
as tokenizing the repeated placeholders, at a fraction of the cost.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from tokenizers import Tokenizer

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
    input_ids, offsets = _encode_with_offsets(tokenizer, rendered)
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


_BACKENDS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_ADDED_TOKENS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _added_token_strings(tokenizer) -> tuple[str, ...]:  # noqa: ANN001
    """Every string the tokenizer would match as one added (special) token."""
    strings = _ADDED_TOKENS.get(tokenizer)
    if strings is None:
        strings = tuple(getattr(tokenizer, "added_tokens_encoder", None) or {})
        _ADDED_TOKENS[tokenizer] = strings
    return strings


def _encode_whole(tokenizer, text: str) -> tuple[list[int], list[tuple[int, int]]]:  # noqa: ANN001
    """Ids and offsets of the whole text in one call, special tokens parsed."""
    if getattr(tokenizer, "backend_tokenizer", None) is not None:
        encoding = _backend(tokenizer, special_strings_as_text=False).encode(text, add_special_tokens=False)
        return encoding.ids, encoding.offsets
    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    return encoded["input_ids"], encoded["offset_mapping"]


def _backend(tokenizer, special_strings_as_text: bool) -> Tokenizer:  # noqa: ANN001 - an HF fast tokenizer
    """Our own copies of the Rust tokenizer, one per mode (built once per tokenizer).

    Own copies, because transformers flips `encode_special_tokens` on the shared backend for a
    `split_special_tokens=True` call and leaves it flipped.
    """
    copies = _BACKENDS.get(tokenizer)
    if copies is None:
        serialised = tokenizer.backend_tokenizer.to_str()
        copies = (Tokenizer.from_str(serialised), Tokenizer.from_str(serialised))
        copies[0].encode_special_tokens, copies[1].encode_special_tokens = False, True
        _BACKENDS[tokenizer] = copies
    return copies[special_strings_as_text]


def _encode_text(tokenizer, text: str) -> tuple[list[int], list[tuple[int, int]]]:  # noqa: ANN001
    """Ids and character offsets of data text, special-token parsing off."""
    if getattr(tokenizer, "backend_tokenizer", None) is not None:  # straight from Rust: a third faster
        encoding = _backend(tokenizer, special_strings_as_text=True).encode(text, add_special_tokens=False)
        return encoding.ids, encoding.offsets
    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True, split_special_tokens=True)
    return encoded["input_ids"], encoded["offset_mapping"]


def _encode_with_offsets(tokenizer, rendered: RenderedConversation  # noqa: ANN001
                         ) -> tuple[list[int], list[tuple[int, int]]]:
    """Control spans → their special token ids; the data text between → `_encode_text`."""
    text = rendered.text
    added = _added_token_strings(tokenizer)
    if added and sum(text.count(token) for token in added) == len(rendered.control_spans):
        return _encode_whole(tokenizer, text)  # no special string inside the data: one call is exact
    ids: list[int] = []
    offsets: list[tuple[int, int]] = []
    cursor = 0
    for start, end in (*rendered.control_spans, (len(text), len(text))):
        if cursor < start:
            segment_ids, segment_offsets = _encode_text(tokenizer, text[cursor:start])
            ids.extend(segment_ids)
            offsets.extend((cursor + a, cursor + b) for a, b in segment_offsets)
        if end > start:
            token_id = tokenizer.convert_tokens_to_ids(text[start:end])
            if token_id is None or token_id == getattr(tokenizer, "unk_token_id", None):
                raise ValueError(f"the tokenizer has no special token {text[start:end]!r}")
            ids.append(token_id)
            offsets.append((start, end))
        cursor = end
    return ids, offsets


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
