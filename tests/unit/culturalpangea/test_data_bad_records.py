"""One bad record never stops training: wrong types, deep nesting, huge members are skipped and counted.

And when nothing is usable at all, the run stops with the reasons instead of spinning forever
(issue 15 §1–2). Each case here failed before: an AttributeError / RecursionError ended the run
(and every resume of it, the data order being deterministic), a 50 MB member was tokenized before
its size was checked, and `max_length` below every sample looped forever.
"""

from __future__ import annotations

import json
from functools import partial

import pytest

from culturalpangea.data.collate import collate_samples
from culturalpangea.data.image_processing import SingleResolutionPreprocessor
from culturalpangea.data.processing import SampleProcessor
from culturalpangea.data.skips import take_skip_counts
from culturalpangea.data.sources import load_sources
from culturalpangea.data.wds_pipeline import NoUsableSamplesError, WeightedShardMixture
from data_gen.shards.writer import ShardSpec, write_shards
from tests.helpers.shard_samples import make_sample, make_samples

GOOD = make_sample(1, with_image=False).sample


def _raw(record) -> dict:
    data = record if isinstance(record, bytes) else json.dumps(record).encode()
    return {"__key__": "k", "json": data}


def _turns(*turns) -> dict:
    return {**GOOD, "conversations": list(turns)}


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        (_turns("a string turn", {"from": "gpt", "value": "x"}), "conversation"),
        (_turns(None, {"from": "gpt", "value": "x"}), "conversation"),
        (_turns({"from": "human", "value": 5}, {"from": "gpt", "value": "x"}), "conversation"),
        (_turns({"from": ["human"], "value": "q"}, {"from": "gpt", "value": "x"}), "malformed:TypeError"),
        ({**GOOD, "conversations": []}, "conversation"),
        ({**GOOD, "conversations": "not a list"}, "bad_json"),
        (["a", "list"], "bad_json"),
        (b"[" * 20_000 + b"]" * 20_000, "bad_json"),  # RecursionError in json.loads before the fix
        (b"\xff\xfe not utf-8", "bad_json"),
    ],
)
def test_malformed_records_are_skipped_and_counted(tiny_tokenizer, record, reason):
    processor = SampleProcessor(tiny_tokenizer, SingleResolutionPreprocessor(56, 14), max_length=512)
    take_skip_counts()
    assert processor(_raw(record)) is None
    assert take_skip_counts() == {reason: 1}
    assert processor(_raw(GOOD)) is not None  # the processor goes on with the next record


def test_an_oversized_member_is_refused_by_its_size_before_parsing(tiny_tokenizer, monkeypatch):
    processor = SampleProcessor(tiny_tokenizer, SingleResolutionPreprocessor(56, 14), max_length=64)
    huge = json.dumps(_turns({"from": "human", "value": "q " * 200_000}, {"from": "gpt", "value": "a"})).encode()
    assert len(huge) > processor.max_json_bytes
    monkeypatch.setattr(json, "loads", lambda *a, **k: pytest.fail("the oversized member was parsed"))
    take_skip_counts()
    assert processor(_raw(huge)) is None
    assert take_skip_counts() == {"too_long_bytes": 1}


def test_no_usable_sample_stops_with_the_reasons_instead_of_hanging(tmp_path, tiny_tokenizer):
    write_shards(make_samples(12), tmp_path / "src", ShardSpec(max_samples=4))
    processor = SampleProcessor(tiny_tokenizer, SingleResolutionPreprocessor(56, 14), max_length=8)  # all too long
    collate = partial(collate_samples, pad_token_id=tiny_tokenizer.pad_token_id)
    dataset = WeightedShardMixture(load_sources({"src": {"path": tmp_path / "src", "weight": 1.0}}), processor,
                                   collate, micro_batch_size=2, num_workers=1, shuffle_buffer=4,
                                   max_consecutive_skips=50)
    take_skip_counts()
    with pytest.raises(NoUsableSamplesError, match=r"50 samples in a row could not be used \(skipped: too_long 50\)"):
        next(iter(dataset))
