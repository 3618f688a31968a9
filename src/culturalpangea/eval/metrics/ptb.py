"""The caption tokenization of the COCO caption evaluation, in Python: what PangeaBench's XM100 scores see.

pycocoevalcap's `PTBTokenizer` runs Stanford CoreNLP's PTBTokenizer (Java) with `-lowerCase` and then
drops punctuation tokens (`''`, `'`, ``` `` ```, `` ` ``, `-LRB-`, `-RRB-`, `-LCB-`, `-RCB-`, `.`, `?`,
`!`, `,`, `:`, `-`, `--`, `...`, `;` — compared after lower-casing, so `-lrb-` / `-rrb-` stay).
Java is not a dependency here, so the rules that matter for captions are reproduced (and tested
against outputs of the Java tokenizer): lower case; punctuation split off words; `n't`, `'s`, `'m`,
`'re`, `'ve`, `'ll`, `'d` split off English words; brackets written `-lrb-` … ; `$` and `%` split
off numbers; numbers with `.`/`,` kept whole; words with inner hyphens, apostrophes (`l'homme`) or
periods (`u.s.a.`, `mr.`) kept whole; no segmentation of unspaced scripts — so Chinese, Japanese or
Thai captions are one token per space-separated run, and their CIDEr under PangeaBench is near 0,
as in the paper's protocol.
"""

from __future__ import annotations

import re

DROPPED = {"''", "'", "``", "`", ".", "?", "!", ",", ":", "-", "--", "...", ";"}
BRACKETS = {"(": "-lrb-", ")": "-rrb-", "[": "-lsb-", "]": "-rsb-", "{": "-lcb-", "}": "-rcb-"}
LEADING = set("([{\"'`$#")
TRAILING = set(")]}\"'`,;:!?.%。।")
CONTRACTION = re.compile(r"^(.+?)(n't|'s|'m|'re|'ve|'ll|'d)$")
ABBREVIATION = re.compile(r"^(?:[a-z]\.)+(?:[a-z]\.?)?$|^(?:mr|mrs|ms|dr|st|mt|jr|sr|vs|etc|inc|co|no|e\.g|i\.e)\.$")
DECIMAL_THEN_LETTERS = re.compile(r"^(\d+[.,]\d+)([^\W\d_]+)$")
INNER_SPLIT = re.compile(r"\.\.\.|(?<!\d)[:;](?!\d)|(?<=\d)[;](?=\d)")


def _trailing(chunk: str) -> tuple[str, list[str]]:
    """`chunk` without its trailing punctuation, and that punctuation as tokens (runs like '...' kept)."""
    back: list[str] = []
    while chunk and chunk[-1] in TRAILING:
        if chunk[-1] == "." and ABBREVIATION.match(chunk):
            break
        end = len(chunk) - 1
        while end > 0 and chunk[end - 1] == chunk[-1] and chunk[-1] in ".!?":
            end -= 1
        back.insert(0, chunk[end:])
        chunk = chunk[:end]
    return chunk, back


def _split_chunk(chunk: str) -> list[str]:
    front: list[str] = []
    while chunk and chunk[0] in LEADING:
        front.append(chunk[0])
        chunk = chunk[1:]
    chunk, back = _trailing(chunk)
    middle: list[str] = []
    for part in INNER_SPLIT.split(chunk) if chunk else []:
        if not part:
            continue
        numbered = DECIMAL_THEN_LETTERS.match(part)
        if numbered:
            middle += [numbered.group(1), numbered.group(2)]
            continue
        contraction = CONTRACTION.match(part)
        if contraction and contraction.group(1).isascii():
            middle += [contraction.group(1), contraction.group(2)]
        else:
            middle.append(part)
    return [*front, *middle, *back]


def ptb_tokens(text: str) -> list[str]:
    """Lower-cased tokens of `text` with the punctuation tokens dropped, as pycocoevalcap's PTBTokenizer gives."""
    tokens: list[str] = []
    for chunk in text.lower().replace("’", "'").split():
        for raw in _split_chunk(chunk):
            token = BRACKETS.get(raw, raw)
            if token not in DROPPED and token != '"':
                tokens.append(token)
    return tokens
