"""CIDEr-D exactly as the COCO caption evaluation (pycocoevalcap's `Cider`) computes it, in Python.

Definition followed (Vedantam et al. 2015, with the COCO server's CIDEr-D changes):
- n-grams of length 1–4; term frequencies per caption;
- document frequency of an n-gram = number of *images* whose references contain it; idf uses
  log(number of images) − log(max(1, df)), so df comes from the references of the evaluated set;
- per n: cosine similarity of tf-idf vectors, where the candidate's weight is clipped by the
  reference's (min(h, r)·r), times a Gaussian length penalty exp(−δ²/(2σ²)) with σ = 6;
- mean over n, mean over references, ×10; the corpus score is the mean over images.

One detail is kept deliberately for comparability: the reference implementation measures caption
"length" for the penalty as the number of *bigrams* (its `length` counter is incremented for n-gram
index 1), not the number of words. Scores match pycocoevalcap on the same tokens (see tests).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

from culturalpangea.eval.metrics.tokenize import tokenize

MAX_N = 4
SIGMA = 6.0

Ngram = tuple[str, ...]


def ngram_counts(tokens: Sequence[str], max_n: int = MAX_N) -> Counter[Ngram]:
    """Counts of all n-grams of length 1..max_n."""
    counts: Counter[Ngram] = Counter()
    for n in range(1, max_n + 1):
        for start in range(len(tokens) - n + 1):
            counts[tuple(tokens[start:start + n])] += 1
    return counts


class _Vector:
    """tf-idf weights per n-gram length, their norms, and the reference's 'length'."""

    def __init__(self, counts: Counter[Ngram], idf_base: float, df: Counter[Ngram], max_n: int) -> None:
        self.weights: list[dict[Ngram, float]] = [{} for _ in range(max_n)]
        squares = [0.0] * max_n
        self.length = 0
        for ngram, tf in counts.items():
            n = len(ngram) - 1
            weight = tf * (idf_base - math.log(max(1.0, df[ngram])))
            self.weights[n][ngram] = weight
            squares[n] += weight * weight
            if n == 1:
                self.length += tf  # bigram count, as in the reference implementation
        self.norms = [math.sqrt(s) for s in squares]


def _similarity(hyp: _Vector, ref: _Vector, sigma: float) -> list[float]:
    delta = float(hyp.length - ref.length)
    penalty = math.exp(-(delta**2) / (2 * sigma**2))
    values = []
    for n, weights in enumerate(hyp.weights):
        ref_weights = ref.weights[n]
        value = sum(min(w, ref_weights.get(g, 0.0)) * ref_weights.get(g, 0.0) for g, w in weights.items())
        if hyp.norms[n] != 0 and ref.norms[n] != 0:
            value /= hyp.norms[n] * ref.norms[n]
        values.append(value * penalty)
    return values


def cider_d_tokens(
    candidates: Sequence[Sequence[str]], references: Sequence[Sequence[Sequence[str]]],
    max_n: int = MAX_N, sigma: float = SIGMA,
) -> tuple[float, list[float]]:
    """(corpus CIDEr-D, per-image scores) from tokenized candidates and references."""
    if len(candidates) != len(references):
        raise ValueError(f"{len(candidates)} candidates but {len(references)} reference lists")
    if not candidates:
        return 0.0, []
    if any(len(refs) == 0 for refs in references):
        raise ValueError("CIDEr-D needs at least one reference per image")
    ref_counts = [[ngram_counts(r, max_n) for r in refs] for refs in references]
    df: Counter[Ngram] = Counter()
    for refs in ref_counts:
        df.update({ngram for counts in refs for ngram in counts})
    idf_base = math.log(float(len(candidates)))
    scores = []
    for candidate, refs in zip(candidates, ref_counts, strict=True):
        hyp = _Vector(ngram_counts(candidate, max_n), idf_base, df, max_n)
        total = [0.0] * max_n
        for counts in refs:
            for n, value in enumerate(_similarity(hyp, _Vector(counts, idf_base, df, max_n), sigma)):
                total[n] += value
        scores.append(sum(total) / max_n / len(refs) * 10.0)
    return sum(scores) / len(scores), scores


def corpus_cider(candidates: Sequence[str], references: Sequence[Sequence[str]]) -> float:
    """CIDEr-D (COCO scale, ×10) of captions against their references, on the shared tokens."""
    score, _ = cider_d_tokens([tokenize(c) for c in candidates], [[tokenize(r) for r in refs] for refs in references])
    return score
