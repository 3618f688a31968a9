"""Weight names between HF's `CLIPVisionModel` and open_clip's `VisionTransformer`, both ways.

| HF CLIPVisionModel                                 | open_clip VisionTransformer                  |
| -------------------------------------------------- | -------------------------------------------- |
| embeddings.patch_embedding.weight                  | conv1.weight                                 |
| embeddings.class_embedding                         | class_embedding                              |
| embeddings.position_embedding.weight               | positional_embedding                         |
| pre_layrnorm.{weight,bias}                         | ln_pre.{weight,bias}                         |
| encoder.layers.i.self_attn.{q,k,v}_proj.{w,b}      | transformer.resblocks.i.attn.in_proj_{w,b} (q;k;v) |
| encoder.layers.i.self_attn.out_proj.{w,b}          | transformer.resblocks.i.attn.out_proj.{w,b}  |
| encoder.layers.i.layer_norm{1,2}.{w,b}             | transformer.resblocks.i.ln_{1,2}.{w,b}       |
| encoder.layers.i.mlp.fc{1,2}.{w,b}                 | transformer.resblocks.i.mlp.c_{fc,proj}.{w,b} |
| post_layernorm.{weight,bias} (unused by LLaVA)     | ln_post.{weight,bias}                        |

HF names here carry no prefix (a LlavaNext checkpoint adds `vision_tower.` and, written by
transformers 4.x, `vision_model.`). `embeddings.position_ids` (a buffer some old checkpoints saved)
is dropped. Any other name, or a q/k/v projection without its siblings, is an error that names it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import torch

from culturalpangea.models.weights import CheckpointError

_PLAIN = {
    "embeddings.patch_embedding.weight": "conv1.weight",
    "embeddings.class_embedding": "class_embedding",
    "embeddings.position_embedding.weight": "positional_embedding",
    "pre_layrnorm.weight": "ln_pre.weight",
    "pre_layrnorm.bias": "ln_pre.bias",
    "post_layernorm.weight": "ln_post.weight",
    "post_layernorm.bias": "ln_post.bias",
}
_LAYER = {
    "self_attn.out_proj": "attn.out_proj",
    "layer_norm1": "ln_1",
    "layer_norm2": "ln_2",
    "mlp.fc1": "mlp.c_fc",
    "mlp.fc2": "mlp.c_proj",
}
_IGNORED_HF = {"embeddings.position_ids"}
_HF_LAYER = re.compile(r"^encoder\.layers\.(\d+)\.(.+)\.(weight|bias)$")
_OC_LAYER = re.compile(r"^transformer\.resblocks\.(\d+)\.(.+)$")
_QKV = ("q_proj", "k_proj", "v_proj")


def clip_hf_to_open_clip(hf: Mapping[str, torch.Tensor], source: str) -> dict[str, torch.Tensor]:
    """HF CLIPVisionModel tensors (unprefixed) → open_clip VisionTransformer tensors."""
    out: dict[str, torch.Tensor] = {}
    qkv: dict[tuple[int, str], dict[str, torch.Tensor]] = {}
    unexpected = []
    for name, tensor in hf.items():
        if name in _IGNORED_HF:
            continue
        if name in _PLAIN:
            out[_PLAIN[name]] = tensor
            continue
        match = _HF_LAYER.match(name)
        if not match:
            unexpected.append(name)
            continue
        layer, module, kind = match.groups()
        if module.startswith("self_attn.") and module.removeprefix("self_attn.") in _QKV:
            qkv.setdefault((int(layer), kind), {})[module.removeprefix("self_attn.")] = tensor
        elif module in _LAYER:
            out[f"transformer.resblocks.{layer}.{_LAYER[module]}.{kind}"] = tensor
        else:
            unexpected.append(name)
    if unexpected:
        raise CheckpointError(f"{source}: unexpected vision tensors {sorted(unexpected)[:5]}")
    for (layer, kind), parts in sorted(qkv.items()):
        missing = [p for p in _QKV if p not in parts]
        if missing:
            raise CheckpointError(
                f"{source}: missing tensor encoder.layers.{layer}.self_attn.{missing[0]}.{kind} "
                f"(q, k and v are fused into open_clip's in_proj)"
            )
        out[f"transformer.resblocks.{layer}.attn.in_proj_{kind}"] = torch.cat([parts[p] for p in _QKV], dim=0)
    return out


def open_clip_to_clip_hf(state: Mapping[str, torch.Tensor], source: str) -> dict[str, torch.Tensor]:
    """open_clip VisionTransformer tensors (no `proj`) → HF CLIPVisionModel tensors (unprefixed)."""
    plain = {oc: hf for hf, oc in _PLAIN.items()}
    layer_map = {oc: hf for hf, oc in _LAYER.items()}
    out: dict[str, torch.Tensor] = {}
    unexpected = []
    for name, tensor in state.items():
        if name in plain:
            out[plain[name]] = tensor
            continue
        match = _OC_LAYER.match(name)
        if not match:
            unexpected.append(name)
            continue
        layer, rest = match.groups()
        module, _, kind = rest.rpartition(".")
        if module == "attn" and kind in ("in_proj_weight", "in_proj_bias"):
            suffix = kind.removeprefix("in_proj_")
            if tensor.shape[0] % 3:
                raise CheckpointError(f"{source}: {name} of shape {tuple(tensor.shape)} does not split into q, k, v")
            for part, chunk in zip(_QKV, tensor.chunk(3, dim=0), strict=True):
                out[f"encoder.layers.{layer}.self_attn.{part}.{suffix}"] = chunk.contiguous()
        elif module in layer_map:
            out[f"encoder.layers.{layer}.{layer_map[module]}.{kind}"] = tensor
        else:
            unexpected.append(name)
    if unexpected:
        raise CheckpointError(f"{source}: vision tensors with no HF CLIP equivalent {sorted(unexpected)[:5]}")
    return out
