"""Stage 3, `qa`: template question-answer pairs (open-ended and multiple choice) in the countries' languages.

`question_templates` loads the per-language templates (`templates/<lang>.json`); `answer_texts`
writes a fact's value the way a speaker of the language does (Babel); `generate` makes the pairs
and distractors; `conversation` renders a record as its LLaVA conversation (refine and filter use
it too); `stage` is the driver, writing resumable parts.
"""
