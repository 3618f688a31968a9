"""CulturalPangea: continue a multilingual LLaVA-NeXT-style VLM (Pangea-7B) on CulturalGround data."""

__version__ = "0.1.0"
