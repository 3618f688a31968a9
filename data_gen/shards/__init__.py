"""Stage 6, `shards`, and the tools on shard folders: WebDataset tars with a manifest, as the contract says.

`writer` writes deterministic, resumable tars; `stage` turns the final records into `shards/open`,
`shards/mcq` and the held-out split; `validate`, `stats` and `importers` are the `stage=validate`,
`stage=stats` and `stage=import_llava` tools.
"""
