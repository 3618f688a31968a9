"""The language model: any transformers causal LM (Qwen2 for Pangea), its tokenizer and `<image>`.

- Loaded with transformers' own `from_pretrained` (sharded safetensors, dtype, meta-device
  initialisation), from its own folder or straight from an HF LlavaNext folder (its
  `language_model.*` tensors renamed on the fly), so a 7B model is never initialised randomly
  first and is read shard by shard.
- Attention by config: `sdpa` (default), `flash_attention_2` when `flash_attn` imports (otherwise a
  logged warning and `sdpa`), `flex_attention` (PyTorch's FlexAttention), `eager` for debugging.
- Gradient checkpointing through transformers (non-reentrant, so a frozen input side is fine).
- Fast-path switches (all off by default, each with a fallback):
  `random_init` builds the folder's architecture (config.json) with random weights (benchmarks,
  smoke tests at full shape without a checkpoint); `compile` compiles every decoder layer in place
  with `torch.compile` ("regional" compilation: one compiled graph reused by all layers, state-dict
  names unchanged, mask building and the loss stay eager, so varying lengths and packing do not
  break the graph); `fused_linear_cross_entropy` returns liger-kernel's fused LM head + loss (the
  [tokens, vocab] logits never exist) when `liger_kernel` imports, else None with a warning and the
  model keeps its head-on-labelled-tokens loss.
- The tokenizer must know `<image>`: a tokenizer without it (a plain Qwen2-7B-Instruct, for the
  align stage) gets it as an added special token, and the embeddings grow only if its id falls
  outside them (Qwen2's embedding matrix has spare rows, so usually it does not).
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Callable
from pathlib import Path

import torch
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer, PretrainedConfig, PreTrainedModel
from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING
from transformers.utils import logging as hf_logging

from culturalpangea.errors import ModelConfigError
from culturalpangea.models.chat_format import IMAGE_TOKEN
from culturalpangea.models.weights import CheckpointError

log = logging.getLogger(__name__)

ATTN_IMPLEMENTATIONS = ("sdpa", "flash_attention_2", "flex_attention", "eager")


def resolve_attn_implementation(name: str | None) -> str:
    """The attention implementation to ask transformers for, falling back to `sdpa` with a warning."""
    name = name or "sdpa"
    if name not in ATTN_IMPLEMENTATIONS:
        raise ModelConfigError(f"attn_implementation {name!r} is not one of {ATTN_IMPLEMENTATIONS}")
    if name == "flash_attention_2" and importlib.util.find_spec("flash_attn") is None:
        log.warning("attn_implementation=flash_attention_2 but flash-attn is not installed: using sdpa")
        return "sdpa"
    if name == "flex_attention" and importlib.util.find_spec("torch.nn.attention.flex_attention") is None:
        log.warning("attn_implementation=flex_attention needs torch>=2.5 with FlexAttention: using sdpa")
        return "sdpa"
    return name


def causal_lm_class(config: PretrainedConfig) -> type[PreTrainedModel]:
    try:
        return MODEL_FOR_CAUSAL_LM_MAPPING[type(config)]
    except KeyError as error:
        raise ModelConfigError(f"no transformers causal LM for model_type {config.model_type!r}") from error


def load_llm(path: str | Path, dtype: torch.dtype = torch.float32, attn_implementation: str | None = "sdpa",
             random_init: bool = False) -> PreTrainedModel:
    """A causal LM from a local folder (`random_init`: its architecture only, random weights)."""
    path = Path(path)
    if not (path / "config.json").is_file():
        raise FileNotFoundError(f"LLM folder {path} has no config.json")
    attn_implementation = resolve_attn_implementation(attn_implementation)
    if random_init:
        log.warning("llm.random_init: %s's architecture with random weights (no checkpoint is read)", path)
        config = AutoConfig.from_pretrained(path)
        return AutoModelForCausalLM.from_config(config, dtype=dtype, attn_implementation=attn_implementation)
    return AutoModelForCausalLM.from_pretrained(path, dtype=dtype, attn_implementation=attn_implementation)


def expected_llm_shapes(config: PretrainedConfig) -> dict[str, tuple[int, ...]]:
    """Names and shapes of the causal LM's weights, from a meta-device instance (no memory used)."""
    with torch.device("meta"):
        skeleton = causal_lm_class(config)(config)
    return {name: tuple(t.shape) for name, t in skeleton.state_dict().items()}


def tied_optional(config: PretrainedConfig) -> set[str]:
    return {"lm_head.weight"} if getattr(config, "tie_word_embeddings", False) else set()


# LlavaNext names of the LLM's tensors (4.x and 5.x layouts) → the causal LM's own names.
LLAVA_NEXT_LLM_KEYS = {r"^language_model\.model\.": "model.", r"^language_model\.lm_head\.": "lm_head.",
                       r"^model\.language_model\.": "model."}


def llm_from_llava_next(
    folder: Path,
    config: PretrainedConfig,
    dtype: torch.dtype = torch.float32,
    attn_implementation: str | None = "sdpa",
) -> PreTrainedModel:
    """The causal LM inside an HF LlavaNext folder, read straight from its shards (names checked before)."""
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # the vision and projector tensors are "unexpected" here, by design
    try:
        model, info = causal_lm_class(config).from_pretrained(
            folder, config=config, key_mapping=LLAVA_NEXT_LLM_KEYS, dtype=dtype, output_loading_info=True,
            attn_implementation=resolve_attn_implementation(attn_implementation),
        )
    finally:
        hf_logging.set_verbosity(verbosity)
    problems = {key: sorted(info[key])[:5] for key in ("missing_keys", "mismatched_keys") if info[key]}
    if problems:
        raise CheckpointError(f"{folder} (language model) did not load cleanly: {problems}")
    return model


def set_gradient_checkpointing(llm: PreTrainedModel, enabled: bool) -> None:
    """Activation (gradient) checkpointing of every decoder layer, non-reentrant; or off."""
    if enabled:
        llm.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
    elif llm.is_activation_checkpointing:
        llm.activation_checkpointing_disable()


def compile_decoder_layers(llm: PreTrainedModel, mode: str | None = None) -> int:
    """`torch.compile` every decoder layer in place (regional compilation); returns how many."""
    layers = getattr(llm.base_model, "layers", None)
    if not isinstance(layers, torch.nn.ModuleList) or not len(layers):
        raise ModelConfigError(f"llm.compile: {type(llm).__name__} has no `base_model.layers` to compile")
    for layer in layers:
        layer.compile(mode=mode)
    log.info("llm.compile: %d decoder layers compiled (mode=%s)", len(layers), mode or "default")
    return len(layers)


LinearCrossEntropy = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, "torch.Tensor | None"], torch.Tensor]


def fused_linear_cross_entropy() -> LinearCrossEntropy | None:
    """liger-kernel's fused LM head + mean cross-entropy, `(weight, hidden, targets, bias) -> loss`, or None.

    Under autocast the hidden states and head weight are cast to the autocast dtype first, as the
    head's `nn.Linear` would be; liger accumulates the loss in fp32 itself.
    """
    try:
        from liger_kernel.transformers import LigerFusedLinearCrossEntropyLoss
    except ImportError as error:  # includes a liger without triton
        log.warning("llm.fused_linear_cross_entropy: liger-kernel does not import (%s); the LM head runs on "
                    "labelled tokens with torch's cross-entropy", error)
        return None
    loss = LigerFusedLinearCrossEntropyLoss()

    def fused(weight: torch.Tensor, hidden: torch.Tensor, targets: torch.Tensor, bias: torch.Tensor | None = None
              ) -> torch.Tensor:
        if not hidden.is_cuda:  # liger's kernels are Triton GPU kernels
            return torch.nn.functional.cross_entropy(torch.nn.functional.linear(hidden, weight, bias).float(), targets)
        device = hidden.device.type
        if torch.is_autocast_enabled(device):
            dtype = torch.get_autocast_dtype(device)
            weight, hidden = weight.to(dtype), hidden.to(dtype)
            bias = None if bias is None else bias.to(dtype)
        return loss(weight, hidden, targets, bias).float()

    return fused


def load_tokenizer(path: str | Path):  # noqa: ANN201 - an HF fast tokenizer
    return AutoTokenizer.from_pretrained(Path(path))


def ensure_image_token(tokenizer, llm: PreTrainedModel) -> int:  # noqa: ANN001 - an HF tokenizer
    """The id of `<image>`, added as a special token (and the embeddings grown) when missing."""
    token_id = tokenizer.convert_tokens_to_ids(IMAGE_TOKEN)
    if token_id is None or token_id == tokenizer.unk_token_id:
        tokenizer.add_special_tokens({"additional_special_tokens": [IMAGE_TOKEN]})
        token_id = tokenizer.convert_tokens_to_ids(IMAGE_TOKEN)
        log.warning("tokenizer had no %s token: added it with id %d", IMAGE_TOKEN, token_id)
    rows = llm.get_input_embeddings().weight.shape[0]
    if token_id >= rows:
        llm.resize_token_embeddings(len(tokenizer))
        log.warning("LLM embeddings grown from %d to %d rows for %s", rows, len(tokenizer), IMAGE_TOKEN)
    return int(token_id)
