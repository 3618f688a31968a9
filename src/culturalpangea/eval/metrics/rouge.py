"""ROUGE-L as the COCO caption evaluation computes it (Lin & Hovy; beta 1.2; best reference).

Per candidate: the longest common subsequence with each reference gives a precision and a recall;
the maxima over references are combined into F = (1+β²)PR / (R + β²P) with β = 1.2, and the
corpus score is the mean over candidates. An empty candidate scores 0, as in the reference.
"""

from __future__ import annotations

from collections.abc import Sequence

from culturalpangea.eval.metrics.tokenize import tokenize

BETA = 1.2


def lcs_length(first: Sequence[str], second: Sequence[str]) -> int:
    """Length of the longest common subsequence of two token lists (O(n·m), one row of memory)."""
    if len(first) < len(second):
        first, second = second, first
    previous = [0] * (len(second) + 1)
    for token in first:
        current = [0]
        for j, other in enumerate(second, start=1):
            current.append(previous[j - 1] + 1 if token == other else max(previous[j], current[j - 1]))
        previous = current
    return previous[-1]


def rouge_l_tokens(candidate: Sequence[str], references: Sequence[Sequence[str]], beta: float = BETA) -> float:
    """ROUGE-L F of one tokenized candidate against tokenized references."""
    if not references:
        raise ValueError("ROUGE-L needs at least one reference")
    if not candidate:
        return 0.0
    precisions, recalls = [], []
    for reference in references:
        common = lcs_length(reference, candidate)
        precisions.append(common / len(candidate))
        recalls.append(common / len(reference) if reference else 0.0)
    precision, recall = max(precisions), max(recalls)
    if precision == 0 or recall == 0:
        return 0.0
    return (1 + beta**2) * precision * recall / (recall + beta**2 * precision)


def rouge_l(candidate: str, references: Sequence[str]) -> float:
    """ROUGE-L F (0–1) of one caption against its references, on the shared tokens."""
    return rouge_l_tokens(tokenize(candidate), [tokenize(r) for r in references])


def corpus_rouge_l(candidates: Sequence[str], references: Sequence[Sequence[str]]) -> float:
    """Mean ROUGE-L F (0–1) over candidates."""
    if len(candidates) != len(references):
        raise ValueError(f"{len(candidates)} candidates but {len(references)} reference lists")
    if not candidates:
        return 0.0
    return sum(rouge_l(c, r) for c, r in zip(candidates, references, strict=True)) / len(candidates)
