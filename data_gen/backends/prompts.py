"""The prompts of the refinement LLM and the relevance VLM, shared by every backend.

Prefix caching. vLLM and SGLang reuse the KV cache of a prompt prefix they have already seen
(vLLM `--enable-prefix-caching`, on by default in V1; SGLang's radix cache). Every request here is
therefore built as *fixed part first, variable part last*: the system message and the whole
instruction text are byte-identical for every record of every language, and the record itself
(language, question, answer, options) comes after them as one JSON object. The language name is
part of the JSON, never of the instruction, so 39 languages share one cached prefix; the
instruction is in English (the paper prompts Qwen2.5-72B in English too). For the VLM the image
varies per record, so the order is system, fixed instruction text, image, then the record's text:
the cache covers the system and instruction tokens. `PROMPT_VERSION` (a hash of the fixed text)
goes into each stage's settings fingerprint, so changing a prompt cannot silently mix outputs.

Refinement output format. The model replies with one JSON object
`{"question": <rewritten stem>, "answer": <the answer copied unchanged>}`. Echoing the answer lets
the guards see when the model has turned the question into a question about something else
(`answer_changed`); for multiple choice only the stem is rewritten and the options are shown for
context, never asked back (see `data_gen.refine.guards`).

Relevance question. "Does the image show what the question asks about, so that the question can
be answered by looking at it (with general knowledge about what is shown)?" — answered with one
word, Yes or No, in English whatever the question's language; P(yes) is read from the first
answer token's log-probabilities (`p_yes_from_logprobs`).
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from data_gen.common.errors import RecordError
from data_gen.common.writing_systems import language_script

Message = dict[str, Any]

REFINE_SYSTEM = (
    "You are a careful multilingual editor. You rewrite template-generated quiz questions about images "
    "so that they read as natural, fluent questions a native speaker would ask. "
    "You reply with one JSON object and nothing else."
)
REFINE_INSTRUCTION = (
    "Rewrite the question of the record below so that it is fluent, natural and grammatical in the record's "
    "language. Keep its meaning exactly: it must ask for the same fact about the same thing shown in the image, "
    "so that the given answer stays the only correct answer.\n"
    "\n"
    "Rules:\n"
    "1. Never write the answer, any of its aliases, or any word that gives the answer away.\n"
    "2. Write in the record's language and its usual script only. Keep names as they are written in the record.\n"
    "3. Keep about the same length. No explanation, no greeting, no quotation marks around the question, "
    "no line breaks.\n"
    '4. For a multiple-choice record ("type": "mcq"), rewrite only the question stem. Do not mention, list, '
    "change or reorder the options; they are shown only as context.\n"
    '5. Reply with exactly one JSON object: {"question": "<the rewritten question>", '
    '"answer": "<the answer, copied unchanged from the record>"}\n'
    "\n"
    "Record:\n"
)

FILTER_SYSTEM = "You are a careful annotator of visual question answering data."
FILTER_INSTRUCTION = (
    "You will see an image, then a question about it and the question's answer (the question may be in any "
    "language), and, when known, the entity the image is supposed to show. Decide whether the image shows "
    "that entity and what the question asks about, so that the question can be answered by looking at the "
    "image (with general knowledge about what is shown): a picture of another place or thing is No. "
    "Reply with one word, Yes or No, in English."
)

YES_VARIANTS = ("Yes", "yes", "YES", " Yes", " yes", "Yes.", "yes.")
NO_VARIANTS = ("No", "no", "NO", " No", " no", "No.", "no.")

PROMPT_VERSION = hashlib.sha256(
    "\x00".join([REFINE_SYSTEM, REFINE_INSTRUCTION, FILTER_SYSTEM, FILTER_INSTRUCTION]).encode()
).hexdigest()[:16]


@dataclass(frozen=True)
class RefineItem:
    """What the refinement prompt and guards need from one QA record."""

    question: str
    answer: str
    language: str
    question_type: str = "open"
    aliases: tuple[str, ...] = ()
    choices: tuple[str, ...] = ()

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> RefineItem:
        """Read the fields of a `qa` record; a ValueError names the record and the field."""
        rid = record.get("id")
        for key in ("question", "answer", "language", "question_type"):
            if not isinstance(record.get(key), str) or not record[key].strip():
                raise RecordError(f"record {rid!r}: field {key!r} is missing or not a non-empty string")
        language_script(record["language"])  # known language, or a ValueError naming it
        aliases = record.get("answer_aliases") or []
        choices = record.get("choices") or []
        if not all(isinstance(text, str) for text in [*aliases, *choices]):
            raise RecordError(f"record {rid!r}: 'answer_aliases' and 'choices' must hold strings")
        return cls(
            question=record["question"],
            answer=record["answer"],
            language=record["language"],
            question_type=record["question_type"],
            aliases=tuple(aliases),
            choices=tuple(choices),
        )


def refine_payload(item: RefineItem) -> str:
    """The variable part of a refinement prompt: the record as compact JSON (stable key order)."""
    payload: dict[str, Any] = {
        "language": f"{item.language} ({language_script(item.language).name})",
        "type": item.question_type,
        "question": item.question,
        "answer": item.answer,
    }
    if item.question_type == "mcq":
        payload["options"] = list(item.choices)
    return json.dumps(payload, ensure_ascii=False)


def refine_messages(item: RefineItem) -> list[Message]:
    """Chat messages for one refinement: fixed system + instruction, the record last."""
    return [
        {"role": "system", "content": REFINE_SYSTEM},
        {"role": "user", "content": REFINE_INSTRUCTION + refine_payload(item)},
    ]


def filter_text(question: str, answer: str, entity: str | None = None) -> str:
    """The variable text after the image in a relevance prompt (the entity named when the record knows it)."""
    shown = f"The image should show: {entity}\n" if entity else ""
    return f"{shown}Question: {question}\nAnswer: {answer}\nIs the image relevant, Yes or No?"


def filter_messages(question: str, answer: str, image_part: Message, entity: str | None = None) -> list[Message]:
    """Chat messages for one relevance check; `image_part` is the backend's image content part.

    HTTP and vLLM use `{"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,…"}}`
    (`data_url_part`); transformers processors use `{"type": "image"}` with the image passed apart.
    """
    return [
        {"role": "system", "content": FILTER_SYSTEM},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": FILTER_INSTRUCTION},
                image_part,
                {"type": "text", "text": filter_text(question, answer, entity)},
            ],
        },
    ]


def data_url_part(jpeg: bytes) -> Message:
    """An OpenAI-style image content part carrying a JPEG inline as a base64 data URL."""
    encoded = base64.b64encode(jpeg).decode("ascii")
    return {"type": "image_url", "image_url": {"url": f"data:image/jpeg;base64,{encoded}"}}


def yes_no_class(token: str) -> str | None:
    """'yes' / 'no' when a token is one of the answer variants (case, spaces, a final period)."""
    word = token.strip().rstrip(".").casefold()
    return word if word in ("yes", "no") else None


def p_yes_from_logprobs(top_logprobs: Mapping[str, float]) -> float | None:
    """P(yes) normalised over the yes/no variants among the first token's top log-probabilities.

    Probabilities of every variant of each class are summed ("Yes", " yes", "YES" …), then
    P(yes) = p_yes / (p_yes + p_no). None when no variant of either class is listed.
    """
    totals = {"yes": 0.0, "no": 0.0}
    for token, logprob in top_logprobs.items():
        kind = yes_no_class(token)
        if kind is not None and logprob is not None and math.isfinite(logprob):
            totals[kind] += math.exp(logprob)
    mass = totals["yes"] + totals["no"]
    return totals["yes"] / mass if mass > 0 else None


def p_yes_from_text(text: str | None) -> float | None:
    """1.0 / 0.0 when generated text starts with yes / no (case, punctuation ignored); else None."""
    if not text:
        return None
    first = text.strip().split(maxsplit=1)[0] if text.strip() else ""
    kind = yes_no_class(first.rstrip(".,!:;"))
    return None if kind is None else float(kind == "yes")
