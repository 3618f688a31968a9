"""Wikidata as data_gen sees it: the SPARQL client, the embedded sample, identifiers and the registries.

`client` is the polite SPARQL client (one query in flight, Retry-After, cache) over a remote endpoint
or the embedded sample (`sample_store`, `sample/`); `identifiers` guards every value spliced into
query text; `regions` and `properties` load the 42 countries / 39 languages and the property
catalogue from `registries/`; `config` turns the Hydra config into a client and a country selection.
"""
