"""Issue 18: grouped shards (one image, several QA pairs as one conversation) from data_gen to the tokens
training learns from, across the shard contract: the loss falls on every answer, turn by turn, and the
image is encoded once."""

from __future__ import annotations

import json
from pathlib import Path

import webdataset as wds

from culturalpangea.data.image_processing import SingleResolutionPreprocessor
from culturalpangea.data.processing import SampleProcessor
from culturalpangea.data.tokenize import IGNORE_INDEX
from data_gen.qa.generate import QASettings
from data_gen.qa.stage import run_qa
from data_gen.shards.stage import ShardsSettings, run_shards
from tests.helpers.qa_inputs import write_inputs


def _learned_runs(tokenizer, labels) -> list[str]:
    runs, current = [], []
    for label in [*labels.tolist(), IGNORE_INDEX]:
        if label != IGNORE_INDEX:
            current.append(label)
        elif current:
            runs.append(tokenizer.decode(current))
            current = []
    return runs


def test_a_grouped_sample_learns_every_answer_once_and_sees_its_image_once(tmp_path: Path, tiny_tokenizer):
    out = write_inputs(tmp_path, per_country=6)
    run_qa(out, QASettings(mcq_fraction=0.0))
    run_shards(out, ShardsSettings(input="qa", heldout_fraction=0.0, group="image_language", max_turns=4))
    processor = SampleProcessor(tiny_tokenizer, SingleResolutionPreprocessor(56, 14), max_length=4096)
    image_token = tiny_tokenizer.convert_tokens_to_ids("<image>")
    checked = 0
    for raw in wds.WebDataset(sorted(str(p) for p in (out / "shards" / "open").glob("*.tar")), shardshuffle=False):
        sample = json.loads(raw["json"])
        processed = processor(raw)
        assert processed is not None
        # the hand-built expectation: each gpt turn, in order, followed by its end-of-turn marker
        expected = [f"{turn['value']}<|im_end|>" for turn in sample["conversations"][1::2]]
        assert _learned_runs(tiny_tokenizer, processed.labels) == expected
        assert len(expected) == len(sample["qa"]) and [p["answer"] for p in sample["qa"]] == [
            turn["value"] for turn in sample["conversations"][1::2]]
        assert len(processed.images) == 1  # one image per sample, however many questions
        assert processed.input_ids.tolist().count(image_token) == processed.images[0].num_tokens
        checked += len(expected) > 1
    assert checked > 0  # at least one sample really had several turns
