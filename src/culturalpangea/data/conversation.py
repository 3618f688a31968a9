"""Render LLaVA-format conversations as ChatML text and mark the spans that carry the loss.

The text is exactly what the tokenizer's chat template renders (a default system turn
"You are a helpful assistant." unless the sample brings its own), so training sees the same token
boundaries as generation. Images stay single `<image>` placeholders here; tokenize.py expands each
into as many image tokens as the vision side produces (as HF's LlavaNext processor does), after
tokenization, which is much cheaper than tokenizing hundreds of placeholder strings.

Special tokens come only from the template: the renderer records the spans of the markers it
placed (and of the `<image>` placeholders of user turns); data text — questions, answers, labels —
is tokenized with special-token parsing off, so `<|im_end|>` written inside a record is text.

Loss mask decision (LLaVA-NeXT's Qwen preprocessing leaves the markers of every turn in the loss,
an open upstream bug): only assistant turns are learned. For each assistant turn the loss covers
its content and its closing `<|im_end|>` (so the model learns to stop); the `<|im_start|>assistant\\n`
header, the newline after `<|im_end|>`, and every system/user token including their ChatML markers
are excluded.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from culturalpangea.models.chat_format import DEFAULT_SYSTEM_PROMPT, IM_END, IM_START, IMAGE_TOKEN

ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant", "system": "system"}


class ConversationError(ValueError):
    """A conversation that cannot be rendered (unknown role, bad order, placeholder mismatch)."""


@dataclass(frozen=True)
class RenderedConversation:
    """ChatML text, the [start, end) spans of it that carry the loss, and the spans that are control tokens.

    `control_spans` are the only places a special token may come from: the ChatML markers the
    renderer placed and the `<image>` placeholders of user turns. Everything else is data text and
    is tokenized with special-token parsing off, so an `<|im_end|>` inside an answer or a label
    stays characters and can never end or forge a turn.
    """

    text: str
    loss_spans: tuple[tuple[int, int], ...]
    control_spans: tuple[tuple[int, int], ...] = ()


class ChatMLBuilder:
    """Appends ChatML turns, recording which spans are control tokens and which carry the loss."""

    def __init__(self) -> None:
        self.pieces: list[str] = []
        self.cursor = 0
        self.controls: list[tuple[int, int]] = []
        self.spans: list[tuple[int, int]] = []

    def _add(self, text: str) -> None:
        self.pieces.append(text)
        self.cursor += len(text)

    def control(self, token: str) -> None:
        start = self.cursor
        self._add(token)
        self.controls.append((start, self.cursor))

    def data(self, text: str, placeholders: bool = False) -> None:
        """Data text; with `placeholders`, each `<image>` in it is the image's control token."""
        parts = text.split(IMAGE_TOKEN) if placeholders else [text]
        for index, part in enumerate(parts):
            if index:
                self.control(IMAGE_TOKEN)
            self._add(part)

    def turn(self, role: str, text: str) -> None:
        """`<|im_start|>role\n text <|im_end|>\n`; an assistant turn's text and closing marker are learned."""
        self.control(IM_START)
        self._add(f"{role}\n")
        start = self.cursor
        self.data(text, placeholders=role == "user")
        self.control(IM_END)
        if role == "assistant":
            self.spans.append((start, self.cursor))
        self._add("\n")

    def generation_prompt(self) -> None:
        self.control(IM_START)
        self._add("assistant\n")

    def build(self) -> RenderedConversation:
        return RenderedConversation("".join(self.pieces), tuple(self.spans), tuple(self.controls))


def normalise_turns(conversations: Sequence[dict[str, Any]]) -> list[tuple[str, str]]:
    """LLaVA `{"from", "value"}` (or `{"role", "content"}`) turns → (role, text) with checks."""
    turns = []
    for index, turn in enumerate(conversations):
        if not isinstance(turn, Mapping):
            raise ConversationError(f"turn {index} is a {type(turn).__name__}, not an object")
        raw_role = turn.get("from", turn.get("role"))
        text = turn.get("value", turn.get("content"))
        if raw_role not in ROLES or not isinstance(text, str):
            raise ConversationError(f"turn {index} has role {raw_role!r} or a non-string value")
        turns.append((ROLES[raw_role], text))
    body = [role for role, _ in turns if role != "system"]
    if not body or body[-1] != "assistant" or any(a == b for a, b in itertools.pairwise(body)):
        raise ConversationError("turns must alternate user/assistant and end with the assistant")
    return turns


def render_chatml(
    conversations: Sequence[dict[str, Any]],
    num_images: int = 0,
    system_prompt: str = DEFAULT_SYSTEM_PROMPT,
) -> RenderedConversation:
    """Render turns as ChatML; the user turns must hold exactly `num_images` `<image>` placeholders."""
    turns = normalise_turns(conversations)
    if turns[0][0] != "system":
        turns.insert(0, ("system", system_prompt))
    builder = ChatMLBuilder()
    placeholders = 0
    for role, text in turns:
        if role != "user" and IMAGE_TOKEN in text:
            raise ConversationError(f"an image placeholder in a {role} turn")
        placeholders += text.count(IMAGE_TOKEN)
        builder.turn(role, text)
    if placeholders != num_images:
        raise ConversationError(f"{placeholders} image placeholders in the conversation for {num_images} images")
    return builder.build()
