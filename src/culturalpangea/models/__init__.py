"""Model components: vision tower, connector, LLM, their composition, and HF checkpoint conversion."""
