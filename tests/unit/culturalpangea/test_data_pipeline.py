"""Weighted WebDataset mixture: order, weights, exact resume, skipped-sample accounting, collation."""

from __future__ import annotations

import io
import json
import shutil
import tarfile
from collections import Counter
from functools import partial

import pytest
import torch
from torch.utils.data import DataLoader

from culturalpangea.data import wds_pipeline
from culturalpangea.data.collate import collate_samples
from culturalpangea.data.image_processing import SingleResolutionPreprocessor
from culturalpangea.data.processing import SampleProcessor
from culturalpangea.data.skips import take_skip_counts
from culturalpangea.data.sources import SourceError, load_sources
from culturalpangea.data.wds_pipeline import WeightedShardMixture
from data_gen.shards.writer import ShardSample, ShardSpec, write_shards
from tests.helpers.shard_samples import make_sample

IGNORE = -100


def _source_folder(tmp_path, name, count, offset=0, per_shard=8):
    samples = [make_sample(offset + index, with_image=index % 5 != 4) for index in range(count)]
    write_shards(samples, tmp_path / name, ShardSpec(max_samples=per_shard))
    return tmp_path / name


def _dataset(tmp_path, tokenizer, sources=None, micro=4, workers=1, seed=0):
    sources = sources or {
        "big": {"path": _source_folder(tmp_path, "big", 48), "weight": 3.0},
        "small": {"path": _source_folder(tmp_path, "small", 16, offset=500), "weight": 1.0},
    }
    processor = SampleProcessor(tokenizer, SingleResolutionPreprocessor(56, 14), max_length=512)
    collate = partial(collate_samples, pad_token_id=tokenizer.pad_token_id)
    return WeightedShardMixture(load_sources(sources), processor, collate, micro, workers, seed=seed, shuffle_buffer=8)


def _keys(batches):
    return [key for batch in batches for key in batch["keys"]]


def test_epoch_length_comes_from_manifests_and_batches_are_well_formed(tmp_path, tiny_tokenizer):
    dataset = _dataset(tmp_path, tiny_tokenizer)
    batches = list(dataset)
    assert dataset.total_samples == 64 and len(batches) == len(dataset) == 16
    batch = batches[0]
    assert batch["input_ids"].shape == batch["labels"].shape == batch["attention_mask"].shape
    assert batch["input_ids"].shape[0] == 4
    image_id = tiny_tokenizer.convert_tokens_to_ids("<image>")
    per_sample_images = (batch["input_ids"] == image_id).sum(1)
    assert per_sample_images.tolist() == [16 * n for n in batch["images_per_sample"].tolist()]
    assert batch["pixel_values"].shape[1:] == (3, 56, 56)
    assert batch["pixel_values"].shape[0] == int(batch["crops_per_image"].sum())
    assert (batch["labels"][batch["attention_mask"] == 0] == -100).all()


def test_same_seed_same_order_other_seed_other_order(tmp_path, tiny_tokenizer):
    first = _keys(_dataset(tmp_path, tiny_tokenizer, seed=1))
    assert _keys(_dataset(tmp_path, tiny_tokenizer, seed=1)) == first
    assert _keys(_dataset(tmp_path, tiny_tokenizer, seed=2)) != first
    dataset = _dataset(tmp_path, tiny_tokenizer, seed=1)
    dataset.set_epoch(1)
    assert _keys(dataset) != first


def test_sources_are_drawn_in_proportion_to_their_weights(tmp_path, tiny_tokenizer):
    sources = {
        "big": {"path": _source_folder(tmp_path, "big", 48), "weight": 3.0, "samples": 600},
        "small": {"path": _source_folder(tmp_path, "small", 16, offset=500), "weight": 1.0, "samples": 200},
    }
    counts = Counter()
    for batch in _dataset(tmp_path, tiny_tokenizer, sources=sources, micro=8):
        counts.update(batch["sources"])
    share = counts["big"] / sum(counts.values())
    assert sum(counts.values()) == 800
    assert 0.70 < share < 0.80


def test_resume_continues_with_exactly_the_next_samples(tmp_path, tiny_tokenizer):
    uninterrupted = list(_dataset(tmp_path, tiny_tokenizer, seed=3))
    iterator = iter(_dataset(tmp_path, tiny_tokenizer, seed=3))
    seen = [next(iterator) for _ in range(5)]
    position = seen[-1]["data_position"]
    resumed = _dataset(tmp_path, tiny_tokenizer, seed=3)
    where = (position["batches_done"], position["consumed"])
    resumed.set_resume_position(position["epoch"], {position["worker"]: where})
    rest = list(resumed)
    assert _keys(seen) + _keys(rest) == _keys(uninterrupted)


def test_node_split_gives_disjoint_shards(tmp_path, tiny_tokenizer, monkeypatch):
    keys = []
    for rank in range(2):
        monkeypatch.setattr(wds_pipeline, "_rank_and_world", lambda rank=rank: (rank, 2))
        sources = {"only": {"path": _source_folder(tmp_path, "only", 32, per_shard=4), "weight": 1.0}}
        dataset = _dataset(tmp_path, tiny_tokenizer, sources=sources)
        assert len(dataset) == 4
        keys.append(set(_keys(dataset)))
    assert keys[0] and keys[1] and not keys[0] & keys[1]


def _corrupt_source(tmp_path):
    folder = _source_folder(tmp_path, "broken", 24, per_shard=8)
    shard = folder / "shard-000001.tar"
    shard.write_bytes(shard.read_bytes()[: len(shard.read_bytes()) // 2 + 100])
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in [("bad-1.jpg", b"\xff\xd8nope"), ("bad-1.json", json.dumps(make_sample(900).sample).encode()),
                           ("bad-2.json", b"{broken")]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    (folder / "shard-000002.tar").write_bytes(buffer.getvalue())
    return folder


def test_corrupt_shards_are_skipped_counted_and_training_data_goes_on(tmp_path, tiny_tokenizer):
    sources = {"broken": {"path": _corrupt_source(tmp_path), "weight": 1.0}}
    skipped = Counter()
    batches = list(_dataset(tmp_path, tiny_tokenizer, sources=sources))
    for batch in batches:
        skipped.update(batch["skip_counts"])
    assert len(batches) == 6
    assert skipped["image_decode"] >= 1 and skipped["bad_json"] >= 1
    assert skipped["tar:truncated"] + skipped["tar:missing_samples"] >= 1


def test_dataloader_workers_split_work_and_report_skips(tmp_path, tiny_tokenizer):
    dataset = _dataset(tmp_path, tiny_tokenizer, workers=2)
    loader = DataLoader(dataset, batch_size=None, num_workers=2)
    batches = list(loader)
    workers = {batch["data_position"]["worker"] for batch in batches}
    assert len(batches) == len(dataset) == 16 and workers == {0, 1}


def test_too_few_shards_for_the_workers_is_a_clear_error(tmp_path, tiny_tokenizer):
    sources = {"tiny": {"path": _source_folder(tmp_path, "tiny", 4, per_shard=8), "weight": 1.0}}
    loader = DataLoader(_dataset(tmp_path, tiny_tokenizer, sources=sources, workers=2), batch_size=None, num_workers=2)
    with pytest.raises(Exception, match="1 shards for 2 data workers"):
        list(loader)


def test_source_config_errors_name_the_source(tmp_path):
    with pytest.raises(SourceError, match=r"'gone'.*does not exist"):
        load_sources({"gone": {"path": tmp_path / "nope", "weight": 1.0}})
    (tmp_path / "empty").mkdir()
    with pytest.raises(SourceError, match=r"'empty'.*no manifest"):
        load_sources({"empty": {"path": tmp_path / "empty", "weight": 1.0}})
    with pytest.raises(SourceError, match="positive weight"):
        load_sources({"off": {"path": tmp_path / "empty", "weight": 0.0}})


def test_text_only_and_too_long_samples(tmp_path, tiny_tokenizer):
    text_only = ShardSample("a-text", {**make_sample(1, with_image=False).sample, "id": "a-text"})
    processor = SampleProcessor(tiny_tokenizer, SingleResolutionPreprocessor(56, 14), max_length=20)
    raw = {"__key__": "a-text", "json": json.dumps(text_only.sample).encode()}
    assert processor(raw) is None
    processor.max_length = 512
    processed = processor(raw)
    assert processed is not None and processed.images == []
    batch = collate_samples([processed], tiny_tokenizer.pad_token_id)
    assert batch["pixel_values"] is None and batch["images_per_sample"].tolist() == [0]
    assert batch["input_ids"].dtype == torch.long


def test_a_shard_folder_that_vanishes_mid_run_is_counted_then_a_clear_error(tmp_path, tiny_tokenizer):
    folder = _source_folder(tmp_path, "vanishing", 64)
    dataset = _dataset(tmp_path, tiny_tokenizer, sources={"vanishing": {"path": folder, "weight": 1.0}})
    stream = iter(dataset)
    next(stream)
    shutil.rmtree(folder)
    skipped = Counter()
    with pytest.raises(wds_pipeline.SourceUnreadableError, match=r"'vanishing'.*no longer exist.*vanish"):
        for batch in stream:
            skipped.update(batch["skip_counts"])
    skipped.update(take_skip_counts())  # the counts since the last batch, still in this process
    assert skipped["tar:FileNotFoundError"] >= 1


def test_weights_count_qa_pairs_so_a_grouped_source_is_drawn_less_often(tmp_path, tiny_tokenizer):
    """Issue 18 §3: with 4 QA pairs per grouped sample, equal weights must give equal QA pairs, i.e. one
    grouped sample drawn for four plain ones (the mixture weights count QA pairs, not samples)."""
    from shard_contract.manifest import read_manifest

    grouped = []
    for index in range(24):
        base = make_sample(2000 + index)
        turns = []
        for turn in range(4):
            human = ("<image>\n" if turn == 0 else "") + f"Question {turn}?"
            turns += [{"from": "human", "value": human}, {"from": "gpt", "value": f"answer {turn}"}]
        sample = {k: v for k, v in base.sample.items() if k != "answer"}
        sample.update(conversations=turns, property=None,
                      qa=[{"id": f"{base.key}-{t}", "property": "P571", "answer": f"answer {t}"} for t in range(4)])
        grouped.append(ShardSample(base.key, sample, base.image))
    write_shards(grouped, tmp_path / "grouped", ShardSpec(max_samples=8))
    assert read_manifest(tmp_path / "grouped")["total_qa_pairs"] == 96
    sources = {"plain": {"path": _source_folder(tmp_path, "plain", 96), "weight": 1.0},
               "grouped": {"path": tmp_path / "grouped", "weight": 1.0}}
    loaded = load_sources(sources)
    assert [source.pairs_per_sample for source in loaded] == [1.0, 4.0]
    assert wds_pipeline.normalised_weights(loaded) == pytest.approx([0.8, 0.2])
    counts = Counter()
    for batch in _dataset(tmp_path, tiny_tokenizer, sources=sources, micro=8):
        counts.update(batch["sources"])
    pairs = {"plain": counts["plain"], "grouped": 4 * counts["grouped"]}
    assert 0.8 < pairs["grouped"] / pairs["plain"] < 1.25  # equal weights → about equal QA pairs


def _long_grouped_folder(tmp_path, count=12, rounds=4):
    samples = []
    for index in range(count):
        base = make_sample(3000 + index)
        turns = []
        for turn in range(rounds):
            human = ("<image>\n" if turn == 0 else "") + f"Question {turn} about this picture, asked at some length?"
            turns += [{"from": "human", "value": human}, {"from": "gpt", "value": f"answer number {turn}"}]
        sample = {k: v for k, v in base.sample.items() if k != "answer"}
        sample.update(conversations=turns, property=None,
                      qa=[{"id": f"{base.key}-{t}", "property": "P571", "answer": f"answer number {t}"}
                          for t in range(rounds)])
        samples.append(ShardSample(base.key, sample, base.image))
    write_shards(samples, tmp_path / "long", ShardSpec(max_samples=4))
    return tmp_path / "long"


def test_an_over_long_multi_turn_sample_is_split_at_turn_boundaries(tmp_path, tiny_tokenizer):
    """Issue 18 §2: an over-long sample used to be skipped (`too_long`); a multi-turn one is now split into
    pieces of whole rounds that fit, each with the image, every answer learned once."""
    folder = _long_grouped_folder(tmp_path, count=1)
    raw = next(iter(wds_pipeline.tar_samples([(str(p), None) for p in sorted(folder.glob("*.tar"))])))
    image_id = tiny_tokenizer.convert_tokens_to_ids("<image>")
    whole = SampleProcessor(tiny_tokenizer, SingleResolutionPreprocessor(56, 14), max_length=4096).pieces(raw)
    assert len(whole) == 1
    fits_two_rounds = int(whole[0].input_ids.numel() * 0.7)  # room for about two of the four rounds
    processor = SampleProcessor(tiny_tokenizer, SingleResolutionPreprocessor(56, 14), max_length=fits_two_rounds)
    take_skip_counts()
    assert processor(raw) is None  # one piece: does not fit
    pieces = processor.pieces(raw)
    assert len(pieces) == 2 and [p.key for p in pieces] == [f"{raw['__key__']}#0", f"{raw['__key__']}#1"]
    learned = []
    for piece in pieces:
        assert piece.input_ids.numel() <= fits_two_rounds
        assert piece.input_ids.tolist().count(image_id) == 16  # the image in every piece, once
        labels = piece.labels.tolist()
        runs, current = [], []
        for label in [*labels, IGNORE]:
            if label != IGNORE:
                current.append(label)
            elif current:
                runs.append(tiny_tokenizer.decode(current))
                current = []
        learned += runs
    assert learned == [f"answer number {t}<|im_end|>" for t in range(4)]  # every answer, once, in order
    assert take_skip_counts() == {"too_long": 1, "split_long": 1}  # __call__'s skip, then the split
    tiny = SampleProcessor(tiny_tokenizer, SingleResolutionPreprocessor(56, 14), max_length=20)
    assert tiny.pieces(raw) == [] and take_skip_counts() == {"too_long": 1}  # not even one round fits


def test_resume_between_two_pieces_of_a_split_sample_continues_exactly(tmp_path, tiny_tokenizer):
    folder = _long_grouped_folder(tmp_path)
    probe = SampleProcessor(tiny_tokenizer, SingleResolutionPreprocessor(56, 14), max_length=4096)
    raw = next(iter(wds_pipeline.tar_samples([(str(p), None) for p in sorted(folder.glob("*.tar"))])))
    limit = int(probe.pieces(raw)[0].input_ids.numel() * 0.7)

    def dataset():
        processor = SampleProcessor(tiny_tokenizer, SingleResolutionPreprocessor(56, 14), max_length=limit)
        collate = partial(collate_samples, pad_token_id=tiny_tokenizer.pad_token_id)
        sources = load_sources({"long": {"path": folder, "weight": 1.0}})
        return WeightedShardMixture(sources, processor.pieces, collate, 3, 1, seed=5, shuffle_buffer=4)

    uninterrupted = list(dataset())
    assert all(key.endswith(("#0", "#1")) for key in _keys(uninterrupted))
    iterator = iter(dataset())
    seen = [next(iterator) for _ in range(3)]
    position = seen[-1]["data_position"]
    assert position["pieces_done"] == 1  # 3 pieces per batch of samples split in 2: a sample straddles
    resumed = dataset()
    resumed.set_resume_position(position["epoch"], {position["worker"]: (
        position["batches_done"], position["consumed"], position["pieces_done"])})
    assert _keys(seen) + _keys(list(resumed)) == _keys(uninterrupted)
