"""CulturalPangea: continue a multilingual LLaVA-NeXT-style VLM (Pangea-7B) on CulturalGround data.

- `models/`: the VLM (open_clip vision tower, connector, Qwen2 LLM, anyres), HF LlavaNext conversion;
- `data/`: shard sources (through `shard_contract`), the WebDataset pipeline, tokenisation, collation;
- `train.py`, `lit_module.py`, `training/`, `callbacks/`, `settings.py`: Lightning training from typed
  settings; `eval/`: the benchmarks; `convert.py`: the checkpoint CLI; `errors.py`: named user errors.

This package reads data_gen's output only through the shard contract (`shard_contract`) and never
imports `data_gen`; `make lint` checks it.
"""

__version__ = "0.1.0"
