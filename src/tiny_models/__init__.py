"""Tiny random-weight stand-ins for the real checkpoints: the offline demo and the tests build them.

The model hub is unreachable here, so the demo and the tests build small models from configs and
save them to disk; every consumer then loads them through the same `from_pretrained` / open_clip
paths that load Qwen2-7B-Instruct, CLIP ViT-L/14-336, Pangea-7B-hf or Qwen2.5-72B on a cluster.
This package sits beside the two halves of the project and imports neither (only the special
tokens of `shard_contract`): production code reaches it only when a config names `tiny`.

- `tokenizer`: byte-level BPE trained on the spot on a multilingual seed text (all of Pangea's
  scripts), with the ChatML specials, `<image>` and Qwen2-Instruct's chat template;
- `qwen2`: a 2-layer Qwen2 causal LM sized to that tokenizer;
- `vision`: a 3-layer open_clip ViT (patch 14, 56 px, QuickGELU) registered as a local config;
- `llava_next`: the one HF `LlavaNextForConditionalGeneration` builder (what Pangea-7B-hf is), in two
  shapes: the project's parity model and data_gen's relevance-filter VLM;
- `stack`: the set the training configs name (`model=tiny`), `python -m tiny_models <out_dir>`;
- `stand_ins`: data_gen's refinement LLM and filter VLM for `model: tiny`, built once per folder.
"""
