"""What every refinement/filter backend shares: settings, result types, errors and the two interfaces.

Two interfaces, each with an HTTP (OpenAI-compatible server), a vLLM-offline and a transformers
implementation:

- `TextGenerator.generate(conversations, max_new_tokens) -> [Generation]` for refinement;
- `YesNoScorer.score(requests) -> [Score]` for the relevance filter.

Failures come in two kinds. A problem with *one request* that retrying cannot fix (the server
answers 400 because a prompt is too long) comes back inside its result (`error`), so the stage
keeps that record's template and counts the reason. A problem with *the backend* (server down,
429/5xx/timeouts past the retry budget, model folder missing) raises `BackendError`: the part being
processed is not written, the stage stops with one line, and a re-run resumes at that part.

`sample_fraction` < 1 sends only a fixed share of the records to the model (chosen by a hash of
the record ID, so the same records on every run and in every part split); the others pass
through with the outcome `not_sampled` — refine keeps their template, filter keeps them unscored.
The demo uses it to show both model stages on a stated subset of its data without spending most
of its time on a random model's replies; a real run keeps the default 1.0.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Protocol

from data_gen.common.errors import DataGenError
from data_gen.common.retry import RetrySettingsMixin

Message = dict[str, Any]
BACKENDS = ("none", "http", "transformers", "vllm")
APIS = ("chat", "completions")
NOT_SAMPLED = "not_sampled"  # the outcome of a record left out by sample_fraction


def is_sampled(record: dict[str, Any], fraction: float) -> bool:
    """Whether `sample_fraction` sends this record to the model: a hash of its ID below the fraction."""
    if fraction >= 1.0:
        return True
    digest = hashlib.sha256(str(record.get("id", "")).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") < fraction * 2**64


class BackendError(DataGenError):
    """The backend cannot serve requests (unreachable, overloaded past the retry budget, misconfigured)."""


@dataclass(frozen=True)
class BackendSettings(RetrySettingsMixin):
    """Settings common to the refine and filter blocks of configs/data_gen.yaml."""

    backend: str = "none"  # none | http | transformers | vllm
    model: str | None = None  # local path (transformers/vllm), served name (http), or "tiny"
    url: str | None = None  # http: base URL of the OpenAI-compatible API, e.g. http://node:8000/v1
    api: str = "chat"  # http: chat | completions (completions: text only, prompt rendered locally)
    tokenizer: str | None = None  # http completions: local tokenizer folder whose chat template is used
    api_key_env: str | None = None  # name of an environment variable holding a bearer token (never the key)
    concurrency: int = 32  # http: requests in flight
    timeout_s: float = 120.0  # http: per request
    max_attempts: int = 5  # http: tries per request (429, 5xx, timeouts, cut-off bodies)
    backoff_base_s: float = 1.0  # http: exponential backoff with jitter, 1, 2, 4 … s
    backoff_max_s: float = 30.0
    max_retry_after_s: float = 300.0  # a longer Retry-After stops the stage instead of waiting
    max_new_tokens: int | None = 256  # refine: null picks by model (refine/rewrite.py)
    batch_size: int = 16  # transformers / vllm: prompts per forward batch
    device: str = "auto"  # transformers: auto | cpu | cuda | cuda:N
    dtype: str = "auto"  # transformers: auto (bf16 on GPU, fp32 on CPU) | float32 | bfloat16 | float16
    tensor_parallel_size: int = 1  # vllm
    max_model_len: int | None = None  # vllm
    gpu_memory_utilization: float = 0.9  # vllm
    parts: str | None = None  # START:END slice of the input parts (SLURM array tasks)
    finalize: bool = False  # only check that every part exists and write the manifest
    sample_fraction: float = 1.0  # share of records sent to the model (by record-ID hash); the rest pass through

    def __post_init__(self) -> None:
        if not 0.0 <= float(self.sample_fraction) <= 1.0:
            raise ValueError(f"sample_fraction must be within [0, 1], got {self.sample_fraction}")
        if self.backend not in BACKENDS:
            raise ValueError(f"backend {self.backend!r} is not one of {', '.join(BACKENDS)}")
        if self.api not in APIS:
            raise ValueError(f"api {self.api!r} is not one of {', '.join(APIS)}")
        for name in ("concurrency", "max_attempts", "max_new_tokens", "batch_size", "tensor_parallel_size"):
            if getattr(self, name) is None and name == "max_new_tokens":
                continue  # refine: sized from the data by the stage (data_gen/refine/budget.py)
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        for name in ("timeout_s", "backoff_base_s", "backoff_max_s", "max_retry_after_s"):
            if float(getattr(self, name)) < 0:
                raise ValueError(f"{name} must not be negative, got {getattr(self, name)}")
        if self.backend != "none" and not self.model:
            raise ValueError(f"backend {self.backend!r} needs a model (a path, a served model name or 'tiny')")
        if self.backend == "http" and not self.url:
            raise ValueError("backend 'http' needs url (the server's OpenAI API base, e.g. http://host:8000/v1)")


@dataclass(frozen=True)
class Generation:
    """One generated reply: its text and why generation stopped ("stop", "length"), or an error."""

    text: str | None
    finish_reason: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class VisionRequest:
    """One relevance check: the record's question and answer, its image as JPEG bytes, and the entity."""

    question: str
    answer: str
    jpeg: bytes
    entity: str | None = None  # the entity the image should show ("Mount Fuji (Q39231)"), named in the prompt


@dataclass(frozen=True)
class Score:
    """P(yes) for one relevance check and where it came from ("logprobs", "logits" or "text")."""

    p_yes: float | None
    source: str | None
    text: str | None = None
    error: str | None = None


class TextGenerator(Protocol):
    def generate(self, conversations: list[list[Message]], max_new_tokens: int) -> list[Generation]: ...

    def close(self) -> None: ...


class YesNoScorer(Protocol):
    def score(self, requests: list[VisionRequest]) -> list[Score]: ...

    def close(self) -> None: ...
