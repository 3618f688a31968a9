"""The declared type of every field of a shard sample's JSON: the one schema the dataset card is written from.

`shard_contract.sample` says which fields a sample must have and what makes it valid; this module
says what type each field has when it is present, for readers that need a fixed schema up front.
The reader this exists for is Hugging Face `datasets`: its WebDataset loader infers the columns of
*every* row from the first five samples of the first tar, so an `open` tar read before an `mcq` one
silently drops `choices` from all MCQ rows, and a field null in those five rows (`filter_score`
before the filter stage scored anything) becomes a null-typed column that fails on the first
number. Declared features replace that guess (data_gen/shards/card.py writes them into the
`README.md` beside the shards, the file `load_dataset(<folder>)` reads).

The schema is written once, as plain Python: a type name (`string`, `bool`, `float64`, the
`datasets` dtypes), `{field: type}` for an object, `[type]` for a list. Every field may be null or
absent, because the two sample forms and the record stages fill different ones:

- `choices` is null in open-ended samples; `answer` and `choices` are null in grouped samples
  (their pairs are in `qa`), and `qa` is null in ungrouped ones (shard_contract.sample);
- `provenance` holds what each record stage added (`refined`/`refine_reason` from refine,
  `filter_score`/`filter_source` from filter, `source`/`original_id` from `stage=import_llava`);
  `filter_score` is a float64 column that is null until a filter backend scored the pair.

A field the schema does not declare would be dropped by a declared-features load without a word,
so `schema_problem` names it (and a value of the wrong type), and the shards stage refuses such a
sample: a new field is added here first, and the card follows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

STRING, BOOL, FLOAT = "string", "bool", "float64"
FieldType = str | dict[str, "FieldType"] | list["FieldType"]

IMAGE_PROVENANCE: dict[str, FieldType] = {
    "file": STRING, "url": STRING, "author": STRING, "license": STRING, "placeholder": BOOL,
}  # fmt: skip
PROVENANCE: dict[str, FieldType] = {
    "template": STRING,  # the question template's ID, e.g. fr/P149/open/0
    "entity_label": STRING,
    "refined": BOOL,
    "refine_reason": STRING,
    "filter_score": FLOAT,
    "filter_source": STRING,
    "source": STRING,  # imports: `import:<name>`
    "original_id": STRING,  # imports: the record's ID in the imported file
    "image": IMAGE_PROVENANCE,  # null in a grouped sample's pairs (the sample's own image is at the top)
}
TURN: dict[str, FieldType] = {"from": STRING, "value": STRING}
QA_PAIR: dict[str, FieldType] = {
    "id": STRING, "property": STRING, "answer": STRING, "choices": [STRING], "provenance": PROVENANCE,
}  # fmt: skip
SAMPLE: dict[str, FieldType] = {
    "id": STRING,
    "qid": STRING,
    "country": STRING,
    "language": STRING,
    "property": STRING,
    "question_type": STRING,
    "answer": STRING,
    "choices": [STRING],
    "conversations": [TURN],
    "qa": [QA_PAIR],
    "provenance": PROVENANCE,
}

# The columns HF `datasets` makes of a tar sample: one per member extension, plus its key and tar.
IMAGE_COLUMN, JSON_COLUMN = "jpg", "json"
EXTRA_COLUMNS = ("__key__", "__url__")


def _object_problem(value: Any, declared: dict[str, FieldType], where: str) -> str | None:
    if not isinstance(value, Mapping):
        return f"field '{where}' is a {type(value).__name__}, shard_contract.schema declares an object"
    for name, item in value.items():
        path = f"{where}.{name}" if where else str(name)
        if name not in declared:
            return f"field '{path}' is not declared in shard_contract.schema (HF datasets would drop it)"
        problem = _type_problem(item, declared[name], path)
        if problem:
            return problem
    return None


def _list_problem(value: Any, declared: FieldType, where: str) -> str | None:
    if not isinstance(value, list):
        return f"field '{where}' is a {type(value).__name__}, shard_contract.schema declares a list"
    for index, item in enumerate(value):
        problem = _type_problem(item, declared, f"{where}[{index}]")
        if problem:
            return problem
    return None


def _type_problem(value: Any, declared: FieldType, where: str) -> str | None:
    if value is None:
        return None
    if isinstance(declared, dict):
        return _object_problem(value, declared, where)
    if isinstance(declared, list):
        return _list_problem(value, declared[0], where)
    fits = {
        STRING: isinstance(value, str),
        BOOL: isinstance(value, bool),
        FLOAT: isinstance(value, (int, float)) and not isinstance(value, bool),
    }[declared]
    return None if fits else f"field '{where}' is a {type(value).__name__}, shard_contract.schema declares {declared}"


def schema_problem(sample: Mapping[str, Any]) -> str | None:
    """The first field of `sample` the schema does not declare, or declares with another type; None if it fits."""
    return _type_problem(sample, SAMPLE, "")


def hf_feature(name: str, declared: FieldType) -> dict[str, Any]:
    """One field as a `datasets` feature in dataset-card YAML form (`dtype`, `struct` or `list`)."""
    if isinstance(declared, str):
        return {"name": name, "dtype": declared}
    if isinstance(declared, dict):
        return {"name": name, "struct": [hf_feature(key, value) for key, value in declared.items()]}
    (item,) = declared
    if isinstance(item, str):
        return {"name": name, "list": item}
    if isinstance(item, dict):
        return {"name": name, "list": [hf_feature(key, value) for key, value in item.items()]}
    raise TypeError(f"field {name!r}: lists of lists are not declared in the card's YAML form")


def hf_features() -> list[dict[str, Any]]:
    """The columns of a shard folder as HF `datasets` features (dataset-card YAML): image, JSON, key, tar."""
    return [
        {"name": IMAGE_COLUMN, "dtype": "image"},
        hf_feature(JSON_COLUMN, SAMPLE),
        *({"name": column, "dtype": STRING} for column in EXTRA_COLUMNS),
    ]
