"""CulturalGround data generation: Wikidata → Commons images → multilingual VQA shards."""
