"""Stage 2, `images`: each entity's Commons images fetched, checked, deduplicated and stored.

`commons_client` is the polite Wikimedia Commons client (metadata API, standard-width thumbnails);
`checks` decodes, normalises and deduplicates pictures and keeps per-file records; `placeholders`
stands in for Commons with the embedded sample; `stage` is the driver.
"""
