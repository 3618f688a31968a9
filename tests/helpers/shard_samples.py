"""Synthetic contract-valid samples for shard tests (deterministic, tiny JPEGs)."""

from __future__ import annotations

import io

from PIL import Image

from data_gen.shards.writer import ShardSample

LANGUAGES = ("en", "ja", "hi", "ar", "el", "am")


def tiny_jpeg(seed: int, size: int = 24) -> bytes:
    image = Image.new("RGB", (size, size), ((seed * 37) % 256, (seed * 91) % 256, (seed * 13) % 256))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=80)
    return buffer.getvalue()


def make_sample(index: int, with_image: bool = True) -> ShardSample:
    key = f"JP-Q{1000 + index}-P571-{LANGUAGES[index % len(LANGUAGES)]}-open-{index:05d}"
    sample = {
        "id": key,
        "qid": f"Q{1000 + index}",
        "country": "Japan",
        "language": LANGUAGES[index % len(LANGUAGES)],
        "property": "P571",
        "question_type": "open",
        "answer": str(1600 + index),
        "conversations": [
            {"from": "human", "value": ("<image>\n" if with_image else "") + "When was this built?"},
            {"from": "gpt", "value": str(1600 + index)},
        ],
        "provenance": {"template": "P571.open.0", "refined": False, "filter_score": None, "image": None},
    }
    return ShardSample(key, sample, tiny_jpeg(index) if with_image else None)


def make_samples(count: int) -> list[ShardSample]:
    return [make_sample(index, with_image=index % 10 != 9) for index in range(count)]
