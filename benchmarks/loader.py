"""Loader throughput per worker: shards → decode → preprocess → tokenize → collate.

Project path: the training DataModule's stream (`WeightedShardMixture` + `SampleProcessor` +
`collate_samples`) in one process, i.e. one DataLoader worker's work. Reference path, on the
same shards: what a user would otherwise write — WebDataset iteration, PIL decode, HF
`CLIPImageProcessor` (resize shortest side + centre crop 336, normalise), LLaVA-style per-turn
tokenization with a loss mask, and padding collation.

`--anyres`: Pangea's LLaVA-NeXT anyres (5 pinpoints up to 1008 px) on both sides: the project's
`AnyresPreprocessor` (grid from the JPEG header's size, DCT-reduced decode) against HF
`LlavaNextImageProcessor` on the fully decoded image, with `<image>` expanded to HF's token count.
`--no-draft` decodes every JPEG at full size on the project side (the behaviour before the draft).

    python benchmarks/loader.py [--quick] [--samples N] [--width 448] [--height 336] [--anyres] [--no-draft]

The last line is `ratio_vs_reference=X.XX` (median project samples/s over median reference
samples/s, measured in alternating rounds).
"""

from __future__ import annotations

import argparse
import io
import json
import platform
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import torch
import webdataset as wds
from PIL import Image
from transformers import AutoTokenizer, CLIPImageProcessor, LlavaNextImageProcessor, LlavaNextProcessor

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from culturalpangea.data.collate import collate_samples  # noqa: E402
from culturalpangea.data.image_processing import SingleResolutionPreprocessor  # noqa: E402
from culturalpangea.data.processing import SampleProcessor  # noqa: E402
from culturalpangea.data.sources import load_sources  # noqa: E402
from culturalpangea.data.wds_pipeline import WeightedShardMixture  # noqa: E402
from culturalpangea.models.anyres import AnyresGeometry, AnyresPreprocessor  # noqa: E402
from data_gen.shards.writer import ShardSample, ShardSpec, write_shards  # noqa: E402
from tiny_models.tokenizer import train_tiny_tokenizer  # noqa: E402

PINPOINTS = ((336, 672), (672, 336), (672, 672), (1008, 336), (336, 1008))  # Pangea-7B's grid
QUESTION = "<image>\nWhat is the name of the architectural style of this building? Answer briefly."
ANSWER = "This building is an example of Indo-Islamic architecture, built in the seventeenth century."


def _jpeg(index: int, width: int, height: int) -> bytes:
    image = Image.effect_mandelbrot((width, height), (-2 + index % 7 * 0.01, -1.2, 1, 1.2), 40).convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def build_shards(folder: Path, count: int, width: int, height: int) -> None:
    images = [_jpeg(i, width, height) for i in range(16)]
    samples = []
    for index in range(count):
        key = f"bench-{index:07d}"
        sample = {
            "id": key, "qid": "Q9141", "country": "India", "language": "en", "property": "P149",
            "question_type": "open", "answer": ANSWER,
            "conversations": [{"from": "human", "value": QUESTION}, {"from": "gpt", "value": ANSWER}],
            "provenance": {"template": "P149.open.0", "refined": False, "filter_score": None, "image": None},
        }
        samples.append(ShardSample(key, sample, images[index % len(images)]))
    write_shards(samples, folder, ShardSpec(max_samples=256))


@dataclass(frozen=True)
class FullDecode:
    """The project's preprocessor with the JPEG draft switched off (every image decoded at full size)."""

    inner: object
    decode_at_least = None

    def __call__(self, image: Image.Image) -> object:
        return self.inner(image)


def project_preprocessor(anyres: bool, draft: bool) -> object:
    if anyres:
        preprocessor: object = AnyresPreprocessor(AnyresGeometry(336, 14, PINPOINTS))
    else:
        preprocessor = SingleResolutionPreprocessor(336, 14)
    return preprocessor if draft else FullDecode(preprocessor)


def project_rate(folder: Path, tokenizer, count: int, batch: int, anyres: bool = False,  # noqa: ANN001
                 draft: bool = True) -> float:
    sources = load_sources({"bench": {"path": folder, "weight": 1.0}})
    processor = SampleProcessor(tokenizer, project_preprocessor(anyres, draft), max_length=16384)
    collate = partial(collate_samples, pad_token_id=tokenizer.pad_token_id)
    dataset = WeightedShardMixture(sources, processor, collate, batch, num_workers=1, shuffle_buffer=64)
    start, seen = time.perf_counter(), 0
    for out in dataset:
        seen += out["input_ids"].shape[0]
    return seen / (time.perf_counter() - start)


def _reference_tokenize(tokenizer, conversations: list[dict], image_tokens: int = 576  # noqa: ANN001
                        ) -> tuple[list[int], list[int]]:
    ids = tokenizer("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n")["input_ids"]
    labels = [-100] * len(ids)
    for turn in conversations:
        role = "user" if turn["from"] == "human" else "assistant"
        head = tokenizer(f"<|im_start|>{role}\n")["input_ids"]
        body = tokenizer(turn["value"].replace("<image>", "<image>" * image_tokens) + "<|im_end|>")["input_ids"]
        tail = tokenizer("\n")["input_ids"]
        ids += head + body + tail
        labels += [-100] * len(head) + (body if role == "assistant" else [-100] * len(body)) + [-100] * len(tail)
    return ids, labels


def reference_image_processing(tokenizer, anyres: bool):  # noqa: ANN001, ANN201
    """(image → (pixels, image tokens)) as a user would write it with HF's processors."""
    if not anyres:
        clip = CLIPImageProcessor(size={"shortest_edge": 336}, crop_size={"height": 336, "width": 336})
        return lambda image: (clip(image, return_tensors="pt")["pixel_values"], 576)
    image_processor = LlavaNextImageProcessor(size={"shortest_edge": 336}, crop_size={"height": 336, "width": 336},
                                              image_grid_pinpoints=[list(p) for p in PINPOINTS])
    processor = LlavaNextProcessor(image_processor=image_processor, tokenizer=tokenizer, patch_size=14,
                                   vision_feature_select_strategy="default", num_additional_image_tokens=1)

    def process(image: Image.Image) -> tuple[torch.Tensor, int]:
        encoded = image_processor(image, return_tensors="pt")
        height, width = (int(v) for v in encoded["image_sizes"][0])
        return encoded["pixel_values"][0], processor._get_number_of_features(height, width, 336, 336)

    return process


def reference_rate(folder: Path, tokenizer, count: int, batch: int, anyres: bool = False) -> float:  # noqa: ANN001
    process = reference_image_processing(tokenizer, anyres)
    urls = [str(p) for p in sorted(folder.glob("shard-*.tar"))]
    start, seen, pending = time.perf_counter(), 0, []
    for sample in wds.WebDataset(urls, shardshuffle=False):
        image = Image.open(io.BytesIO(sample["jpg"])).convert("RGB")
        pixels, image_tokens = process(image)
        ids, labels = _reference_tokenize(tokenizer, json.loads(sample["json"])["conversations"], image_tokens)
        pending.append((torch.tensor(ids), torch.tensor(labels), pixels))
        if len(pending) == batch:
            torch.nn.utils.rnn.pad_sequence([p[0] for p in pending], batch_first=True, padding_value=0)
            torch.nn.utils.rnn.pad_sequence([p[1] for p in pending], batch_first=True, padding_value=-100)
            torch.cat([p[2] for p in pending])
            seen += len(pending)
            pending = []
    return seen / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small run for CI (no thresholds)")
    parser.add_argument("--samples", type=int, default=2048)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--width", type=int, default=448)
    parser.add_argument("--height", type=int, default=336)
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; medians are reported")
    parser.add_argument("--anyres", action="store_true", help="LLaVA-NeXT anyres on both sides (Pangea's grid)")
    parser.add_argument("--no-draft", action="store_true", help="project: decode every JPEG at full size")
    args = parser.parse_args()
    count = (64 if args.anyres else 256) if args.quick else args.samples
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "shards"
        build_shards(folder, count, args.width, args.height)
        tokenizer = AutoTokenizer.from_pretrained(train_tiny_tokenizer(Path(tmp) / "tok"))
        rounds = 1 if args.quick else args.rounds
        references, projects = [], []
        for _ in range(rounds):  # alternate, so drifting machine load hits both alike
            references.append(reference_rate(folder, tokenizer, count, args.batch, args.anyres))
            projects.append(project_rate(folder, tokenizer, count, args.batch, args.anyres, not args.no_draft))
        reference, project = statistics.median(references), statistics.median(projects)
    mode = "anyres (Pangea grid)" if args.anyres else "single 336 px crop"
    hf = "LlavaNextImageProcessor" if args.anyres else "CLIPImageProcessor"
    print(f"machine: {platform.machine()} {platform.processor() or ''} threads=1 torch={torch.__version__}")
    print(f"images: {args.width}x{args.height} JPEG, {mode}, samples: {count}, micro-batch: {args.batch}, "
          f"rounds: {rounds}, JPEG draft: {'off' if args.no_draft else 'on'}")
    print(f"reference (PIL + {hf} + per-turn tokenization): {reference:.1f} samples/s per worker")
    print(f"project (WeightedShardMixture + SampleProcessor + collate): {project:.1f} samples/s per worker")
    print(f"ratio_vs_reference={project / reference:.2f}")


if __name__ == "__main__":
    main()
