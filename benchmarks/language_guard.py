"""What the `wrong_language` refinement guard flags: false positives on good text, catches on drift (issue 17).

Runs the guard through `data_gen.refine.guards.check_refinement` with every other guard switched off:

1. every template stem of the 39 languages as its own rewrite (and, with `--qa DIR`, every question of a
   finished `qa/` stage, e.g. the embedded sample's) — must flag none;
2. every stem as the rewrite of the stems 1…K places after it in its language's file (`--offsets K`):
   a different, correct question in the same language, a pessimistic stand-in for a paraphrase;
3. the hand-written questions of `tests/helpers/language_drift.py` as rewrites of every stem of a language:
   the same language (false positives) and the drift pairs (share caught).

    python benchmarks/language_guard.py [--qa OUT_DIR/qa] [--offsets K]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from data_gen.backends.base import Generation
from data_gen.backends.prompts import RefineItem
from data_gen.common.writing_systems import LANGUAGES
from data_gen.qa.question_templates import load_language
from data_gen.refine.guards import GUARDS, PRE_GUARDS, check_refinement
from tests.helpers.language_drift import DRIFT_PAIRS, DRIFT_QUESTIONS

OTHERS = frozenset(GUARDS) - {"wrong_language"} | frozenset(PRE_GUARDS)


def stems(language: str) -> list[str]:
    templates = load_language(language)
    kinds = [templates.recognition, *templates.properties.values()]
    return list(dict.fromkeys(stem for kind in kinds for stem in (*kind.open, *kind.mcq)))


def flagged(language: str, template: str, rewrite: str) -> bool:
    reply = Generation(json.dumps({"question": rewrite, "answer": "-"}, ensure_ascii=False), "stop")
    verdict = check_refinement(RefineItem(template, "-", language), reply, disabled=OTHERS)
    return verdict.reason == "wrong_language"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--qa", type=Path, help="a finished qa/ stage folder: its questions as their own rewrites")
    parser.add_argument("--offsets", type=int, default=5, help="stems 1..K places later as rewrites")
    args = parser.parse_args()
    start = time.perf_counter()
    flagged("en", "What is this?", "What is this?")  # loads the model and one calibration
    print(f"identifier loaded in {time.perf_counter() - start:.2f} s")
    all_stems = {language: stems(language) for language in LANGUAGES}
    count = sum(len(s) for s in all_stems.values())
    start = time.perf_counter()
    own = [(lang, stem) for lang, texts in all_stems.items() for stem in texts if flagged(lang, stem, stem)]
    seconds = time.perf_counter() - start
    print(f"template stems as their own rewrite: {len(own)} of {count} flagged {own[:5]}")
    print(f"  {1000 * seconds / count:.2f} ms per check (including the first use of each language's calibration)")
    if args.qa:
        records = [json.loads(line) for path in sorted(args.qa.glob("*/part-*.jsonl")) for line in path.open()]
        questions = sorted({(r["language"], r["question"]) for r in records})
        hits = [q for q in questions if flagged(q[0], q[1], q[1])]
        print(f"{args.qa}: {len(records)} records, {len(questions)} distinct questions "
              f"in {len({q[0] for q in questions})} languages: {len(hits)} flagged {hits[:5]}")  # fmt: skip
    pairs = hits = 0
    by_language: Counter = Counter()
    for language, texts in all_stems.items():
        for offset in range(1, args.offsets + 1):
            for index, template in enumerate(texts):
                pairs += 1
                if flagged(language, template, texts[(index + offset) % len(texts)]):
                    hits += 1
                    by_language[language] += 1
    print(f"stems as rewrites of other stems (offsets 1..{args.offsets}): {hits} of {pairs} flagged "
          f"({100 * hits / pairs:.2f} %); by language: {dict(by_language.most_common())}")  # fmt: skip
    for language in sorted({pair[0] for pair in DRIFT_PAIRS}):
        texts = all_stems[language]
        good = sum(flagged(language, t, r) for t in texts for r in DRIFT_QUESTIONS[language])
        print(f"{language}: hand-written {language} rewrites of its {len(texts)} stems: "
              f"{good} of {len(texts) * len(DRIFT_QUESTIONS[language])} flagged (false positives)")  # fmt: skip
    for language, drift in DRIFT_PAIRS:
        texts = all_stems[language]
        caught = [sum(flagged(language, t, r) for t in texts) for r in DRIFT_QUESTIONS[drift]]
        total = len(texts) * len(caught)
        print(f"{language}→{drift}: {sum(caught)} of {total} caught ({100 * sum(caught) / total:.0f} %); "
              f"per question (of {len(texts)} stems): {caught}")  # fmt: skip


if __name__ == "__main__":
    main()
