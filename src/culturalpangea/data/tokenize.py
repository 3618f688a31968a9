"""Token ids and labels from rendered ChatML: a token is learned only inside a loss span.

Tokenizing the whole text once (rather than turn by turn, as LLaVA does) keeps the token
boundaries identical to generation time; the offset mapping of the fast tokenizer says which
characters each token covers, and a token is labelled when its characters lie inside a span.
"""

from __future__ import annotations

from dataclasses import dataclass

from culturalpangea.data.conversation import RenderedConversation

IGNORE_INDEX = -100


@dataclass(frozen=True)
class TokenizedSample:
    input_ids: list[int]
    labels: list[int]

    @property
    def num_loss_tokens(self) -> int:
        return sum(label != IGNORE_INDEX for label in self.labels)


def tokenize_with_loss_mask(tokenizer, rendered: RenderedConversation) -> TokenizedSample:  # noqa: ANN001
    """Tokenize `rendered.text`; labels copy the ids inside `rendered.loss_spans`, else IGNORE_INDEX."""
    encoded = tokenizer(rendered.text, add_special_tokens=False, return_offsets_mapping=True)
    input_ids: list[int] = encoded["input_ids"]
    labels = [IGNORE_INDEX] * len(input_ids)
    spans = rendered.loss_spans
    span_index = 0
    for position, (start, end) in enumerate(encoded["offset_mapping"]):
        while span_index < len(spans) and start >= spans[span_index][1]:
            span_index += 1
        if span_index == len(spans):
            break
        span_start, span_end = spans[span_index]
        if end > start >= span_start and end <= span_end:
            labels[position] = input_ids[position]
    return TokenizedSample(input_ids, labels)
