"""Stage 5, `filter`: a VLM scores whether each image is relevant to its question; low scores are dropped.

`relevance` scores one part of records; `stage` is the driver.
"""
