"""The refinement token budget: the most new tokens the reply format can need, and a check that refuses less.

The refiner replies `{"question": …, "answer": …}` (`data_gen.backends.prompts`). The guards accept a
question up to `max_length_ratio` × the template's length + `length_slack_chars`, and the answer is
echoed unchanged, so for each record the longest acceptable reply is known before any request:

    JSON overhead + (ratio × template chars + slack) × the template's UTF-8 bytes per char + answer bytes

counted in UTF-8 bytes, which bound the tokens of a byte-level BPE tokenizer (Qwen2.5's, GPT-style:
a text never takes more tokens than its bytes), plus a few tokens for the end of the turn. The bound
is loose for Latin script (≈ 4 bytes per token) and tight for scripts the vocabulary merges poorly
(Amharic, Sinhala), which is where a budget is silently too small.

A budget below the bound would cut the longest acceptable replies (`truncated`): with the demo's 16
tokens every real reply was cut and the dataset silently stayed template-only (issue 17). So a real
model (not `tiny`, not `backend=none`) gets, before any part is sent:
- `max_new_tokens: null` → the bound over every input part, rounded up to 64, at least 256;
- an explicit value below the bound → refused with the bound and the record that needs it.
The tiny random model keeps its 16 tokens (it runs to any limit; the demo stays short).

The bound is taken over *all* input parts, never a SLURM task's slice, so every array task resolves
`null` to the same value (the stage fingerprint includes it). It is computed once per input and
kept in `refine/budget.json` (keyed by the input manifest's sha256 and the guard limits, written
atomically), so a thousand array tasks read the qa records once, not a thousand times.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from data_gen.common.errors import SettingsError
from data_gen.common.parts import list_parts, read_part
from data_gen.refine.guards import GuardSettings
from shard_contract.atomic import atomic_write_json
from shard_contract.manifest import MANIFEST_NAME

JSON_OVERHEAD = len(json.dumps({"question": "", "answer": ""}, ensure_ascii=False).encode("utf-8"))
END_OF_TURN_TOKENS = 4  # the end-of-turn / end-of-text token(s) and a trailing newline, generously
ROUND_TO = 64
FLOOR = 256


@dataclass(frozen=True)
class Budget:
    """The largest reply bound over the records read, and the record that needs it."""

    tokens: int
    record_id: str | None
    records: int


def reply_bound(record: dict[str, Any], guards: GuardSettings) -> int:
    """Upper bound on the tokens of the longest reply the guards would accept for `record`."""
    question, answer = str(record.get("question", "")), str(record.get("answer", ""))
    chars = max(len(question), 1)
    bytes_per_char = max(_json_bytes(question), 1) / chars
    longest_question = math.ceil((guards.max_length_ratio * chars + guards.length_slack_chars) * bytes_per_char)
    return JSON_OVERHEAD + longest_question + _json_bytes(answer) + END_OF_TURN_TOKENS


def _json_bytes(text: str) -> int:
    """UTF-8 bytes of `text` as a JSON string body (escapes included, quotes not)."""
    return len(json.dumps(text, ensure_ascii=False).encode("utf-8")) - 2


def needed_budget(in_dir: Path, guards: GuardSettings, cache: Path | None = None) -> Budget:
    """The bound over every record of every input part (cached in `cache` for this input and guards)."""
    key = {
        "input_manifest_sha256": hashlib.sha256((in_dir / MANIFEST_NAME).read_bytes()).hexdigest(),
        "max_length_ratio": guards.max_length_ratio,
        "length_slack_chars": guards.length_slack_chars,
    }
    if cache is not None and cache.exists():
        stored = json.loads(cache.read_text(encoding="utf-8"))
        if stored.get("key") == key:
            return Budget(stored["tokens"], stored["record_id"], stored["records"])
    best, best_id, count = 0, None, 0
    for ref in list_parts(in_dir):
        for record in read_part(ref.path(in_dir)):
            count += 1
            bound = reply_bound(record, guards)
            if bound > best:
                best, best_id = bound, str(record.get("id"))
    budget = Budget(best, best_id, count)
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(cache, {"key": key, **asdict(budget)})
    return budget


def resolve_budget(configured: int | None, needed: Budget) -> int:
    """`null` → the bound (rounded up, at least 256); an explicit value below the bound is refused."""
    if configured is None:
        return max(FLOOR, math.ceil(needed.tokens / ROUND_TO) * ROUND_TO)
    if configured < needed.tokens:
        raise SettingsError(
            f"refine.max_new_tokens={configured} is too small for the reply the refiner is asked for: record "
            f"{needed.record_id} can need up to {needed.tokens} tokens (its longest acceptable question, the "
            f"answer and the JSON; data_gen/refine/budget.py). Set refine.max_new_tokens>={needed.tokens}, "
            "or null to size it from the data."
        )
    return configured
