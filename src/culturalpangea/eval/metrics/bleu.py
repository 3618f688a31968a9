"""Corpus BLEU-4 through sacrebleu, on the shared CJK-aware tokens.

sacrebleu's own tokenizers either need extra models (`ja-mecab`, `ko-mecab`, `flores200`) or cover
one script (`zh`); so captions are tokenized once with `metrics.tokenize` and handed to sacrebleu
with `tokenize="none"`, which makes BLEU, ROUGE-L and CIDEr see the same tokens. A segment may have
any number of references: sacrebleu takes reference *streams*, so shorter reference lists are padded
with None, which sacrebleu skips.
"""

from __future__ import annotations

from collections.abc import Sequence

import sacrebleu

from culturalpangea.eval.metrics.tokenize import tokenized


def reference_streams(references: Sequence[Sequence[str]]) -> list[list[str | None]]:
    """Per-segment reference lists → sacrebleu's reference streams (padded with None)."""
    if not references:
        return []
    width = max(len(refs) for refs in references)
    if width == 0:
        raise ValueError("every segment needs at least one reference")
    return [[refs[i] if i < len(refs) else None for refs in references] for i in range(width)]


def corpus_bleu(hypotheses: Sequence[str], references: Sequence[Sequence[str]]) -> float:
    """BLEU-4 (0–100) of `hypotheses` against per-segment `references`, on shared tokens."""
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} reference lists")
    if not hypotheses:
        return 0.0
    hyps = [tokenized(h) for h in hypotheses]
    refs = [[tokenized(r) for r in segment] for segment in references]
    return float(sacrebleu.corpus_bleu(hyps, reference_streams(refs), tokenize="none", force=True).score)
