"""Training data: shards → samples → token ids with an assistant-only loss mask → padded batches."""
