"""One raw shard sample (`__key__`, `jpg`, `json` bytes) → token ids, labels and image crops.

Runs inside DataLoader workers. Any sample that cannot be used is skipped with a counted reason
(see `skips.py`) rather than raising, so one bad record never stops a training run — nor, since
the data order is deterministic, every resume of it: wrong types anywhere in the JSON, nesting too
deep to parse and any other malformed content are counted (`malformed:<error type>` for what no
specific check names). Samples longer than `max_length` are not truncated: a cut answer or a cut
image would teach the wrong thing. A multi-turn sample (a grouped CulturalGround sample, issue 18)
is split at turn boundaries into consecutive pieces that fit, each with the sample's image in its
first user turn (`pieces`; counted as `split_long`); a sample that cannot be split to fit is
skipped (`too_long`). A JSON member too large to fit `max_length` tokens at any realistic bytes
per token (`max_json_bytes`) is skipped by its size, before it is parsed. An image without an
`<image>` placeholder in the conversation gets one at the start of the first user turn (the LLaVA
convention for such records).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import torch

from culturalpangea.data.conversation import ConversationError, render_chatml
from culturalpangea.data.image_processing import (
    ImagePreprocessor,
    PreprocessedImage,
    decode_image,
    original_size,
)
from culturalpangea.data.skips import record_skip
from culturalpangea.data.tokenize import tokenize_with_loss_mask
from culturalpangea.models.chat_format import IMAGE_TOKEN


@dataclass
class ProcessedSample:
    key: str
    input_ids: torch.Tensor  # [T] int64
    labels: torch.Tensor  # [T] int64, -100 outside assistant turns
    images: list[PreprocessedImage] = field(default_factory=list)
    source: str = ""


class _Skip(Exception):
    def __init__(self, reason: str, turns: list[list[dict[str, Any]]] | None = None,
                 images: list[PreprocessedImage] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.turns = turns  # an over-long sample's rounds, when it can be split at turn boundaries
        self.images = images or []


def _without_placeholder(turn: dict[str, Any]) -> dict[str, Any]:
    text = str(turn.get("value", ""))
    return {**turn, "value": text.replace(f"{IMAGE_TOKEN}\n", "").replace(IMAGE_TOKEN, "").strip()}


def _rounds(conversations: list[dict[str, Any]]) -> list[list[dict[str, Any]]] | None:
    """human/gpt rounds of a plain multi-turn conversation (None for anything else: system turns, odd shapes)."""
    if len(conversations) < 4 or len(conversations) % 2:
        return None
    if any(turn.get("from") != ("human" if i % 2 == 0 else "gpt") for i, turn in enumerate(conversations)):
        return None
    return [conversations[i:i + 2] for i in range(0, len(conversations), 2)]


def _with_placeholder(conversations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if any(IMAGE_TOKEN in str(turn.get("value", "")) for turn in conversations):
        return conversations
    first = dict(conversations[0])
    first["value"] = f"{IMAGE_TOKEN}\n{first.get('value', '')}"
    return [first, *conversations[1:]]


MIN_IMAGE_SIDE = 8  # a 1x1 or 4x4 picture carries nothing to learn
MAX_ASPECT_RATIO = 50  # 8000x2 would become a ~1.3M-pixel-wide resize: refused, not tiled
MAX_BYTES_PER_TOKEN = 256  # far above any real BPE token; the JSON's other fields get JSON_OVERHEAD_BYTES
JSON_OVERHEAD_BYTES = 65_536
MALFORMED = (TypeError, ValueError, AttributeError, KeyError, IndexError, RecursionError)


class SampleProcessor:
    """Callable used as a WebDataset map stage; returns None for a skipped sample."""

    def __init__(
        self,
        tokenizer,  # noqa: ANN001 - any HF fast tokenizer
        image_preprocessor: ImagePreprocessor | None,
        max_length: int,
        source: str = "",
    ) -> None:
        self.tokenizer = tokenizer
        self.image_preprocessor = image_preprocessor
        self.max_length = max_length
        self.source = source
        self.image_token_id = tokenizer.convert_tokens_to_ids(IMAGE_TOKEN)
        self.max_json_bytes = MAX_BYTES_PER_TOKEN * max_length + JSON_OVERHEAD_BYTES

    def __call__(self, raw: dict[str, Any]) -> ProcessedSample | None:
        """The sample as one piece, or None (skipped and counted; an over-long one included)."""
        try:
            return self._process(raw)
        except _Skip as skip:
            record_skip(skip.reason)
        except MALFORMED as error:  # whatever else a malformed record trips: counted, never fatal
            record_skip(f"malformed:{type(error).__name__}")
        return None

    def pieces(self, raw: dict[str, Any]) -> list[ProcessedSample]:
        """What the training stream uses: the sample, or an over-long multi-turn sample's pieces that fit
        (split at turn boundaries, the image in each), or nothing (skipped and counted)."""
        try:
            return [self._process(raw)]
        except _Skip as skip:
            if skip.reason == "too_long" and skip.turns is not None:
                pieces = self._split(raw, skip.turns, skip.images)
                if pieces:
                    record_skip("split_long")
                    return pieces
            record_skip(skip.reason)
        except MALFORMED as error:
            record_skip(f"malformed:{type(error).__name__}")
        return []

    def _tokens(self, conversations: list[dict[str, Any]], images: list[PreprocessedImage]) -> Any:
        try:
            rendered = render_chatml(conversations, num_images=len(images))
        except ConversationError as error:
            raise _Skip("conversation") from error
        return tokenize_with_loss_mask(
            self.tokenizer, rendered, [image.num_tokens for image in images], self.image_token_id
        )

    def _split(self, raw: dict[str, Any], rounds: list[list[dict[str, Any]]],
               images: list[PreprocessedImage]) -> list[ProcessedSample]:
        """Greedy consecutive pieces of whole rounds that fit `max_length`; [] when one round alone does not."""
        pieces: list[ProcessedSample] = []
        start = 0
        while start < len(rounds):
            fitted = None
            for end in range(start + 1, len(rounds) + 1):
                turns = [_without_placeholder(turn) for chunk in rounds[start:end] for turn in chunk]
                turns = _with_placeholder(turns) if images else turns
                tokens = self._tokens(turns, images)
                if tokens.input_ids.numel() > self.max_length:
                    break
                fitted = (end, tokens)
            if fitted is None:
                return []
            end, tokens = fitted
            pieces.append(ProcessedSample(
                key=f"{raw.get('__key__', '')}#{len(pieces)}", input_ids=tokens.input_ids, labels=tokens.labels,
                images=images, source=str(raw.get("__source__", self.source)),
            ))
            start = end
        return pieces

    def _images(self, raw: dict[str, Any]) -> list[PreprocessedImage]:
        if raw.get("jpg") is None:
            return []
        if self.image_preprocessor is None:
            raise _Skip("image_without_vision")
        try:
            at_least = getattr(self.image_preprocessor, "decode_at_least", None)
            image = decode_image(raw["jpg"], at_least=at_least)
        except ValueError as error:
            raise _Skip("image_decode") from error
        height, width = original_size(image)
        if min(height, width) < MIN_IMAGE_SIDE:
            raise _Skip("image_too_small")
        if max(height, width) > MAX_ASPECT_RATIO * min(height, width):
            raise _Skip("image_aspect_ratio")
        return [self.image_preprocessor(image)]

    def _process(self, raw: dict[str, Any]) -> ProcessedSample:
        data = raw.get("json")
        if isinstance(data, bytes) and len(data) > self.max_json_bytes:
            raise _Skip("too_long_bytes")
        try:
            record = json.loads(data.decode("utf-8")) if isinstance(data, bytes) else None
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
            record = None
        if not isinstance(record, dict) or not isinstance(record.get("conversations"), list):
            raise _Skip("bad_json")
        if not record["conversations"] or not all(isinstance(turn, dict) for turn in record["conversations"]):
            raise _Skip("conversation")
        images = self._images(raw)
        conversations = _with_placeholder(record["conversations"]) if images else record["conversations"]
        tokens = self._tokens(conversations, images)
        if tokens.input_ids.numel() > self.max_length:
            raise _Skip("too_long", _rounds(record["conversations"]), images)
        if tokens.num_loss_tokens == 0:
            raise _Skip("no_loss_tokens")
        return ProcessedSample(
            key=str(raw.get("__key__", "")),
            input_ids=tokens.input_ids,
            labels=tokens.labels,
            images=images,
            source=str(raw.get("__source__", self.source)),
        )
