"""Scoring functions for the culture benchmarks, one module per kind of answer.

- `mcq`: option-letter parsing that never guesses (an unparseable answer is counted, not drawn);
- `yesno`: true/false answers with a multilingual yes/no vocabulary;
- `exact`: exact match and MaXM's relaxed accuracy (VQA-style answer cleaning);
- `tokenize`: the CJK/Thai-aware tokenizer every n-gram metric shares;
- `bleu` (sacrebleu), `rouge` (ROUGE-L as in the COCO caption evaluation), `cider` (CIDEr-D as in
  the COCO caption evaluation), all on the same tokens and with no Java;
- `entity`: MERLIN entity-name accuracy.
"""
