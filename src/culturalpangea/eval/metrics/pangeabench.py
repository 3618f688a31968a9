"""PangeaBench's answer rules, so that the project's numbers can be set beside the paper's.

The paper's scores come from PangeaBench (neulab/Pangea, `evaluation/lmms-eval/lmms_eval/tasks/`),
whose rules differ from this project's own, which never guess (metrics/mcq.py, metrics/yesno.py,
metrics/exact.py). Every item is scored both ways; the report shows the project's metric and, for
the benchmarks below, the PangeaBench one (`pangeabench`). What each rule does, as PangeaBench does
it (behaviour reproduced and tested verdict by verdict; no code carried over):

- CVQA and M3Exam (`parse_multi_choice_response` in `cvqa/utils.py` and `m3exam/utils.py`): the
  first letter A–D (any case) directly followed by `)`, `.`, `:` or white space, after an optional
  `(`; else the first a/b/c/d anywhere in the answer (so "Answer: B" counts as A); else the option
  whose text is most similar to the answer (difflib ratio above 0.7); else a random letter among
  A–D. PangeaBench's draw is unseeded; here it is seeded by the item ID, so a run is repeatable
  and the expected score of the fallback is the same (one in four).
- MaRVL (`marvl_process_result`): the lower-cased answer counts as "true" when it contains "yes",
  else as "false" when it contains "no" (so "None of the above" is "false"); correct when the target
  word is a substring of the result.
- MaXM exact match (`exact_match_with_multiple_references`): the answer, exactly as stored (the
  project's generation strips surrounding white space; PangeaBench's llava wrapper does not, which
  matters only for a model that starts its answer with a space), is one of the references (so
  "rouge." is not "rouge").
- xGQA (`xgqa_process_result`): the lower-cased reference is a substring of the lower-cased answer.
- XM100 (`xm100_aggregation_result`): CIDEr-D against the item's one reference on the COCO
  tokenizer's tokens (metrics/ptb.py), on the COCO scale (scoring.pangeabench_cider).
- MMMU and xMMMU: MMMU's official rules, in metrics/mmmu.py.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from difflib import SequenceMatcher

LETTERS = "ABCD"
_LETTER_WITH_DELIMITER = re.compile(r"\(?([A-D])[).:\s]", re.IGNORECASE)
_ANY_LETTER = re.compile(r"[ABCD]", re.IGNORECASE)
_OPTION_PREFIX = re.compile(r"^[A-D]\.\s*")
SIMILARITY_THRESHOLD = 0.7


def choice_index(response: str, options: Sequence[str], item_id: str) -> int:
    """The option index PangeaBench reads from `response` (0–3; a seeded draw when nothing matches)."""
    text = response.strip()
    for pattern in (_LETTER_WITH_DELIMITER, _ANY_LETTER):
        found = pattern.search(text)
        if found:
            return LETTERS.index(found.group(found.lastindex or 0).upper())
    best, best_ratio = None, 0.0
    for index, option in enumerate(options):
        ratio = SequenceMatcher(None, text, _OPTION_PREFIX.sub("", option).strip()).ratio()
        if ratio > best_ratio:
            best, best_ratio = index, ratio
    if best is not None and best_ratio > SIMILARITY_THRESHOLD:
        return best
    return random.Random(f"pangeabench:{item_id}").randrange(len(LETTERS))


def marvl_correct(response: str, label: bool) -> bool:
    """PangeaBench's MaRVL verdict for a true/false `label`."""
    text = response.strip().lower()
    if "yes" in text:
        text = "true"
    elif "no" in text:
        text = "false"
    return ("true" if label else "false") in text


def maxm_exact(response: str, answers: Sequence[str]) -> bool:
    """PangeaBench's MaXM exact match: the stripped answer is one of the references, character for character."""
    return response.strip() in list(answers)


def xgqa_correct(response: str, answer: str) -> bool:
    """PangeaBench's xGQA verdict (`xgqa_process_result`): the lower-cased reference is in the lower-cased answer."""
    return answer.strip().lower() in response.strip().lower()
