"""The language model: any transformers causal LM (Qwen2 for Pangea), its tokenizer and `<image>`.

- Loaded with transformers' own `from_pretrained` (sharded safetensors, dtype, meta-device
  initialisation), either from a folder or from tensors already in memory (an HF LlavaNext
  checkpoint's `language_model.*` part), so a 7B model is never initialised randomly first.
- Attention by config: `sdpa` (default), `flash_attention_2` when `flash_attn` imports (otherwise a
  logged warning and `sdpa`), `flex_attention` (PyTorch's FlexAttention), `eager` for debugging.
- Gradient checkpointing through transformers (non-reentrant, so a frozen input side is fine).
- The tokenizer must know `<image>`: a tokenizer without it (a plain Qwen2-7B-Instruct, for the
  align stage) gets it as an added special token, and the embeddings grow only if its id falls
  outside them (Qwen2's embedding matrix has spare rows, so usually it does not).
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Mapping
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, PretrainedConfig, PreTrainedModel
from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING

from culturalpangea.models.chat_format import IMAGE_TOKEN
from culturalpangea.models.weights import CheckpointError, check_shapes

log = logging.getLogger(__name__)

ATTN_IMPLEMENTATIONS = ("sdpa", "flash_attention_2", "flex_attention", "eager")


def resolve_attn_implementation(name: str | None) -> str:
    """The attention implementation to ask transformers for, falling back to `sdpa` with a warning."""
    name = name or "sdpa"
    if name not in ATTN_IMPLEMENTATIONS:
        raise ValueError(f"attn_implementation {name!r} is not one of {ATTN_IMPLEMENTATIONS}")
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
        raise ValueError(f"no transformers causal LM for model_type {config.model_type!r}") from error


def load_llm(path: str | Path, dtype: torch.dtype = torch.float32, attn_implementation: str | None = "sdpa"
             ) -> PreTrainedModel:
    """A causal LM from a local folder."""
    path = Path(path)
    if not (path / "config.json").is_file():
        raise FileNotFoundError(f"LLM folder {path} has no config.json")
    return AutoModelForCausalLM.from_pretrained(
        path, dtype=dtype, attn_implementation=resolve_attn_implementation(attn_implementation)
    )


def expected_llm_shapes(config: PretrainedConfig) -> dict[str, tuple[int, ...]]:
    """Names and shapes of the causal LM's weights, from a meta-device instance (no memory used)."""
    with torch.device("meta"):
        skeleton = causal_lm_class(config)(config)
    return {name: tuple(t.shape) for name, t in skeleton.state_dict().items()}


def tied_optional(config: PretrainedConfig) -> set[str]:
    return {"lm_head.weight"} if getattr(config, "tie_word_embeddings", False) else set()


def llm_from_tensors(
    config: PretrainedConfig,
    tensors: Mapping[str, torch.Tensor],
    source: str,
    dtype: torch.dtype = torch.float32,
    attn_implementation: str | None = "sdpa",
) -> PreTrainedModel:
    """A causal LM from tensors named as its own state dict (checked before loading)."""
    check_shapes(expected_llm_shapes(config), {k: tuple(v.shape) for k, v in tensors.items()}, source,
                 tied_optional(config))
    model, info = causal_lm_class(config).from_pretrained(
        None, config=config, state_dict=dict(tensors), dtype=dtype, output_loading_info=True,
        attn_implementation=resolve_attn_implementation(attn_implementation),
    )
    if info["missing_keys"] or info["mismatched_keys"]:
        raise CheckpointError(f"{source}: the LLM did not load cleanly: {info}")
    return model


def set_gradient_checkpointing(llm: PreTrainedModel, enabled: bool) -> None:
    """Activation (gradient) checkpointing of every decoder layer, non-reentrant; or off."""
    if enabled:
        llm.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
    elif llm.is_activation_checkpointing:
        llm.activation_checkpointing_disable()


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
