"""CulturalGround data generation: Wikidata → Commons images → multilingual VQA shards.

Layers, top to bottom (`make lint` checks them with import-linter):

- `pipeline`: the command line, the stage registry, `stage=all`;
- the stages, a package each: `entities`, `images`, `qa`, `refine`, `filter`, `shards`;
- `wikidata` (SPARQL client, embedded sample, registries) and `backends` (the refine/filter models);
- `common`: errors, settings, folder layout, record files, retries, progress;
- below it all, `shard_contract` (a package of its own, shared with training).

data_gen never imports `culturalpangea`; the two meet only in `shard_contract`.
"""
