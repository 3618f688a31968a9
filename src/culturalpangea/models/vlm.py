"""The composed VLM: vision tower → connector → image features at the `<image>` tokens → causal LM.

Sequences arrive with every image already expanded to as many `<image>` tokens as it has features
(data/tokenize.py, generation.py), as in HF's LlavaNext. The forward embeds the tokens, runs all
crops of the batch through the tower at once, projects them, packs each image (anyres:
base crop, unpadded grid, newlines; single resolution: the crop's patches) and writes the image
features over the image tokens in order: sample by sample, image by image. A count that does not
match raises an error naming the sample. Text-only samples and batches need no pixels.

Loss: next-token cross-entropy over labelled positions (labels -100 elsewhere), averaged over the
labelled tokens of the micro-batch, in fp32, as HF's causal-LM loss. With `return_logits=False`
(training) the LM head runs only on the labelled positions: with Qwen2's 152k vocabulary the
full logits of a 4k-token micro-batch would take ~2.5 GB in fp32 for nothing. With
`linear_cross_entropy` set (liger-kernel's fused kernel, `llm.fused_linear_cross_entropy`), the head
and the loss of those positions run fused in chunks on CUDA, and not even their logits exist.

The model is a plain `nn.Module` holding three components (`vision`, `connector`, `llm`) that the
training stage freezes and groups by name; it keeps the tokenizer and hands out the image
preprocessor the data workers must use, so token counts cannot drift from the model.

On CUDA, attention runs with explicitly chosen SDPA backends (flash, memory-efficient, math; not
cuDNN, which torch 2.11 was seen failing on padded masks); `sdpa_backends` overrides the choice.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel
from transformers import PreTrainedModel

from culturalpangea.data.image_processing import ImagePreprocessor, SingleResolutionPreprocessor
from culturalpangea.data.tokenize import IGNORE_INDEX
from culturalpangea.errors import ModelConfigError
from culturalpangea.models.anyres import AnyresGeometry, AnyresPreprocessor, pack_anyres_features
from culturalpangea.models.chat_format import IMAGE_TOKEN
from culturalpangea.models.connector import CONNECTOR_TYPES, Connector
from culturalpangea.models.llm import set_gradient_checkpointing
from culturalpangea.models.vision import CLIPVisionTower, VisionTowerConfig

PATCH_MERGES = ("spatial_unpad",)
DEFAULT_SDPA_BACKENDS = (SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION, SDPBackend.MATH)


@dataclass(frozen=True)
class AnyresConfig:
    enabled: bool = True
    grid_pinpoints: tuple[tuple[int, int], ...] = ()
    patch_merge: str = "spatial_unpad"
    image_newline: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "grid_pinpoints", tuple(tuple(int(s) for s in p) for p in self.grid_pinpoints))
        if self.enabled and self.patch_merge not in PATCH_MERGES:
            raise ModelConfigError(f"anyres patch_merge {self.patch_merge!r} is not one of {PATCH_MERGES}")
        if self.enabled and not self.grid_pinpoints:
            raise ModelConfigError("anyres is enabled but grid_pinpoints is empty")


@dataclass(frozen=True)
class VLMConfig:
    """Everything that defines the composed architecture besides the LLM's own config."""

    vision: VisionTowerConfig
    connector_type: str = "mlp2x_gelu"
    anyres: AnyresConfig = field(default_factory=AnyresConfig)
    image_token: str = IMAGE_TOKEN

    def __post_init__(self) -> None:
        if self.connector_type not in CONNECTOR_TYPES:
            raise ModelConfigError(f"connector type {self.connector_type!r} is not one of {CONNECTOR_TYPES}")

    @property
    def geometry(self) -> AnyresGeometry | None:
        if not self.anyres.enabled:
            return None
        return AnyresGeometry(self.vision.image_size, self.vision.patch_size, self.anyres.grid_pinpoints,
                              self.anyres.image_newline)

    def to_dict(self) -> dict[str, Any]:
        values = asdict(self)
        values["anyres"]["grid_pinpoints"] = [list(p) for p in self.anyres.grid_pinpoints]
        return values

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> VLMConfig:
        return cls(
            vision=VisionTowerConfig.from_dict(values["vision"]),
            connector_type=values.get("connector_type", "mlp2x_gelu"),
            anyres=AnyresConfig(**values.get("anyres", {"enabled": False})),
            image_token=values.get("image_token", IMAGE_TOKEN),
        )


@dataclass
class VLMOutput:
    loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None
    past_key_values: Any = None


class VisionLanguageModel(nn.Module):
    def __init__(
        self,
        config: VLMConfig,
        vision: CLIPVisionTower,
        connector: Connector,
        llm: PreTrainedModel,
        tokenizer,  # noqa: ANN001 - an HF fast tokenizer
        image_token_id: int,
    ) -> None:
        super().__init__()
        if connector.vision_width != vision.width:
            raise ValueError(f"connector input width {connector.vision_width} != vision width {vision.width}")
        llm_width = llm.get_input_embeddings().weight.shape[1]
        if connector.llm_width != llm_width:
            raise ValueError(f"connector output width {connector.llm_width} != LLM hidden size {llm_width}")
        geometry = config.geometry
        if (connector.image_newline is not None) != bool(geometry and geometry.image_newline):
            raise ValueError("connector.image_newline must exist exactly when anyres uses an image newline")
        self.config = config
        self.vision = vision
        self.connector = connector
        self.llm = llm
        self.tokenizer = tokenizer
        self.image_token_id = int(image_token_id)
        self.geometry = geometry
        self.sdpa_backends: tuple[SDPBackend, ...] = DEFAULT_SDPA_BACKENDS
        # (head weight, hidden [n, d], targets [n], head bias) -> mean loss over the labelled positions.
        self.linear_cross_entropy: Callable[..., torch.Tensor] | None = None

    def _attention_backends(self, tensor: torch.Tensor) -> AbstractContextManager:
        return sdpa_kernel(list(self.sdpa_backends)) if tensor.is_cuda else nullcontext()

    def components(self) -> dict[str, nn.Module]:
        return {"vision": self.vision, "connector": self.connector, "llm": self.llm}

    @property
    def image_preprocessor(self) -> ImagePreprocessor:
        if self.geometry is not None:
            return AnyresPreprocessor(self.geometry)
        return SingleResolutionPreprocessor(self.config.vision.image_size, self.config.vision.patch_size)

    def num_image_tokens(self, image_size: tuple[int, int]) -> int:
        if self.geometry is not None:
            return self.geometry.num_tokens(image_size)
        return self.config.vision.tokens_per_crop

    def set_gradient_checkpointing(self, enabled: bool) -> None:
        set_gradient_checkpointing(self.llm, enabled)
        self.vision.gradient_checkpointing = enabled

    # ---- images -------------------------------------------------------------------------------
    def _crop_counts(self, sizes: list[tuple[int, int]] | None, crops_per_image: Sequence[int] | None,
                     leading: int) -> list[int]:
        """Crops per image; `leading` is pixel_values' first dimension (crops, or padded images)."""
        if self.geometry is None:
            expected = [1] * leading  # single resolution: one crop per image
        else:
            if sizes is None:
                raise ValueError("anyres images need image_sizes (original height, width per image)")
            expected = [self.geometry.num_crops(size) for size in sizes]
        if crops_per_image is not None:
            for index, (given, wanted) in enumerate(zip(crops_per_image, expected, strict=False)):
                if given != wanted:
                    size = f" of {sizes[index][0]}x{sizes[index][1]}" if sizes else ""
                    raise ValueError(f"image {index}{size}: {given} crops given, the model expects {wanted}")
            if len(crops_per_image) != len(expected):
                raise ValueError(f"crops_per_image has {len(crops_per_image)} entries for {len(expected)} images")
        return expected

    def encode_images(
        self,
        pixel_values: torch.Tensor,
        crops_per_image: torch.Tensor | Sequence[int] | None = None,
        image_sizes: torch.Tensor | Sequence[Sequence[int]] | None = None,
    ) -> list[torch.Tensor]:
        """Pixels of all crops → one [tokens, llm width] tensor per image, in order.

        `pixel_values`: [total crops, 3, S, S] (the collated batch), or HF's padded
        [images, max crops, 3, S, S]; uint8 (normalised here) or already normalised floats.
        """
        sizes = None if image_sizes is None else [tuple(int(v) for v in s) for s in _as_list(image_sizes)]
        crops = None if crops_per_image is None else [int(c) for c in _as_list(crops_per_image)]
        padded = pixel_values.dim() == 5
        counts = self._crop_counts(sizes, crops, pixel_values.shape[0])
        if padded:
            pixel_values = torch.cat([pixels[:count] for pixels, count in zip(pixel_values, counts, strict=True)])
        if pixel_values.shape[0] != sum(counts):
            raise ValueError(f"pixel_values hold {pixel_values.shape[0]} crops; the {len(counts)} images need "
                             f"{sum(counts)}")
        projected = self.connector(self.vision(pixel_values))
        per_image = torch.split(projected, counts)
        if self.geometry is None:
            return [features.reshape(-1, features.shape[-1]) for features in per_image]
        return [
            pack_anyres_features(features, size, self.geometry, self.connector.image_newline)
            for features, size in zip(per_image, sizes or [], strict=True)
        ]

    def _check_placeholders(
        self,
        is_image: torch.Tensor,
        lengths: list[int],
        images_per_sample: torch.Tensor | Sequence[int] | None,
        sample_keys: Sequence[str] | None,
    ) -> None:
        found = is_image.sum(dim=1).tolist()
        if images_per_sample is None:
            if sum(found) != sum(lengths):
                raise ValueError(f"{sum(found)} image tokens in input_ids for {len(lengths)} images with "
                                 f"{sum(lengths)} features")
            return
        per_sample = [int(n) for n in _as_list(images_per_sample)]
        if len(per_sample) != len(found) or sum(per_sample) != len(lengths):
            raise ValueError(f"images_per_sample {per_sample} does not fit {len(found)} samples and "
                             f"{len(lengths)} images")
        start = 0
        for row, count in enumerate(per_sample):
            expected = sum(lengths[start : start + count])
            if found[row] != expected:
                name = sample_keys[row] if sample_keys is not None else f"#{row}"
                raise ValueError(f"sample {name}: {found[row]} image tokens in input_ids for {count} image(s) "
                                 f"with {expected} features")
            start += count

    def embed(
        self,
        input_ids: torch.Tensor,
        pixel_values: torch.Tensor | None = None,
        crops_per_image: torch.Tensor | None = None,
        image_sizes: torch.Tensor | None = None,
        images_per_sample: torch.Tensor | None = None,
        sample_keys: Sequence[str] | None = None,
    ) -> torch.Tensor:
        """Token embeddings with each image's features written over its `<image>` tokens."""
        embeds = self.llm.get_input_embeddings()(input_ids)
        is_image = input_ids == self.image_token_id
        if pixel_values is None or pixel_values.numel() == 0:
            if bool(is_image.any()):
                rows = [int(r) for r in is_image.any(dim=1).nonzero().flatten()]
                names = [sample_keys[r] if sample_keys is not None else f"#{r}" for r in rows]
                raise ValueError(f"samples {names} have image tokens but the batch has no pixel_values")
            return embeds
        with self._attention_backends(pixel_values):
            features = self.encode_images(pixel_values, crops_per_image, image_sizes)
        self._check_placeholders(is_image, [f.shape[0] for f in features], images_per_sample, sample_keys)
        flat = torch.cat(features).to(embeds.dtype)
        return embeds.masked_scatter(is_image.unsqueeze(-1), flat)

    # ---- language model -----------------------------------------------------------------------
    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        pixel_values: torch.Tensor | None = None,
        crops_per_image: torch.Tensor | None = None,
        image_sizes: torch.Tensor | None = None,
        images_per_sample: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        past_key_values: Any = None,
        use_cache: bool = False,
        return_logits: bool = True,
        sample_keys: Sequence[str] | None = None,
    ) -> VLMOutput:
        embeds = self.embed(input_ids, pixel_values, crops_per_image, image_sizes, images_per_sample, sample_keys)
        return self.forward_embeds(embeds, attention_mask, labels, position_ids, past_key_values, use_cache,
                                   return_logits)

    def forward_embeds(
        self,
        embeds: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        past_key_values: Any = None,
        use_cache: bool = False,
        return_logits: bool = True,
        logits_to_keep: int = 0,
    ) -> VLMOutput:
        """The LLM on input embeddings: logits (all, or the last `logits_to_keep`), loss, cache."""
        base = self.llm.base_model
        with self._attention_backends(embeds):
            outputs = base(
                inputs_embeds=embeds, attention_mask=attention_mask, position_ids=position_ids,
                use_cache=use_cache, **{cache_argument(base): past_key_values},
            )
        hidden = outputs.last_hidden_state
        head = self.llm.get_output_embeddings()
        logits = None
        if return_logits:
            logits = head(hidden[:, -logits_to_keep:] if logits_to_keep else hidden)
        if labels is not None and logits_to_keep:
            raise ValueError("a loss needs the logits of every position (logits_to_keep=0)")
        loss = None if labels is None else _next_token_loss(hidden, logits, labels, head, self.linear_cross_entropy)
        cache = getattr(outputs, "cache", None) if hasattr(outputs, "cache") else outputs.past_key_values
        return VLMOutput(loss=loss, logits=logits, past_key_values=cache if use_cache else None)

    @staticmethod
    def batch_to_model_inputs(batch: Mapping[str, Any]) -> dict[str, Any]:
        """Collated batch (data/collate.py) → forward kwargs for training (loss only, no logits).

        A packed batch carries `position_ids` that restart per sample; it goes in without a 2-D
        mask, so transformers derives the block-diagonal causal mask (or varlen flash-attention).
        """
        packed = batch.get("position_ids") is not None
        return {
            "input_ids": batch["input_ids"],
            "attention_mask": None if packed else batch["attention_mask"],
            "position_ids": batch.get("position_ids"),
            "labels": batch.get("labels"),
            "pixel_values": batch.get("pixel_values"),
            "crops_per_image": batch.get("crops_per_image"),
            "image_sizes": batch.get("image_sizes"),
            "images_per_sample": batch.get("images_per_sample"),
            "sample_keys": batch.get("keys"),
            "return_logits": False,
        }


@functools.cache
def _cache_argument_of(forward: Callable[..., Any]) -> str:
    return "cache" if "cache" in inspect.signature(forward).parameters else "past_key_values"


def cache_argument(model: nn.Module) -> str:
    """The KV-cache keyword of an HF decoder: `cache` from transformers 5.24, `past_key_values` before.

    Passing the old name to a new version works but warns on every forward (a FutureWarning in
    every training and evaluation log), so the name the installed version declares is used."""
    return _cache_argument_of(type(model).forward)


def _as_list(values: torch.Tensor | Sequence[Any]) -> list[Any]:
    return values.tolist() if isinstance(values, torch.Tensor) else list(values)


def _next_token_loss(hidden: torch.Tensor, logits: torch.Tensor | None, labels: torch.Tensor, head: nn.Module,
                     fused: Callable[..., torch.Tensor] | None = None) -> torch.Tensor:
    targets = labels[:, 1:]
    labelled = targets != IGNORE_INDEX
    if not bool(labelled.any()):
        return hidden.sum() * 0.0  # keeps the graph (and DDP's reducer) intact
    if logits is not None:
        return F.cross_entropy(logits[:, :-1][labelled].float(), targets[labelled])
    selected = hidden[:, :-1][labelled]
    if fused is not None:
        return fused(head.weight, selected, targets[labelled], getattr(head, "bias", None))
    return F.cross_entropy(head(selected).float(), targets[labelled])
