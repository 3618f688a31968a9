"""The shard contract: the one thing data_gen and culturalpangea share.

data_gen writes WebDataset shards; training and evaluation read them. Neither half imports the
other: both import this leaf package, which imports neither (`make lint` checks it with
import-linter). It holds what the two sides must agree on and nothing else:

- `tokens`: the strings with a meaning to the model (`<image>`, the ChatML turn markers);
- `sample`: one sample's JSON (LLaVA conversation format) and its checks;
- `schema`: the declared type of every JSON field (the features of the dataset card beside the shards);
- `manifest`: the `manifest.json` / `sizes.json` beside the shards, written and read with checks;
- `atomic`: file writes a crash cannot tear, used by every writer on both sides.
"""
