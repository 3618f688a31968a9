"""The connector: vision features → LLM embedding space, and anyres' learned row separator.

- `mlp2x_gelu` (LLaVA-1.5/NeXT, Pangea-7B): Linear(vision → llm) → GELU (exact, erf) → Linear(llm → llm),
  both with bias; the layout of HF's `LlavaNextMultiModalProjector` (`linear_1`, `linear_2`).
- `linear` (LLaVA-1.0): one Linear(vision → llm). HF's LlavaNext has no such projector, so a model
  with it can be trained and saved in the project format but not exported to HF.

`image_newline` (LLM width) ends every row of an anyres image's unpadded feature grid. It lives
here, not in the LLM, because it belongs to the vision-to-language interface: it is trained with
the connector (also in the align stage, where it is new) and is frozen only when the connector is.
Initialisation follows LLaVA-NeXT: N(0, 1/width) for the newline, PyTorch's default for the Linears.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from culturalpangea.errors import ModelConfigError

CONNECTOR_TYPES = ("mlp2x_gelu", "linear")


class Connector(nn.Module):
    def __init__(self, kind: str, vision_width: int, llm_width: int, image_newline: bool) -> None:
        super().__init__()
        if kind not in CONNECTOR_TYPES:
            raise ModelConfigError(f"connector type {kind!r} is not one of {CONNECTOR_TYPES}")
        self.kind = kind
        self.vision_width, self.llm_width = vision_width, llm_width
        self.linear_1 = nn.Linear(vision_width, llm_width)
        self.act = nn.GELU() if kind == "mlp2x_gelu" else nn.Identity()
        self.linear_2 = nn.Linear(llm_width, llm_width) if kind == "mlp2x_gelu" else None
        self.image_newline = (
            nn.Parameter(torch.randn(llm_width) / math.sqrt(llm_width)) if image_newline else None
        )

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        if features.shape[-1] != self.vision_width:
            raise ValueError(
                f"vision features of width {features.shape[-1]}; the connector expects {self.vision_width}"
            )
        hidden = self.act(self.linear_1(features.to(self.linear_1.weight.dtype)))
        return self.linear_2(hidden) if self.linear_2 is not None else hidden
