"""In-domain check: a held-out CulturalGround split read from our own WebDataset shards.

The folder is a shard folder as data_gen writes it (`*.tar` + `manifest.json`, contract in
DESIGN.md §3), usually a split the training mixture never reads. Shards are read with the same
defensive tar reader training uses (`data.tar_reader`), so a truncated tar or a missing member is
counted: those samples have no usable ID and are reported as one error per reason. Each sample's
human turn is the prompt, exactly as the model saw such turns in training (`<image>\\n` + stem, and
lettered options + instruction for multiple choice). Scoring: multiple choice → option accuracy
(the gpt turn is the letter; a response with the option text counts too), open → exact match and
relaxed accuracy against `answer`. Country comes from the sample, so the report has per-country rows.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from culturalpangea.eval.adapters.base import ItemOrError
from culturalpangea.eval.items import EvalItem, ItemError, ItemProblem
from culturalpangea.eval.languages import normalize_code


def _conversation(sample: Mapping[str, Any]) -> tuple[str, str]:
    turns = sample.get("conversations")
    if not isinstance(turns, list) or len(turns) < 2:
        raise ItemProblem("field 'conversations' lacks a human/gpt pair")
    human, gpt = turns[0], turns[1]
    if not isinstance(human, dict) or human.get("from") != "human" or not isinstance(human.get("value"), str):
        raise ItemProblem("conversations[0] is not a human turn")
    if not isinstance(gpt, dict) or not isinstance(gpt.get("value"), str):
        raise ItemProblem("conversations[1] is not a gpt turn")
    return human["value"], gpt["value"]


def sample_to_item(benchmark: str, key: str, sample: Mapping[str, Any], image: bytes | None,
                   settings: Mapping[str, Any]) -> EvalItem:
    """One shard sample → an `EvalItem` (`ItemProblem` when it breaks the contract)."""
    for name in ("language", "question_type", "answer"):
        if not isinstance(sample.get(name), str):
            raise ItemProblem(f"missing field {name!r}")
    prompt, _ = _conversation(sample)
    if sample["question_type"] == "mcq":
        choices = sample.get("choices")
        if not isinstance(choices, list) or len(choices) < 2:
            raise ItemProblem("field 'choices' must list at least two options for an mcq sample")
        if sample["answer"] not in choices:
            raise ItemProblem(f"answer {sample['answer']!r} is not one of the choices")
        task, target = "mcq", {"answer": choices.index(sample["answer"]), "options": choices}
    else:
        task, target = "vqa", {"answers": [sample["answer"]]}
    return EvalItem(
        benchmark=benchmark, item_id=key, language=normalize_code(sample["language"]), prompt=prompt,
        images=(image,) if image is not None else (), task=task, target=target,
        country=sample.get("country"), subset=sample.get("property"),
        max_new_tokens=settings.get("max_new_tokens"),
    )


class CulturalGroundAdapter:
    name = "culturalground"
    description = "CulturalGround held-out split from our shards (in-domain; per language and country)"

    def items(self, root: Path, settings: Mapping[str, Any]) -> Iterator[ItemOrError]:
        from culturalpangea.data.skips import take_skip_counts
        from culturalpangea.data.tar_reader import tar_samples
        from shard_contract.manifest import read_manifest

        manifest = read_manifest(root)
        take_skip_counts()  # start counting from zero for this folder
        shards = [(str(Path(root) / entry["name"]), entry.get("samples")) for entry in manifest["shards"]]
        limit = settings.get("limit")
        for count, raw in enumerate(tar_samples(shards)):
            if limit is not None and count >= int(limit):
                break
            key = raw.get("__key__", f"sample#{count}")
            try:
                if "json" not in raw:
                    raise ItemProblem("no .json member")
                sample = json.loads(raw["json"].decode("utf-8"))
                yield sample_to_item(self.name, key, sample, raw.get("jpg"), settings)
            except (ItemProblem, ValueError, UnicodeDecodeError) as error:
                yield ItemError(self.name, key, str(error))
        for reason, skipped in sorted(take_skip_counts().items()):
            yield ItemError(self.name, f"shards:{reason}", f"{skipped} sample(s) unreadable ({reason})")
