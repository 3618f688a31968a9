"""Model components: vision tower, connector, LLM, their composition, and HF checkpoint conversion.

See README.md in this folder: where each component comes from, the interfaces for training
(`builder.build_vlm`), evaluation (`loading.load_pretrained_vlm`, `generation.generate_batch`) and the
conversion CLI (`python -m culturalpangea.convert`).
"""
