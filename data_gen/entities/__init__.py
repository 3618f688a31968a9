"""Stage 1, `entities`: culturally significant Wikidata items per country, with names, facts and images.

`selection` holds the queries, ranking and output records; `stage` is the driver
(`python -m data_gen stage=entities`).
"""
