"""VLM relevance filter: keep a record when P(yes) ≥ threshold for "is this image relevant to it?".

The paper filters CulturalGround's open-ended pairs with Qwen2.5-VL-72B / Gemma-3; here every
record's image and (possibly refined) question and answer go to a `YesNoScorer`
(`data_gen.backends`): over HTTP the score is P(yes) from the first token's top log-probabilities,
normalised over yes/no variants ("logprobs"); with transformers it is the same quantity from the
logits ("logits"); a server that returns no log-probabilities, or none of the yes/no tokens among
them, is scored from its generated text, 1.0 for yes and 0.0 for no ("text"). The score goes into
`provenance.filter_score` and its origin into `provenance.filter_source`, so a dataset built with
a text fallback can be told apart and re-thresholded later.

Counted outcomes per part: `kept`, `below_threshold`, `no_image` (the record names no image or the
file is missing/unreadable — dropped: a VQA sample needs its image), `unscored` (the text answer
was neither yes nor no), `request_failed` (the server refused that request for good). `backend:
none` keeps every record with a null score ("disabled") — the unfiltered ablation; records left
out by `sample_fraction` are kept the same way, counted as `not_sampled`.

Images are sent as stored (the image stage writes JPEGs ≤ 1280 px); anything else, or anything
larger than `max_image_side`, is re-encoded as a JPEG of at most that side first.
"""

from __future__ import annotations

import copy
import io
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from data_gen.backends.base import NOT_SAMPLED, BackendSettings, Score, VisionRequest, YesNoScorer, is_sampled

Record = dict[str, Any]
JPEG_MAGIC = b"\xff\xd8\xff"
TINY_THRESHOLD = 0.0  # the demo: every record gets a real score from the random model, none is dropped
REAL_THRESHOLD = 0.5


@dataclass(frozen=True)
class FilterSettings(BackendSettings):
    """The `filter:` block of configs/data_gen.yaml: backend settings plus the decision rule."""

    threshold: float | None = None  # keep when P(yes) >= threshold; null: 0.0 for model=tiny, else 0.5
    top_logprobs: int = 20  # http / vllm: alternatives returned for the first answer token
    max_image_side: int = 1280  # larger images are downscaled before sending

    def __post_init__(self) -> None:
        if self.threshold is None:  # a random tiny model's opinion drops nothing; a real filter does its job
            object.__setattr__(self, "threshold", TINY_THRESHOLD if self.model == "tiny" else REAL_THRESHOLD)
        super().__post_init__()
        if not 0.0 <= float(self.threshold) <= 1.0:
            raise ValueError(f"threshold must be within [0, 1], got {self.threshold}")


def image_bytes(path: Path, max_side: int) -> bytes:
    """The image as JPEG bytes of at most `max_side` pixels per side (stored JPEGs pass unchanged)."""
    from PIL import Image

    data = Path(path).read_bytes()
    with Image.open(io.BytesIO(data)) as image:
        if data.startswith(JPEG_MAGIC) and max(image.size) <= max_side:
            return data
        rgb = image.convert("RGB")
        rgb.thumbnail((max_side, max_side))
        buffer = io.BytesIO()
        rgb.save(buffer, format="JPEG", quality=90)
        return buffer.getvalue()


def _request(record: Record, root: Path, max_side: int) -> VisionRequest | None:
    relative = record.get("image")
    if not isinstance(relative, str) or not relative or Path(relative).is_absolute() or ".." in Path(relative).parts:
        return None
    try:
        jpeg = image_bytes(root / relative, max_side)
    except (OSError, ValueError):
        return None
    return VisionRequest(str(record.get("question", "")), str(record.get("answer", "")), jpeg, entity_name(record))


def entity_name(record: Record) -> str | None:
    """"Mount Fuji (Q39231)" from the record's entity label and QID (issue 17: the prompt never named the entity,
    so a photo of the wrong entity passed), or None when the record knows neither."""
    label = (record.get("provenance") or {}).get("entity_label")
    qid = record.get("qid")
    if label and qid:
        return f"{label} ({qid})"
    return label or qid or None


def _with_score(record: Record, score: float | None, source: str | None) -> Record:
    out = copy.deepcopy(record)
    provenance = out.setdefault("provenance", {})
    provenance["filter_score"] = None if score is None else round(float(score), 6)
    provenance["filter_source"] = source
    return out


def _decide(score: Score, threshold: float) -> str:
    if score.error:
        return "request_failed"
    if score.p_yes is None:
        return "unscored"
    return "kept" if score.p_yes >= threshold else "below_threshold"


def filter_records(
    records: list[Record], scorer: YesNoScorer | None, settings: FilterSettings, image_root: Path
) -> tuple[list[Record], Counter]:
    """Filter one part: (kept records in input order with their scores, counts per outcome)."""
    reasons: Counter = Counter()
    if scorer is None or settings.backend == "none":
        reasons["disabled"] += len(records)
        return [_with_score(r, None, None) for r in records], reasons
    sampled = [is_sampled(record, settings.sample_fraction) for record in records]
    requests = [_request(record, Path(image_root), settings.max_image_side) if chosen else None
                for record, chosen in zip(records, sampled, strict=True)]
    ready = [i for i, request in enumerate(requests) if request is not None]
    scores = scorer.score([requests[i] for i in ready]) if ready else []  # type: ignore[misc]
    if len(scores) != len(ready):
        raise RuntimeError(f"backend returned {len(scores)} scores for {len(ready)} requests")
    by_index = dict(zip(ready, scores, strict=True))
    kept = []
    for index, record in enumerate(records):
        if not sampled[index]:
            reasons[NOT_SAMPLED] += 1
            kept.append(_with_score(record, None, NOT_SAMPLED))
            continue
        score = by_index.get(index)
        outcome = "no_image" if score is None else _decide(score, settings.threshold)
        reasons[outcome] += 1
        if outcome == "kept":
            kept.append(_with_score(record, score.p_yes, score.source))  # type: ignore[union-attr]
    return kept, reasons
