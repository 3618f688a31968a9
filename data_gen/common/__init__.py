"""What every data_gen stage shares: errors, typed settings, the folder layout, record files, retries, progress.

The bottom layer of data_gen (above only `shard_contract`): nothing here knows Wikidata, a model or a
particular stage. `layout` names every folder under `out_dir`; `jsonl` is the one reader of record
files; `parts` the chunked, resumable record files of the record stages; `retry` the one retry
policy (backoff, jitter, Retry-After, bounded attempts) of SPARQL, Commons and the model servers;
`text` the comparison folding; `writing_systems` which script a text is in.
"""
