"""Per-image conversations (issue 18 §4): training FLOPs, LLM tokens and shard bytes per QA pair.

The same QA pairs, sharded two ways by the real stage (`data_gen.shards.stage.run_shards`): one
pair per sample (`shards.group=none`, the reference: the paper's recipe as far as its text says)
and one sample per image, language and question type (`shards.group=image_language`,
`shards.max_turns`). Two data sets:

- **demo**: the embedded Wikidata sample through entities → images → qa (template questions;
  refinement and filtering do not change the pairs per image), both shardings measured as written;
- **paper-shaped**: the demo's pairs per (image, language, question type) resampled for `--images`
  images (the same distribution, a larger set), counted without writing tars.

Per QA pair, for each sharding:
- **shard bytes**: measured tar bytes (demo; placeholder images of the embedded sample), and at
  paper scale with a stated image size (`--image-kb`, default 250 KB: a 1280 px Commons JPEG, the
  image stage's cap) plus the measured JSON bytes per pair;
- **LLM tokens**: ChatML text tokens of the sample (the project's tokenizer path on the tiny
  byte-level tokenizer: more tokens per word than Qwen2's, which only makes grouping look worse)
  plus the image's tokens under Pangea's anyres (`configs/model/pangea_7b.yaml`: 336 px crops,
  patch 14, its five pinpoints, newline tokens) for a `--image-size` picture (default 960×1280);
- **training FLOPs**: `culturalpangea.flops.FlopsModel` at Pangea-7B's shapes (vision frozen, connector
  + LLM trained: 6·N per token, causal attention, 2·N_vision per vision patch over base + crops);
- **CPU QA pairs/s**: the training reader (`SampleProcessor`: JSON, image decode, anyres crops at
  the tiny shape, tokenization) over the demo shards, pairs per second of reading.

The last line is `ratio_vs_reference=X.XX`: training FLOPs per QA pair, ungrouped over grouped.

    python benchmarks/grouping.py [--quick] [--max-turns 8] [--images 100000]
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "src")]

import webdataset as wds  # noqa: E402

from culturalpangea.data.conversation import render_chatml  # noqa: E402
from culturalpangea.data.tokenize import tokenize_with_loss_mask  # noqa: E402
from culturalpangea.flops import FlopsModel  # noqa: E402
from culturalpangea.models.anyres import AnyresGeometry  # noqa: E402

PANGEA_PINPOINTS = ((336, 672), (672, 336), (672, 672), (1008, 336), (336, 1008))
# Pangea-7B (LLaVA-NeXT, Qwen2-7B-Instruct, CLIP ViT-L/14-336, mlp2x_gelu) — parameter counts
QWEN2_7B = {"params": 7_615_616_512, "layers": 28, "hidden": 3584}
VIT_L_336 = 303_507_456
CONNECTOR = 1024 * 3584 + 3584 + 3584 * 3584 + 3584


def build_demo(root: Path, group: str, max_turns: int, countries: str) -> Path:
    """entities → images → qa → shards on the embedded sample, into `root`."""
    from data_gen.pipeline.run_all import run_all
    from tests.helpers.datagen_config import datagen_config

    overrides = ["all.stages=[entities,images,qa,shards]", "shards.input=qa", "shards.heldout_fraction=0.0",
                 f"shards.group={group}", f"shards.max_turns={max_turns}", "progress=false"]
    if countries != "all":
        overrides.append(f"countries=[{countries}]")
    run_all(datagen_config(root, *overrides))
    return root / "shards"


def read_samples(shards: Path) -> list[dict[str, Any]]:
    samples = []
    for folder in ("open", "mcq"):
        tars = sorted(str(p) for p in (shards / folder).glob("*.tar"))
        for raw in wds.WebDataset(tars, shardshuffle=False):
            samples.append({"json": raw["json"], "jpg": raw["jpg"], "__key__": raw["__key__"]})
    return samples


def pairs_of(sample: dict[str, Any]) -> int:
    return len(json.loads(sample["json"]).get("qa") or [None])


def text_tokens(tokenizer: Any, sample: dict[str, Any]) -> int:
    rendered = render_chatml(json.loads(sample["json"])["conversations"], num_images=1)
    return len(tokenize_with_loss_mask(tokenizer, rendered).input_ids) - 1  # the placeholder's own token


def flops_model() -> FlopsModel:
    return FlopsModel(trained_params=QWEN2_7B["params"] + CONNECTOR, frozen_llm_params=0,
                      vision_params=VIT_L_336, num_layers=QWEN2_7B["layers"], hidden_size=QWEN2_7B["hidden"])


def per_pair(samples_text_tokens: list[int], pairs: list[int], image_tokens: int, patches: int,
             json_bytes: list[int], image_kb: float) -> dict[str, float]:
    model = flops_model()
    lengths = [tokens + image_tokens for tokens in samples_text_tokens]
    total_pairs = sum(pairs)
    return {
        "samples": len(lengths), "qa_pairs": total_pairs,
        "llm_tokens_per_pair": sum(lengths) / total_pairs,
        "train_gflops_per_pair": sum(model.step_flops([n], patches) for n in lengths) / total_pairs / 1e9,
        "paper_bytes_per_pair": (sum(json_bytes) + len(lengths) * image_kb * 1024) / total_pairs,
    }


def reader_pairs_per_s(tokenizer: Any, samples: list[dict[str, Any]], repeats: int) -> float:
    """QA pairs per second through the training reader at the tiny anyres shape (56 px crops)."""
    from culturalpangea.data.processing import SampleProcessor
    from culturalpangea.models.anyres import AnyresPreprocessor

    tiny = AnyresGeometry(56, 14, ((56, 112), (112, 56), (112, 112), (168, 56), (56, 168)))
    processor = SampleProcessor(tokenizer, AnyresPreprocessor(tiny), max_length=8192)
    start = time.perf_counter()
    pairs = 0
    for _ in range(repeats):
        for sample in samples:
            if processor(sample) is not None:
                pairs += pairs_of(sample)
    return pairs / (time.perf_counter() - start)


def paper_shaped(groups: list[int], max_turns: int, images: int, seed: int = 0) -> tuple[list[int], list[int]]:
    """Pairs per sample for `images` groups drawn from the demo's pairs-per-group distribution."""
    rng = random.Random(seed)
    drawn = [rng.choice(groups) for _ in range(images)]
    ungrouped = [1] * sum(drawn)
    grouped = [min(max_turns, size - start) for size in drawn for start in range(0, size, max_turns)]
    return ungrouped, grouped


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="two countries, one reader pass (CI)")
    parser.add_argument("--max-turns", type=int, default=8)
    parser.add_argument("--images", type=int, default=100_000, help="paper-shaped set: images (groups)")
    parser.add_argument("--image-kb", type=float, default=250.0)
    parser.add_argument("--image-size", type=int, nargs=2, default=(960, 1280), metavar=("H", "W"))
    args = parser.parse_args(argv)
    countries = "JP,IN" if args.quick else "all"
    geometry = AnyresGeometry(336, 14, PANGEA_PINPOINTS)
    image_size = tuple(args.image_size)
    image_tokens = geometry.num_tokens(image_size)
    patches = (geometry.num_crops(image_size) + 1) * geometry.patches_per_side**2
    print(f"# {platform.machine()}, {platform.python_version()}; Pangea anyres: {image_tokens} image tokens and "
          f"{patches} vision patches for a {image_size[0]}x{image_size[1]} image; max_turns={args.max_turns}")
    results: dict[str, dict[str, float]] = {}
    text: dict[str, tuple[int, int, int]] = {}  # sharding → (samples, QA pairs, text tokens)
    with tempfile.TemporaryDirectory() as tmp:
        from transformers import AutoTokenizer

        from tiny_models.stack import build_tiny_stack

        tokenizer = AutoTokenizer.from_pretrained(build_tiny_stack(Path(tmp) / "tiny").tokenizer_dir)
        measured = {}
        for group in ("none", "image_language"):
            shards = build_demo(Path(tmp) / group, group, args.max_turns, countries)
            samples = read_samples(shards)
            measured[group] = samples
            tar_bytes = sum(p.stat().st_size for f in ("open", "mcq") for p in (shards / f).glob("*.tar"))
            tokens = [text_tokens(tokenizer, s) for s in samples]
            pairs = [pairs_of(s) for s in samples]
            text[group] = (len(samples), sum(pairs), sum(tokens))
            results[group] = {**per_pair(tokens, pairs, image_tokens, patches, [len(s["json"]) for s in samples],
                                         args.image_kb),
                              "demo_tar_bytes_per_pair": tar_bytes / sum(pairs),
                              "cpu_reader_pairs_per_s": reader_pairs_per_s(tokenizer, samples, 1 if args.quick else 3)}
    for name, value in results.items():
        print(f"demo {name:15s} " + " ".join(f"{k}={v:,.2f}" for k, v in value.items()))
    # text tokens of a sample with n pairs = shared + per_pair·n (system prompt and markers shared), fitted
    # on the two measured shardings; JSON bytes the same way
    (s1, p1, t1), (s2, p2, t2) = text["none"], text["image_language"]
    per_pair_tokens = (t1 * s2 - t2 * s1) / (p1 * s2 - p2 * s1) if p1 * s2 != p2 * s1 else t1 / p1
    shared_tokens = (t1 - per_pair_tokens * p1) / s1
    json_per_pair = sum(len(s["json"]) for s in measured["none"]) / p1
    groups = Counter()
    for sample in measured["image_language"]:
        groups[sample["__key__"].rsplit("_", 1)[0]] += pairs_of(sample)
    sizes = list(groups.values())
    for name, sample_pairs in zip(("none", "image_language"), paper_shaped(sizes, args.max_turns, args.images),
                                  strict=True):
        tokens = [round(shared_tokens + per_pair_tokens * n) for n in sample_pairs]
        shaped = per_pair(tokens, sample_pairs, image_tokens, patches, [round(json_per_pair * n) for n in sample_pairs],
                          args.image_kb)
        results[f"paper_{name}"] = shaped
        print(f"paper-shaped {name:15s} " + " ".join(f"{k}={v:,.2f}" for k, v in shaped.items()))
    print(f"# text tokens per sample ≈ {shared_tokens:.1f} shared + {per_pair_tokens:.1f} per pair (tiny tokenizer)")
    print(f"# demo pairs per (image, language, type): mean {sum(sizes) / len(sizes):.2f}, max {max(sizes)}")
    for label in ("", "paper_"):
        none, grouped_result = results[f"{label}none"], results[f"{label}image_language"]
        for metric in ("train_gflops_per_pair", "llm_tokens_per_pair", "paper_bytes_per_pair"):
            print(f"{label or 'demo_'}{metric}_ratio={none[metric] / grouped_result[metric]:.2f}")
    demo = results["none"]["demo_tar_bytes_per_pair"] / results["image_language"]["demo_tar_bytes_per_pair"]
    print(f"demo_tar_bytes_ratio={demo:.2f}")
    ratio = results["none"]["train_gflops_per_pair"] / results["image_language"]["train_gflops_per_pair"]
    print(f"ratio_vs_reference={ratio:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
