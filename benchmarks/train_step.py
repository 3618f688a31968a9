"""Training-step throughput: the project's VLM step against HF `LlavaForConditionalGeneration`.

Project path: `culturalpangea.models.builder.build_vlm` from explicit shapes (`llm.random_init`, a
random open_clip tower), single resolution (576 image tokens per image, as LLaVA-1.5), trained as
the LightningModule trains it: `batch_to_model_inputs` on a batch from `collate_samples` (or
`collate_packed`), loss on labelled tokens only, frozen tower under `no_grad`, AdamW over the
per-component groups of `culturalpangea.optim.parameter_groups`. Reference path: what a user would
otherwise write: HF `LlavaForConditionalGeneration` of the same shape (CLIP ViT-L/14-336 with
QuickGELU, layer -2, CLS dropped, mlp2x_gelu, Qwen2), vision tower frozen by `requires_grad_(False)`,
SDPA, right-padded batches with normalised float pixels, full logits and HF's loss, plain AdamW.
Both: the same synthetic CulturalGround-like samples (seeded; 576 image tokens + 30–150 text tokens,
a ChatML-like layout with the answer labelled), the same micro-batch, bf16 autocast over fp32 master
weights on CUDA (Lightning's `bf16-mixed`; fp32 on CPU), gradient clipping at 1.0, the loss read back
every step (a real loop logs it). SDPA backends are chosen explicitly on CUDA (flash, efficient,
math; not cuDNN, which torch 2.11 was seen failing on padded masks).

    python benchmarks/train_step.py --quick                     # tiny shapes on CPU, < 1 minute
    python benchmarks/train_step.py --shape 1.5b [--micro-batch 8] [--levers]   # a CUDA GPU
    python benchmarks/train_step.py --shape tiny --levers       # every fast-path lever on CPU

Each configuration runs in its own process (clean peak-memory figures, no allocator history).
Reported per configuration: samples/s, non-pad tokens/s, model FLOP/s (src/culturalpangea/flops.py:
6·N per token for trained parameters, causal attention, 2·N_vision per patch token), MFU over the
bf16 matmul rate measured in the same run (CUDA only; on CPU MFU is not meaningful and FLOP/s are
given instead), and peak memory (CUDA max allocated; on CPU the process's peak RSS). `--levers`
measures each fast-path lever on its own against the plain project path (all levers off). For the
tiny shape the script first checks that the two paths compute the same loss from the same weights.
The last line is `ratio_vs_reference=X.XX` (project samples/s over reference samples/s).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import resource
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "src")]
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402

IMAGE_SIZE, PATCH_SIZE = 336, 14
IMAGE_TOKENS = (IMAGE_SIZE // PATCH_SIZE) ** 2  # 576
VIT_L = {"width": 1024, "layers": 24, "heads": 16, "open_clip_name": "ViT-L-14-336-quickgelu"}
QWEN2 = {"vocab_size": 151936, "num_key_value_heads": 2, "tie_word_embeddings": True, "rope_theta": 1e6,
         "rms_norm_eps": 1e-6, "max_position_embeddings": 32768}


@dataclass(frozen=True)
class Shape:
    name: str
    llm: dict[str, Any]  # Qwen2Config fields
    vision: dict[str, Any]  # width, layers, heads, open_clip_name (None: registered from these numbers)
    micro_batch: int
    steps: int


SHAPES = {
    # tiny: the LM head is ~20% of the trained parameters, as in the 1.5B shape (15%), so lever (a) is not inflated
    "tiny": Shape("tiny", {**QWEN2, "vocab_size": 2048, "hidden_size": 128, "intermediate_size": 512,
                           "num_hidden_layers": 4, "num_attention_heads": 4},
                  {"width": 64, "layers": 3, "heads": 2, "open_clip_name": None}, micro_batch=4, steps=8),
    "0.5b": Shape("0.5b", {**QWEN2, "hidden_size": 896, "intermediate_size": 4864, "num_hidden_layers": 24,
                           "num_attention_heads": 14}, VIT_L, micro_batch=16, steps=20),
    "1.5b": Shape("1.5b", {**QWEN2, "hidden_size": 1536, "intermediate_size": 8960, "num_hidden_layers": 28,
                           "num_attention_heads": 12}, VIT_L, micro_batch=8, steps=20),
}


@dataclass(frozen=True)
class Levers:
    """The project's fast-path switches (benchmarks/RESULTS.md); `Levers()` is the plain project path."""

    labelled_head: bool = False  # (a) LM head + loss on labelled tokens only (else full logits, as HF)
    liger: bool = False  # (b) llm.fused_linear_cross_entropy (liger-kernel; falls back to (a))
    tower_bf16: bool = False  # (c) vision.compute_dtype=bfloat16 (frozen tower stored in bf16)
    packing: bool = False  # (d) data.packing: collate_packed rows + restarting position ids
    compile: bool = False  # (e) llm.compile: regional torch.compile of the decoder layers
    fused_adamw: bool = False  # (f) AdamW(fused=True) (the LightningModule's choice on CUDA)


@dataclass(frozen=True)
class Variant:
    name: str
    kind: str  # "project" | "reference"
    micro_batch: int
    levers: Levers = field(default_factory=Levers)


@dataclass(frozen=True)
class RunSpec:
    """Everything a worker process needs (JSON across the process boundary)."""

    variant: Variant
    shape: str
    workdir: str
    device: str
    steps: int
    warmup: int
    seed: int
    data: str
    pack_length: int
    packed_attention: str

    @classmethod
    def from_json(cls, text: str) -> RunSpec:
        values = json.loads(text)
        variant = values.pop("variant")
        variant["levers"] = Levers(**variant["levers"])
        return cls(variant=Variant(**variant), **values)


# ---- shapes on disk -------------------------------------------------------------------------------
def prepare_workdir(shape: Shape, root: Path) -> None:
    """Tokenizer + LLM config folder (random init reads only config.json) + open_clip config if needed."""
    from transformers import AutoTokenizer, Qwen2Config

    from tiny_models.tokenizer import train_tiny_tokenizer

    llm_dir = root / "llm"
    tokenizer = AutoTokenizer.from_pretrained(train_tiny_tokenizer(llm_dir))
    if len(tokenizer) > shape.llm["vocab_size"]:
        raise ValueError(f"shape {shape.name}: vocabulary {shape.llm['vocab_size']} < tokenizer's {len(tokenizer)}")
    config = Qwen2Config(**shape.llm, pad_token_id=tokenizer.pad_token_id, bos_token_id=None,
                         eos_token_id=tokenizer.convert_tokens_to_ids("<|im_end|>"))
    config.architectures = ["Qwen2ForCausalLM"]
    config.save_pretrained(llm_dir)
    if shape.vision["open_clip_name"] is None:
        vision = shape.vision
        open_clip_config = {
            "embed_dim": vision["width"], "quick_gelu": True,
            "vision_cfg": {"image_size": IMAGE_SIZE, "patch_size": PATCH_SIZE, "layers": vision["layers"],
                           "width": vision["width"], "head_width": vision["width"] // vision["heads"]},
            "text_cfg": {"context_length": 8, "vocab_size": 64, "width": 32, "heads": 2, "layers": 1},
        }
        (root / "open_clip").mkdir(exist_ok=True)
        (root / "open_clip" / f"{open_clip_name(shape)}.json").write_text(json.dumps(open_clip_config))


def open_clip_name(shape: Shape) -> str:
    return shape.vision["open_clip_name"] or f"bench-vit-{shape.name}-14-336-quickgelu"


def register_open_clip(shape: Shape, root: Path) -> None:
    import open_clip

    if shape.vision["open_clip_name"] is None and open_clip_name(shape) not in open_clip.list_models():
        open_clip.add_model_config(root / "open_clip" / f"{open_clip_name(shape)}.json")


# ---- synthetic CulturalGround-like data ----------------------------------------------------------
SYSTEM_AND_HEADER = 14  # "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n"
ASSISTANT_HEADER = 5  # "<|im_end|>\n<|im_start|>assistant\n"


def synthetic_samples(count: int, seed: int, image_token_id: int, first_text_id: int, vocab: int,
                      data: str = "culturalground") -> list[Any]:
    """Samples as the data workers produce them: 576 image tokens + 30–150 text tokens, answer labelled.

    `data="mixture"` adds the spread of the training mixture: a quarter long multi-turn samples
    (300–1,500 text tokens, PangeaInstruct-like) and a tenth text-only.
    """
    from culturalpangea.data.image_processing import PreprocessedImage
    from culturalpangea.data.processing import ProcessedSample
    from culturalpangea.data.tokenize import IGNORE_INDEX

    generator = torch.Generator().manual_seed(seed)
    samples = []
    for index in range(count):
        draw = float(torch.rand((), generator=generator))
        long_sample = data == "mixture" and draw < 0.25
        with_image = not (data == "mixture" and 0.25 <= draw < 0.35)
        low, high = (300, 1500) if long_sample else (30, 150)
        text = int(torch.randint(low, high + 1, (), generator=generator))
        answer = max(3, round((text - SYSTEM_AND_HEADER - ASSISTANT_HEADER) * (0.25 + 0.35 * draw)))
        question = text - SYSTEM_AND_HEADER - ASSISTANT_HEADER - answer
        image = [image_token_id] * IMAGE_TOKENS if with_image else []
        ids = torch.randint(first_text_id, vocab, (text,), generator=generator).tolist()
        input_ids = ids[:SYSTEM_AND_HEADER] + image + ids[SYSTEM_AND_HEADER:]
        labels = [IGNORE_INDEX] * (len(input_ids) - answer) + input_ids[-answer:]
        images = []
        if with_image:
            pixels = torch.randint(0, 256, (1, 3, IMAGE_SIZE, IMAGE_SIZE), generator=generator, dtype=torch.uint8)
            images = [PreprocessedImage(pixels, (IMAGE_SIZE, IMAGE_SIZE), IMAGE_TOKENS)]
        samples.append(ProcessedSample(f"bench-{seed}-{index:05d}", torch.tensor(input_ids), torch.tensor(labels),
                                       images, "bench"))
        assert question > 0
    return samples


def make_batches(samples: list[Any], micro_batch: int, pad_token_id: int, packing: bool, pack_length: int,
                 reference: bool) -> list[dict[str, Any]]:
    """Collated micro-batches (the project's collate); the reference gets normalised float pixels."""
    from culturalpangea.data.collate import collate_packed, collate_samples
    from culturalpangea.data.image_processing import normalize_pixels

    batches = []
    for start in range(0, len(samples) - micro_batch + 1, micro_batch):
        chunk = samples[start : start + micro_batch]
        batch = (collate_packed(chunk, pad_token_id, pack_length) if packing
                 else collate_samples(chunk, pad_token_id))
        if reference:
            pixels = batch["pixel_values"]
            batch = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"],
                     "labels": batch["labels"], "sequence_lengths": batch["sequence_lengths"],
                     "pixel_values": None if pixels is None else normalize_pixels(pixels)}
        batches.append(batch)
    return batches


def to_device(batch: dict[str, Any], device: torch.device) -> dict[str, Any]:
    return {key: value.to(device, non_blocking=True) if isinstance(value, torch.Tensor) else value
            for key, value in batch.items()}


def pin(batch: dict[str, Any]) -> dict[str, Any]:
    return {key: value.pin_memory() if isinstance(value, torch.Tensor) else value for key, value in batch.items()}


# ---- the two models ------------------------------------------------------------------------------
def project_model_config(shape: Shape, root: Path, levers: Levers, attention: str) -> dict[str, Any]:
    """The `model` group for build_vlm: explicit shapes, random weights, single resolution."""
    return {
        "vision": {"open_clip_name": open_clip_name(shape), "weights": None, "image_size": IMAGE_SIZE,
                   "feature_layer": -2, "select": "patch", "frozen": True,
                   "compute_dtype": "bfloat16" if levers.tower_bf16 else None, "gradient_checkpointing": False},
        "connector": {"type": "mlp2x_gelu"},
        "llm": {"path": str(root / "llm"), "dtype": "float32", "attn_implementation": attention,
                "gradient_checkpointing": False, "random_init": True, "compile": levers.compile,
                "fused_linear_cross_entropy": levers.liger},
        "anyres": {"enabled": False},
    }


def build_project(spec: RunSpec, shape: Shape, device: torch.device) -> tuple[torch.nn.Module, list[dict]]:
    """The VLM from build_vlm with the finetune stage's freeze plan, and its AdamW groups."""
    from culturalpangea.models.builder import build_vlm
    from culturalpangea.optim import StagePlan, apply_freeze, parameter_groups

    root = Path(spec.workdir)
    register_open_clip(shape, root)
    levers = spec.variant.levers
    attention = spec.packed_attention if levers.packing else "sdpa"
    torch.manual_seed(spec.seed)
    with torch.device(device):
        model = build_vlm(project_model_config(shape, root, levers, attention))
    model.to(device)
    components = model.components()
    apply_freeze(components, StagePlan({"vision": False, "connector": True, "llm": True}, {}))
    model.train()
    return model, parameter_groups(components, 1e-5, {}, 0.0)


def reference_config(shape: Shape, image_token_id: int, pad_token_id: int) -> Any:
    from transformers import CLIPVisionConfig, LlavaConfig, Qwen2Config

    vision = shape.vision
    vision_config = CLIPVisionConfig(hidden_size=vision["width"], intermediate_size=4 * vision["width"],
                                     num_hidden_layers=vision["layers"], num_attention_heads=vision["heads"],
                                     image_size=IMAGE_SIZE, patch_size=PATCH_SIZE, hidden_act="quick_gelu")
    text_config = Qwen2Config(**shape.llm, pad_token_id=pad_token_id)
    return LlavaConfig(vision_config=vision_config.to_dict(), text_config=text_config.to_dict(),
                       image_token_index=image_token_id, projector_hidden_act="gelu", vision_feature_layer=-2,
                       vision_feature_select_strategy="default", image_seq_length=IMAGE_TOKENS,
                       tie_word_embeddings=shape.llm["tie_word_embeddings"])


def build_reference(shape: Shape, image_token_id: int, pad_token_id: int, device: torch.device, seed: int
                    ) -> torch.nn.Module:
    from transformers import LlavaForConditionalGeneration

    torch.manual_seed(seed)
    with torch.device(device):
        model = LlavaForConditionalGeneration._from_config(
            reference_config(shape, image_token_id, pad_token_id), attn_implementation="sdpa", dtype=torch.float32)
    model.model.vision_tower.requires_grad_(False)
    return model.train()


def reference_state_from_project(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The project model's weights under HF Llava's (transformers 5) names."""
    from culturalpangea.models.clip_mapping import open_clip_to_clip_hf

    state = {f"model.vision_tower.{name}": tensor
             for name, tensor in open_clip_to_clip_hf(model.vision.visual.state_dict(), "bench").items()}
    state.update({f"model.multi_modal_projector.{name}": t for name, t in model.connector.state_dict().items()})
    for name, tensor in model.llm.state_dict().items():
        state[name if name.startswith("lm_head.") else f"model.language_model.{name.removeprefix('model.')}"] = tensor
    return state


def flops_model_of(model: torch.nn.Module, kind: str) -> Any:
    """flops.py's model for either path, counted alike: trained = connector + LLM, vision = blocks that run."""
    from culturalpangea.flops import FlopsModel

    trained = sum(p.numel() for p in model.parameters() if p.requires_grad)
    if kind == "project":
        vision = sum(p.numel() for p in model.vision.parameters())
        text = model.llm.config
    else:
        tower = model.model.vision_tower
        used = [tower.embeddings, tower.pre_layrnorm, *tower.encoder.layers[:-1]]  # feature layer -2
        vision = sum(p.numel() for module in used for p in module.parameters())
        text = model.config.text_config
    return FlopsModel(trained_params=trained, frozen_llm_params=0, vision_params=vision,
                      num_layers=text.num_hidden_layers, hidden_size=text.hidden_size)


def check_loss_parity(shape: Shape, root: Path, samples: list[Any], pad_token_id: int, image_token_id: int
                      ) -> tuple[float, float]:
    """Same weights, same batch, fp32 on CPU: the project's loss and HF Llava's (they must agree)."""
    spec = RunSpec(Variant("parity", "project", 2, Levers(labelled_head=True)), shape.name, str(root), "cpu",
                   0, 0, 0, "culturalground", 4096, "sdpa")
    project, _ = build_project(spec, shape, torch.device("cpu"))
    reference = build_reference(shape, image_token_id, pad_token_id, torch.device("cpu"), 0)
    missing, unexpected = reference.load_state_dict(reference_state_from_project(project), strict=False)
    if unexpected or [name for name in missing if name != "lm_head.weight"]:
        raise RuntimeError(f"weight mapping: missing {missing[:3]}, unexpected {unexpected[:3]}")
    batch = make_batches(samples[:2], 2, pad_token_id, False, 4096, reference=False)[0]
    reference_batch = make_batches(samples[:2], 2, pad_token_id, False, 4096, reference=True)[0]
    with torch.no_grad():
        ours = project(**project.batch_to_model_inputs(batch)).loss
        theirs = reference(**{k: v for k, v in reference_batch.items() if k != "sequence_lengths"}).loss
    return float(ours), float(theirs)


# ---- one configuration, in its own process ---------------------------------------------------------
def attention_backends(device: torch.device) -> contextlib.AbstractContextManager:
    """Explicit SDPA backends on CUDA for both paths (not cuDNN: torch 2.11's failed on padded masks)."""
    if device.type != "cuda":
        return contextlib.nullcontext()
    from torch.nn.attention import SDPBackend, sdpa_kernel

    return sdpa_kernel([SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION, SDPBackend.MATH])


def autocast(device: torch.device) -> contextlib.AbstractContextManager:
    """Lightning's bf16-mixed on CUDA; plain fp32 on CPU (CPU bf16 autocast measures the CPU, not the code)."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def step_function(spec: RunSpec, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                  device: torch.device) -> Any:
    """One optimizer step on a device batch; returns the loss as a float (the loop logs it)."""
    params = [p for group in optimizer.param_groups for p in group["params"]]
    project = spec.variant.kind == "project"
    full_logits = project and not spec.variant.levers.labelled_head

    def step(batch: dict[str, Any]) -> float:
        with autocast(device), attention_backends(device):
            if project:
                inputs = model.batch_to_model_inputs(batch)
                if full_logits:
                    inputs["return_logits"] = True
                loss = model(**inputs).loss
            else:
                loss = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                             pixel_values=batch["pixel_values"], labels=batch["labels"]).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return float(loss.detach())

    return step


def _images(batch: dict[str, Any]) -> int:
    return 0 if batch["pixel_values"] is None else int(batch["pixel_values"].shape[0])


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class RssPeak:
    """Peak resident memory above the level at entry, sampled every 2 ms (CPU runs; Linux /proc)."""

    def __init__(self) -> None:
        self.base = self.peak = self._rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    @staticmethod
    def _rss() -> int:
        with open("/proc/self/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * resource.getpagesize()

    def _sample(self) -> None:
        while not self._stop.wait(0.002):
            self.peak = max(self.peak, self._rss())

    def __enter__(self) -> RssPeak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._rss())


def _peak_memory(device: torch.device, rss: RssPeak) -> tuple[float, str]:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**30, "CUDA max allocated"
    return (rss.peak - rss.base) / 2**30, "peak RSS above the worker's level before the model was built"


def _build_run(spec: RunSpec, device: torch.device) -> tuple[torch.nn.Module, Any, list[dict[str, Any]]]:
    """The model, its optimizer step function and the micro-batches of one configuration."""
    from transformers import AutoTokenizer

    shape, variant, levers = SHAPES[spec.shape], spec.variant, spec.variant.levers
    tokenizer = AutoTokenizer.from_pretrained(Path(spec.workdir) / "llm")
    image_token_id, pad_token_id = tokenizer.convert_tokens_to_ids("<image>"), tokenizer.pad_token_id
    if variant.kind == "project":
        model, groups = build_project(spec, shape, device)
    else:
        model = build_reference(shape, image_token_id, pad_token_id, device, spec.seed)
        groups = [{"params": [p for p in model.parameters() if p.requires_grad]}]
    fused = levers.fused_adamw if variant.kind == "project" else None
    optimizer = torch.optim.AdamW(groups, lr=1e-5, fused=fused or None)
    samples = synthetic_samples(variant.micro_batch * 4, spec.seed, image_token_id, len(tokenizer),
                                shape.llm["vocab_size"], spec.data)
    batches = make_batches(samples, variant.micro_batch, pad_token_id, levers.packing, spec.pack_length,
                           reference=variant.kind == "reference")
    if device.type == "cuda":
        batches = [pin(batch) for batch in batches]
    return model, step_function(spec, model, optimizer, device), batches


def _import_model_code() -> None:
    import open_clip  # noqa: F401
    from transformers import LlavaForConditionalGeneration, Qwen2ForCausalLM  # noqa: F401

    from culturalpangea.models.builder import build_vlm  # noqa: F401


def run_worker(spec: RunSpec) -> dict[str, Any]:
    """Build one configuration, warm it up, time `spec.steps` optimizer steps; the figures as a dict."""
    device = torch.device(spec.device)
    shape, variant = SHAPES[spec.shape], spec.variant
    _import_model_code()  # so that the RSS figure is the model's and the step's, not the libraries'
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    with RssPeak() as rss:
        model, step, batches = _build_run(spec, device)
        losses = [step(to_device(batches[i % len(batches)], device)) for i in range(spec.warmup)]
        _synchronize(device)
        started = time.perf_counter()
        for index in range(spec.steps):
            losses.append(step(to_device(batches[index % len(batches)], device)))
        _synchronize(device)
        seconds = time.perf_counter() - started
    flops_model = flops_model_of(model, variant.kind)
    timed = [batches[i % len(batches)] for i in range(spec.steps)]
    tokens = sum(sum(batch["sequence_lengths"]) for batch in timed)
    flops = sum(flops_model.step_flops(batch["sequence_lengths"], IMAGE_TOKENS * _images(batch)) for batch in timed)
    slots = sum(int(batch["input_ids"].numel()) for batch in timed)
    labelled = sum(int((batch["labels"][:, 1:] != -100).sum()) for batch in timed)
    head_unlabelled = 6 * shape.llm["vocab_size"] * shape.llm["hidden_size"] * (tokens - labelled)
    peak, peak_kind = _peak_memory(device, rss)
    return {
        "name": variant.name, "kind": variant.kind, "micro_batch": variant.micro_batch,
        "levers": asdict(variant.levers), "samples_per_s": variant.micro_batch * spec.steps / seconds,
        "tokens_per_s": tokens / seconds, "padding_share": 1 - tokens / slots,
        "head_unlabelled_share": head_unlabelled / flops, "flops_per_s": flops / seconds,
        "step_s": seconds / spec.steps, "peak_gib": peak, "peak_kind": peak_kind,
        "loss_first": losses[0], "loss_last": losses[-1],
        "liger_active": bool(getattr(model, "linear_cross_entropy", None)) and device.type == "cuda",
        "attention": spec.packed_attention if variant.levers.packing else "sdpa",
    }


# ---- orchestration -------------------------------------------------------------------------------
ALL_LEVERS = Levers(labelled_head=True, liger=True, tower_bf16=True, packing=False, compile=True, fused_adamw=True)


def project_levers(device: torch.device) -> Levers:
    """The project path as it trains on this device: every lever that pays there (RESULTS.md says why).

    Packing stays off for CulturalGround-like data (lengths 606–726 leave ~8% padding; dense block
    masks cost more); on CPU the tower stays fp32 (no fast bf16 matmul) and nothing is compiled.
    """
    if device.type == "cuda":
        return ALL_LEVERS
    return replace(ALL_LEVERS, tower_bf16=False, compile=False, fused_adamw=False)


def variants(device: torch.device, micro_batch: int, levers: bool) -> list[Variant]:
    headline = [Variant("reference", "reference", micro_batch), Variant("project", "project", micro_batch,
                                                                        project_levers(device))]
    if not levers:
        return headline
    single = {
        "(a) labelled-token head": Levers(labelled_head=True),
        "(b) liger fused linear CE": Levers(labelled_head=True, liger=True),
        "(c) tower bf16 under no_grad": Levers(tower_bf16=True),
        "(d) packing": Levers(packing=True),
        "(e) torch.compile LLM layers": Levers(compile=True),
        "(f) fused AdamW": Levers(fused_adamw=True),
    }
    plain = [Variant("plain project (no lever)", "project", micro_batch)]
    each = [Variant(name, "project", micro_batch, lever) for name, lever in single.items()]
    larger = [Variant(f"(g) project, micro-batch {2 * micro_batch}", "project", 2 * micro_batch,
                      project_levers(device))]
    return headline + plain + each + larger


def run_in_child(spec: RunSpec, timeout: float) -> dict[str, Any]:
    payload = json.dumps(asdict(spec))
    try:
        done = subprocess.run([sys.executable, __file__, "--worker", payload], capture_output=True, text=True,
                              timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return {"name": spec.variant.name, "error": f"timed out after {timeout:.0f} s"}
    for line in reversed(done.stdout.splitlines()):
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
    oom = any("out of memory" in line.lower() for line in tail)
    return {"name": spec.variant.name, "error": "out of memory" if oom else " | ".join(tail)[-400:]}


def measure_all(specs: list[RunSpec], rounds: int, timeout: float) -> list[dict[str, Any]]:
    """Every configuration `rounds` times, forward then backward order, so drifting load hits all alike."""
    runs: list[list[dict[str, Any]]] = [[] for _ in specs]
    for round_index in range(rounds):
        order = list(range(len(specs)))
        for index in order if round_index % 2 == 0 else order[::-1]:
            runs[index].append(run_in_child(specs[index], timeout))
    results = []
    for attempts in runs:
        done = sorted((r for r in attempts if "error" not in r), key=lambda r: r["samples_per_s"])
        results.append(done[(len(done) - 1) // 2] if done else attempts[0])
    return results


def measured_rate(device: torch.device) -> tuple[float, str]:
    """The dense matmul rate MFU is taken against (bf16 on CUDA); on CPU an fp32 rate, for scale only."""
    from culturalpangea.flops import measured_matmul_flops

    if device.type == "cuda":
        rate = measured_matmul_flops(device, torch.bfloat16)
        torch.cuda.empty_cache()
        return rate, "bf16 matmul (8192³)"
    return measured_matmul_flops(device, torch.float32, size=1024, repeats=10), "fp32 matmul (1024³)"


def print_report(results: list[dict[str, Any]], device: torch.device, rate: float, rate_kind: str) -> None:
    cuda = device.type == "cuda"
    print(f"| configuration | micro-batch | samples/s | non-pad tokens/s | padding | model FLOP/s |{' MFU |' * cuda} "
          "peak memory (GiB) | loss first→last |")
    print(f"| --- | ---: | ---: | ---: | ---: | ---: |{' ---: |' * cuda} ---: | --- |")
    for result in results:
        if "error" in result:
            print(f"| {result['name']} | | failed: {result['error']} | | | |{' |' * cuda} | |")
            continue
        note = " (liger active)" if result["levers"]["liger"] and result["liger_active"] else ""
        note += f" [{result['attention']}]" if result["levers"]["packing"] else ""
        mfu = f" {100 * result['flops_per_s'] / rate:.1f}% |" if cuda else ""
        print(f"| {result['name']}{note} | {result['micro_batch']} | {result['samples_per_s']:.2f} | "
              f"{result['tokens_per_s']:,.0f} | {100 * result['padding_share']:.1f}% | "
              f"{result['flops_per_s'] / 1e12:.3f} T |{mfu} "
              f"{result['peak_gib']:.2f} | {result['loss_first']:.3f}→{result['loss_last']:.3f} |")
    done = [r for r in results if "error" not in r]
    if done:
        print(f"rate: {rate / 1e12:.3f} TFLOP/s measured ({rate_kind}); memory: {done[0]['peak_kind']}")
        print(f"model FLOPs follow issue 8's formula (6·N per token counts the LM head on every token); "
              f"{100 * done[0]['head_unlabelled_share']:.0f}% of them are the head on unlabelled tokens, which the "
              "labelled-token head (a) and liger (b) do not execute: their MFU overstates executed work by that share")
    if device.type != "cuda":
        print("CPU run: MFU is not meaningful here (no bf16 matrix units, tiny shapes, a shared machine); model "
              "FLOP/s shown instead, with the fp32 matmul rate above for scale")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny shapes on CPU, project vs reference, < 1 minute")
    parser.add_argument("--shape", choices=sorted(SHAPES), default="1.5b")
    parser.add_argument("--micro-batch", type=int, default=None, help="default: the shape's (1.5b: 8, 0.5b: 16)")
    parser.add_argument("--steps", type=int, default=None, help="timed optimizer steps (after the warm-up)")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda")
    parser.add_argument("--levers", action="store_true", help="also measure every fast-path lever on its own")
    parser.add_argument("--data", choices=("culturalground", "mixture"), default="culturalground")
    parser.add_argument("--pack-length", type=int, default=4096, help="row length of packed batches (data.max_length)")
    parser.add_argument("--packed-attention", default="auto",
                        help="attention for packed rows: auto (flash_attention_2 if installed, else flex_attention on "
                             "CUDA, sdpa on CPU) | sdpa | flex_attention | flash_attention_2")
    parser.add_argument("--rounds", type=int, default=1, help="runs per configuration (median reported)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=900, help="seconds per configuration")
    parser.add_argument("--json-out", type=Path, default=None, help="also write the results as JSON")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.shape, args.device, args.warmup = "tiny", "cpu", 1
        args.steps, args.micro_batch = args.steps or 4, args.micro_batch or 2
    return args


def packed_attention(choice: str, device: torch.device) -> str:
    import importlib.util

    if choice != "auto":
        return choice
    if device.type == "cuda" and importlib.util.find_spec("flash_attn") is not None:
        return "flash_attention_2"
    return "flex_attention" if device.type == "cuda" else "sdpa"


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.worker:
        print("RESULT " + json.dumps(run_worker(RunSpec.from_json(args.worker))), flush=True)
        return
    device = torch.device(("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device)
    shape = SHAPES[args.shape]
    micro_batch = args.micro_batch or shape.micro_batch
    steps = args.steps or shape.steps
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        prepare_workdir(shape, root)
        print(f"machine: {platform.machine()} {platform.processor() or ''} {describe_device(device)} "
              f"torch={torch.__version__} threads={torch.get_num_threads()}")
        print(f"shape: {shape.name} (LLM {shape.llm['hidden_size']}x{shape.llm['num_hidden_layers']} layers, vocab "
              f"{shape.llm['vocab_size']}; ViT width {shape.vision['width']} x{shape.vision['layers']}), data: "
              f"{args.data}, micro-batch {micro_batch}, {steps} timed steps after {args.warmup} warm-up")
        if shape.name == "tiny":
            report_parity(shape, root)
        rate, rate_kind = measured_rate(device)
        specs = [RunSpec(variant, shape.name, str(root), str(device), steps, args.warmup, args.seed, args.data,
                         args.pack_length, packed_attention(args.packed_attention, device))
                 for variant in variants(device, micro_batch, args.levers)]
        results = measure_all(specs, args.rounds, args.timeout)
    print(f"rounds: {args.rounds} (alternating order; the median round of each configuration by samples/s)")
    print_report(results, device, rate, rate_kind)
    if args.json_out:
        args.json_out.write_text(json.dumps({"device": describe_device(device), "results": results}, indent=1))
    reference, project = results[0], results[1]
    if "error" in reference or "error" in project:
        print("ratio_vs_reference=nan")
        return
    print(f"memory_vs_reference={project['peak_gib'] / reference['peak_gib']:.2f}")
    print(f"ratio_vs_reference={project['samples_per_s'] / reference['samples_per_s']:.2f}")


def describe_device(device: torch.device) -> str:
    if device.type == "cuda":
        memory = torch.cuda.get_device_properties(device).total_memory / 2**30
        return f"{torch.cuda.get_device_name(device)} ({memory:.0f} GiB)"
    return f"CPU x{os.cpu_count()}"


def report_parity(shape: Shape, root: Path) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(root / "llm")
    image_token_id = tokenizer.convert_tokens_to_ids("<image>")
    samples = synthetic_samples(2, 0, image_token_id, len(tokenizer), shape.llm["vocab_size"])
    ours, theirs = check_loss_parity(shape, root, samples, tokenizer.pad_token_id, image_token_id)
    if not math.isclose(ours, theirs, rel_tol=1e-4):
        raise SystemExit(f"the two paths disagree on the same weights: loss {ours} vs {theirs}")
    print(f"same weights, same batch (fp32): project loss {ours:.6f}, reference loss {theirs:.6f}")


if __name__ == "__main__":
    main()
